/**
 * The counter of the main example on a 4-worker `node:cluster`, with the memory adapter and
 * cross-node recovery: the primary relays, each worker moves a client's stash to itself when
 * the round-robin sends the client there. No Redis needed.
 *
 *   npm run example:cluster                   # http://localhost:3000, 4 workers
 *   curl -c jar -b jar -H 'connection: close' localhost:3000/count   # again and again
 *
 * SIGTERM or SIGINT to the primary (or Ctrl-C, which reaches every process) shuts the workers
 * down gracefully, and then the primary: every process exits by itself, with code 0.
 */
import cluster from 'node:cluster'
import { createServer } from 'node:http'
import express from 'express'
import { clusterPrimary, createStash, memoryAdapter } from 'express-stash'
import { forceExitAfter, listenAddress, shutDownOnSignals, SHUTDOWN_FORCE_MS, type ExampleApp } from './serve'

declare module 'express-stash' {
  interface StashData {
    count: number
  }
}

const WORKERS = 4
/** The primary's request to a worker to shut down (a message: a second signal could kill a worker that is exiting). */
const STOP = 'express-stash-example:stop'

/** Builds a worker's app: `GET /count` counts, and answers which worker did. */
export function createApp(secret?: string): ExampleApp & { app: express.Express } {
  const stash = createStash({
    adapter: memoryAdapter({ peers: 'cluster' }),
    secret: secret ?? process.env.STASH_SECRET ?? 'example secret: set STASH_SECRET in production',
    storedKeys: ['count'],
    ttl: 300,
  })
  const app = express()
  app.use(stash)
  app.get('/count', (req, res) => {
    req.stash.count = (req.stash.count ?? 0) + 1
    res.json({ count: req.stash.count, worker: cluster.worker?.id })
  })
  return { app, stash }
}

/**
 * The primary: forks the workers, relays their recovery messages, prints the URL once all of
 * them listen, and on SIGTERM / SIGINT asks each worker to stop. It sends a message rather than
 * the signal: Ctrl-C reaches every worker already, and a second signal arriving while a worker
 * exits would kill it. Once the last worker has exited the relay is closed and nothing keeps
 * the primary alive; it exits with code 1 if a worker did.
 */
function primary(): void {
  const relay = clusterPrimary()
  const { host } = listenAddress()
  const alive = new Set<number>()
  let listening = 0
  cluster.on('listening', (_worker, address) => {
    if (++listening !== WORKERS) return
    const url = `http://${host ?? 'localhost'}:${address.port}`
    console.log(`express-stash cluster example listening on ${url} (${WORKERS} workers, memory, cross-node recovery)`)
  })
  cluster.on('exit', (worker, code, signal) => {
    alive.delete(worker.id)
    if (code !== 0) {
      console.error(`express-stash cluster example: worker ${worker.id} exited with ${signal ?? `code ${code}`}`)
      process.exitCode = 1
    }
    if (alive.size === 0) relay.close()
  })
  for (let i = 0; i < WORKERS; i++) alive.add(cluster.fork().id)

  let stopping = false
  const stop = (signal: NodeJS.Signals): void => {
    if (stopping) return
    stopping = true
    console.log(`express-stash cluster example: ${signal}, stopping ${alive.size} workers`)
    // A worker that Ctrl-C already reached ignores the message; one that has left the cluster gets none.
    for (const worker of Object.values(cluster.workers ?? {})) {
      if (worker?.isConnected()) worker.send({ type: STOP, signal }, () => {})
    }
    // After the workers' own last resort: what is still alive then is killed.
    forceExitAfter(SHUTDOWN_FORCE_MS + 500, () => {
      for (const worker of Object.values(cluster.workers ?? {})) worker?.process.kill('SIGKILL')
    })
  }
  process.on('SIGTERM', stop)
  process.on('SIGINT', stop)
}

/** A worker: serves the app on the shared port; at shutdown it leaves the cluster (its IPC channel would keep it alive). */
function worker(): void {
  const { port, host } = listenAddress()
  const example = createApp()
  const server = createServer(example.app).listen({ port, host })
  const stop = shutDownOnSignals(server, example, () => cluster.worker?.disconnect())
  process.on('message', (message: { type?: unknown; signal?: NodeJS.Signals }) => {
    if (message?.type === STOP) stop(message.signal ?? 'SIGTERM')
  })
}

if (require.main === module) {
  if (cluster.isPrimary) primary()
  else worker()
}
