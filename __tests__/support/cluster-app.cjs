'use strict'
/**
 * A `node:cluster` app for the multi-process test: the primary relays cross-node recovery
 * (clusterPrimary) and forks WORKERS workers sharing PORT; each worker runs Express on the built
 * package with `memoryAdapter({ peers: 'cluster' })`. GET /count increments `count` and answers
 * `{ count, worker }`. The primary prints `{"ready":PORT}` once every worker listens.
 */
const cluster = require('node:cluster')
const { clusterPrimary, createStash, memoryAdapter } = require('../../dist/cjs/index.js')

const port = Number(process.env.PORT)
const workers = Number(process.env.WORKERS ?? 4)

if (cluster.isPrimary) {
  clusterPrimary()
  let listening = 0
  cluster.on('listening', () => {
    if (++listening === workers) process.stdout.write(JSON.stringify({ ready: port }) + '\n')
  })
  cluster.on('exit', (worker, code, signal) => console.error(`worker ${worker.id} exited (${code ?? signal})`))
  for (let i = 0; i < workers; i++) cluster.fork()
} else {
  const express = require('express')
  const stash = createStash({
    secret: 'cluster test secret',
    storedKeys: ['count'],
    adapter: memoryAdapter({ peers: 'cluster', peerTimeout: Number(process.env.PEER_TIMEOUT ?? 500) }),
  })
  stash.on('error', (err) => console.error('stash error event:', err))
  const app = express()
  app.use(stash)
  app.get('/count', (req, res) => {
    req.stash.count = (req.stash.count ?? 0) + 1
    res.json({ count: req.stash.count, worker: cluster.worker.id })
  })
  app.use((err, _req, res, _next) => res.status(err.status ?? 500).json({ code: err.code ?? null, message: String(err.message) }))
  app.listen(port, '127.0.0.1')
}
