/**
 * One benchmark server: an Express 5 app for one scenario, in a process of its own.
 *
 *   node --import tsx bench/server.ts <scenario> <port> <redis url>
 *
 * Every scenario answers the same two routes with the same JSON shape, `{ "count": n }`:
 *
 *   GET /read    reads the client's counter and changes nothing
 *   GET /write   increments the client's counter; a client without a cookie gets one here,
 *                which is how bench/run.ts obtains the cookies it sends
 *
 * Scenarios (see SCENARIOS): bare Express, also with one middleware that only calls `next()`
 * (the floor of any middleware); express-session with its MemoryStore and with
 * connect-redis (resave: false, saveUninitialized: false); one raw node-redis GET per request,
 * and one GET + one SET per request, on both routes (the floor of a 1- and a 2-round-trip
 * design); express-stash with its memory adapter (also with a subscriber on its tracing channels,
 * the cost of publishing them) and with redisAdapter on a node-redis client,
 * without and with its near cache (`cache: true`), the latter also as two processes of
 * node:cluster sharing the port (each client's requests land on both, so every write on one
 * invalidates the other's copy).
 * The process prints `listening` once it accepts connections, and exits on SIGTERM.
 * Express runs with its defaults (ETag included): the same response path in every scenario.
 */
import cluster from 'node:cluster'
import { tracingChannel } from 'node:diagnostics_channel'
import { randomUUID } from 'node:crypto'
import { RedisStore } from 'connect-redis'
import { parse as parseCookies } from 'cookie'
import express, { type Request, type RequestHandler, type Response } from 'express'
import session from 'express-session'
import { createClient } from 'redis'
import type * as ExpressStash from '../lib/index.js'
import type { Stash, StashCommitContext, StashLoadContext } from '../lib/index.js'
import { PAYLOAD_CHARS, PAYLOAD_KEYS, SCENARIOS, type Scenario } from './support.js'

// express-stash as users run it: the JavaScript that tsc compiles from lib/, which bench/run.ts
// builds and names in BENCH_STASH_MODULE. Loaded through tsx, lib/*.ts would carry esbuild's
// keepNames helper into every closure the library creates per request, a cost no user pays.
// eslint-disable-next-line @typescript-eslint/no-require-imports -- a module named at run time, loaded as CommonJS
const { createStash, redisAdapter } = require(process.env.BENCH_STASH_MODULE ?? '../lib/index.js') as typeof ExpressStash

const SECRET = 'bench-secret-bench-secret-bench-secret'
// Record lifetime, in seconds: connect-redis's default for all, so that no record expires during
// a run (express-stash's default, 300 s, is shorter than a full run).
const TTL = 86_400

/** `/setup` stores a client's first state: by default the same as `/write`. */
type Handlers = RequestHandler | RequestHandler[]
type Routes = { read: Handlers; write: Handlers; setup?: Handlers }
type Counted = { count?: number }

const reply = (res: Response, count: number): void => {
  res.json({ count })
}

/** A raw key per client, from a `raw` cookie issued by /write (parsed like the libraries do). */
function rawKey(req: Request, res: Response): string {
  let id = req.headers.cookie === undefined ? undefined : parseCookies(req.headers.cookie).raw
  if (id === undefined) {
    id = randomUUID()
    res.cookie('raw', id, { httpOnly: true, sameSite: 'lax' })
  }
  return `raw:${id}`
}

async function connectRedis(url: string) {
  const client = createClient({ url })
  client.on('error', (error: Error) => console.error('redis client:', error.message))
  await client.connect()
  return client
}

const PAYLOAD_NAMES = Array.from({ length: PAYLOAD_KEYS }, (_, i) => `k${i}`)

/** The counter kept at the start of a payload value. */
const counterIn = (value: string | undefined): number => (value === undefined ? 0 : Number.parseInt(value, 10))

/** Stores `count` as payload key k0 (PAYLOAD_CHARS characters) and returns it. */
function countInto(data: Record<string, string>, count: number): number {
  data.k0 = String(count).padEnd(PAYLOAD_CHARS, '.')
  return count
}

/** Stores the whole payload, PAYLOAD_KEYS keys of PAYLOAD_CHARS characters, with the counter at 1. */
function fillPayload(data: Record<string, string>): number {
  for (const name of PAYLOAD_NAMES) data[name] = name.padEnd(PAYLOAD_CHARS, '.')
  return countInto(data, 1)
}

/** Builds the read and write handlers of one scenario (and its middleware, on `app`). */
async function routesFor(scenario: Scenario, app: express.Express, redisUrl: string): Promise<Routes> {
  switch (scenario) {
    case 'bare': {
      let count = 0 // no per-client state at all: the ceiling
      return { read: (_req, res) => reply(res, count), write: (_req, res) => reply(res, ++count) }
    }
    case 'bare-middleware': {
      // The floor of any middleware: what one more layer of Express's router costs, doing nothing.
      let count = 0
      app.use((_req, _res, next) => next())
      return { read: (_req, res) => reply(res, count), write: (_req, res) => reply(res, ++count) }
    }
    case 'session-memory':
    case 'session-redis': {
      const client = scenario === 'session-redis' ? await connectRedis(redisUrl) : undefined
      const store = client === undefined ? new session.MemoryStore() : new RedisStore({ client })
      app.use(session({ secret: SECRET, store, resave: false, saveUninitialized: false }))
      const data = (req: Request): Counted => req.session as unknown as Counted
      return {
        read: (req, res) => reply(res, data(req).count ?? 0),
        write: (req, res) => reply(res, (data(req).count = (data(req).count ?? 0) + 1)),
      }
    }
    case 'raw-get': {
      const client = await connectRedis(redisUrl)
      // One round trip on both routes: the write route does not even save its increment.
      const handler =
        (increment: number): RequestHandler =>
        async (req, res) =>
          reply(res, Number((await client.get(rawKey(req, res))) ?? 0) + increment)
      return { read: handler(0), write: handler(1) }
    }
    case 'raw-get-set': {
      const client = await connectRedis(redisUrl)
      // Two round trips on both routes: the read route re-sets the same value, like a touch.
      const handler =
        (increment: number): RequestHandler =>
        async (req, res) => {
          const key = rawKey(req, res)
          const count = Number((await client.get(key)) ?? 0) + increment
          await client.set(key, String(count), { expiration: { type: 'EX', value: TTL } })
          reply(res, count)
        }
      return { read: handler(0), write: handler(1) }
    }
    case 'payload-session-redis': {
      const client = await connectRedis(redisUrl)
      app.use(session({ secret: SECRET, store: new RedisStore({ client }), resave: false, saveUninitialized: false }))
      const data = (req: Request) => req.session as unknown as Record<string, string>
      return {
        read: (req, res) => reply(res, counterIn(data(req).k0)),
        write: (req, res) => reply(res, countInto(data(req), counterIn(data(req).k0) + 1)),
        setup: (req, res) => reply(res, fillPayload(data(req))),
      }
    }
    case 'payload-stash-redis': {
      const stash = createStash({ secret: SECRET, ttl: TTL, adapter: redisAdapter({ client: await connectRedis(redisUrl) }) })
      const data = (req: Request) => req.stash as unknown as Record<string, string>
      // The routes declare the one key they use; the setup route declares the whole payload.
      const one = stash.route({ storedKeys: ['k0'] })
      const all = stash.route({ storedKeys: PAYLOAD_NAMES })
      return {
        read: [one, (req, res) => reply(res, counterIn(data(req).k0))],
        write: [one, (req, res) => reply(res, countInto(data(req), counterIn(data(req).k0) + 1))],
        setup: [all, (req, res) => reply(res, fillPayload(data(req)))],
      }
    }
    case 'stash-memory':
    case 'stash-memory-traced':
    case 'stash-redis':
    case 'stash-redis-cache':
    case 'stash-redis-cache-2p': {
      const client = scenario.startsWith('stash-memory') ? undefined : await connectRedis(redisUrl)
      if (scenario === 'stash-memory-traced') subscribeToTracing()
      const adapter =
        client === undefined ? undefined : redisAdapter(scenario === 'stash-redis' ? { client } : { client, cache: true })
      const stash = createStash({ secret: SECRET, storedKeys: ['count'], ttl: TTL, ...(adapter && { adapter }) })
      app.use(stash)
      const data = (req: Request): Stash<Counted> => req.stash
      return {
        read: (req, res) => reply(res, data(req).count ?? 0),
        write: (req, res) => reply(res, (data(req).count = (data(req).count ?? 0) + 1)),
      }
    }
  }
}

/**
 * A subscriber to every event of both tracing channels of express-stash that reads each context
 * and counts, as the bookkeeping of an APM agent's spans would, without the agent's own costs.
 */
function subscribeToTracing(): void {
  const seen = { events: 0, failed: 0 }
  const note = (context: StashLoadContext | StashCommitContext) => {
    seen.events++
    if (context.outcome === 'error') seen.failed++
  }
  for (const name of ['express-stash:load', 'express-stash:commit']) {
    tracingChannel<StashLoadContext | StashCommitContext>(name).subscribe({
      start: note,
      end: note,
      asyncStart: note,
      asyncEnd: note,
      error: note,
    })
  }
}

async function main(): Promise<void> {
  const [scenario, port, redisUrl = 'redis://127.0.0.1:6379'] = process.argv.slice(2)
  if (!SCENARIOS.includes(scenario as Scenario) || !port) {
    throw new Error(`usage: server.ts <${SCENARIOS.join('|')}> <port> [redis url]`)
  }
  if (scenario === 'stash-redis-cache-2p' && cluster.isPrimary) return twoProcesses()
  const app = express()
  const routes = await routesFor(scenario as Scenario, app, redisUrl)
  app.get('/read', routes.read)
  app.get('/write', routes.write)
  app.get('/setup', routes.setup ?? routes.write)
  app.listen(Number(port), '127.0.0.1', () => (cluster.isWorker ? process.send!('listening') : console.log('listening')))
  process.once('SIGTERM', () => process.exit(0)) // nothing to flush: the driver owns Redis
}

/** The primary of the two-process scenario: two workers share the port; `listening` once both do. */
function twoProcesses(): void {
  const workers = [cluster.fork(), cluster.fork()]
  let listening = 0
  for (const worker of workers) {
    worker.on('message', (message) => {
      if (message === 'listening' && ++listening === workers.length) console.log('listening')
    })
  }
  process.once('SIGTERM', () => {
    for (const worker of workers) worker.kill('SIGTERM')
    process.exit(0)
  })
}

main().catch((error: unknown) => {
  console.error(error)
  process.exit(1)
})
