/**
 * The counter of the main example on a 4-worker `node:cluster`, with the memory adapter and
 * cross-node recovery: the primary relays, each worker moves a client's stash to itself when
 * the round-robin sends the client there. No Redis needed.
 *
 *   npm run example:cluster                   # http://localhost:3000, 4 workers
 *   curl -c jar -b jar -H 'connection: close' localhost:3000/count   # again and again
 */
import cluster from 'node:cluster'
import express from 'express'
import { clusterPrimary, createStash, memoryAdapter } from 'express-stash'

declare module 'express-stash' {
  interface StashData {
    count: number
  }
}

const port = Number(process.env.PORT ?? 3000)
const WORKERS = 4

if (cluster.isPrimary) {
  clusterPrimary() // relays the workers' recovery messages
  for (let i = 0; i < WORKERS; i++) cluster.fork()
  console.log(`express-stash cluster example: ${WORKERS} workers on http://localhost:${port} (memory, cross-node recovery)`)
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      for (const worker of Object.values(cluster.workers ?? {})) worker?.kill(signal)
    })
  }
} else {
  const stash = createStash({
    adapter: memoryAdapter({ peers: 'cluster' }),
    secret: process.env.STASH_SECRET ?? 'example secret: set STASH_SECRET in production',
    storedKeys: ['count'],
    ttl: 300,
  })

  const app = express()
  app.use(stash)
  app.get('/count', (req, res) => {
    req.stash.count = (req.stash.count ?? 0) + 1
    res.json({ count: req.stash.count })
  })

  const server = app.listen(port)
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      server.close()
      void stash.close()
    })
  }
}
