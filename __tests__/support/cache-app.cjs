'use strict'
/**
 * One node of the near-cache tests: an Express app on the built package (dist/cjs) with
 * `redisAdapter({ cache: true })` on `REDIS_URL`, created from the URL (`CLIENT=url`) or handed a
 * client of its own (`CLIENT=node-redis` or `CLIENT=ioredis`), or a cluster client on the nodes of
 * `REDIS_NODES` (`host:port,...`; `CLIENT=node-redis-cluster` or `CLIENT=ioredis-cluster`). Started by
 * support/peer-nodes.ts.
 *
 * Routes: GET /count increments `count`; GET /peek reads it; both answer `{ count, node, cache }`
 * (`cache` is `stash.stats().cache`). GET /revoke deletes every stash of this instance
 * (`stash.clear()`). Prints `{"ready":PORT}` once the adapter is ready and the app listens; on
 * SIGTERM it closes the server, the stash and its client, and exits by itself.
 */
const express = require('express')
const { createStash, redisAdapter } = require('../../dist/cjs/index.js')

const url = process.env.REDIS_URL
const kind = process.env.CLIENT ?? 'url'

async function clientOf() {
  if (kind === 'url') return undefined
  const nodes = (process.env.REDIS_NODES ?? '').split(',').map((node) => {
    const [host, port] = node.split(':')
    return { host, port: Number(port) }
  })
  if (kind === 'ioredis-cluster') return new (require('ioredis').Cluster)(nodes)
  if (kind === 'node-redis-cluster') {
    const cluster = require('redis').createCluster({
      rootNodes: nodes.map(({ host, port }) => ({ url: `redis://${host}:${port}` })),
    })
    cluster.on('error', () => {})
    await cluster.connect()
    return cluster
  }
  if (kind === 'ioredis') {
    const Redis = require('ioredis')
    return new Redis(url, { lazyConnect: false })
  }
  const client = require('redis').createClient({ url })
  client.on('error', () => {}) // the tests restart the server on purpose
  await client.connect()
  return client
}

async function main() {
  const client = await clientOf()
  const adapter = client === undefined ? redisAdapter({ url, cache: true }) : redisAdapter({ client, cache: true })
  const stash = createStash({ secret: 'near cache test secret', storedKeys: ['count'], ttl: 3600, adapter })
  stash.on('error', (err) => console.error('stash error event:', err))
  const app = express()
  app.use(stash)
  const answer = (req, res) =>
    res.json({ count: req.stash.count ?? null, node: process.env.NODE_NAME, cache: stash.stats().cache })
  app.get('/count', (req, res) => {
    req.stash.count = (req.stash.count ?? 0) + 1
    answer(req, res)
  })
  app.get('/peek', answer)
  app.get('/revoke', async (_req, res) => res.json({ cleared: await stash.clear() }))
  app.use((err, _req, res, _next) => res.status(err.status ?? 500).json({ code: err.code ?? null, message: String(err.message) }))
  await stash.ready(5000)
  const port = Number(process.env.PORT)
  const server = app.listen(port, '127.0.0.1', () => process.stdout.write(JSON.stringify({ ready: port }) + '\n'))
  // A graceful shutdown as the README teaches it: no process.exit(), the process ends once
  // nothing holds it (the cache's own connections and timers included).
  process.once('SIGTERM', async () => {
    server.close()
    await stash.close()
    if (client !== undefined) await (kind.startsWith('ioredis') ? client.quit() : client.close())
  })
}

main().catch((err) => {
  console.error(err)
  process.exit(1)
})
