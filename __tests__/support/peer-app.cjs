'use strict'
/**
 * One node of a multi-process test: an Express app on the built package (dist/cjs), with the
 * memory adapter recovering records from HTTP peers. Started by support/peer-nodes.ts.
 *
 * Env: PORT, NODE_NAME (reported in `x-node`), PEERS (comma-separated peer endpoint URLs, this
 * node's included), PEER_TIMEOUT (ms). Routes: GET /count increments `count`; GET /peek reads it,
 * with the records held, the peer requests this node answered and its RSS; POST /_stash/peer is
 * the peer endpoint. Prints `{"ready":PORT}` once listening.
 */
const express = require('express')
const { createStash, memoryAdapter } = require('../../dist/cjs/index.js')

const port = Number(process.env.PORT)
const self = `http://127.0.0.1:${port}/_stash/peer`
const adapter = memoryAdapter({
  peers: { self, urls: process.env.PEERS.split(',') },
  peerTimeout: Number(process.env.PEER_TIMEOUT),
})
const stash = createStash({ secret: 'multi-process test secret', storedKeys: ['count'], adapter })
stash.on('error', (err) => console.error('stash error event:', err))

let peerRequests = 0
const app = express()
app.use('/_stash/peer', (req, res) => (peerRequests++, adapter.peerHandler(req, res)))
app.use((req, res, next) => {
  res.setHeader('x-node', process.env.NODE_NAME)
  next()
})
app.use(stash)
app.get('/count', (req, res) => {
  req.stash.count = (req.stash.count ?? 0) + 1
  res.json({ count: req.stash.count })
})
app.get('/peek', (req, res) =>
  res.json({ count: req.stash.count ?? null, records: adapter.size, peerRequests, rss: process.memoryUsage().rss }),
)
app.use((err, _req, res, _next) => res.status(err.status ?? 500).json({ code: err.code ?? null, message: String(err.message) }))
app.listen(port, '127.0.0.1', () => process.stdout.write(JSON.stringify({ ready: port }) + '\n'))
