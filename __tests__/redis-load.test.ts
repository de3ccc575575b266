import './support/stash-data.js'
import express from 'express'
import { Agent, request as httpRequest, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import request from 'supertest'
import { createStash, redisAdapter, type StashMiddleware } from '../lib/index.js'
import { cookiePair, sleep } from './support/http.js'
import { startRedis, type RedisServer } from './support/redis-server.js'

// A bounded load test, loopback only: 20 clients run a fixed sequence of reads, writes and
// update() increments concurrently while Redis is restarted once. Afterwards every acknowledged
// write is present, no failed write landed, and every counter equals its acknowledged increments.

/** Bound of every store call (redisAdapter `timeout`). */
const TIMEOUT = 500
/**
 * Longest a request may take: a modifying request makes two store calls (load, then write or
 * compare-and-set), each bounded by TIMEOUT, plus a margin for a loaded CI machine.
 */
const REQUEST_LIMIT = 2 * TIMEOUT + 1000
/** Past this the HTTP client gives up on a request and records it as hung (status 0). */
const HANG_LIMIT = 5000
const CLIENTS = 20
const OPS_PER_CLIENT = 100
const TOTAL = CLIENTS * OPS_PER_CLIENT
/** Redis is restarted once this many requests have finished (about a third of the run). */
const RESTART_AFTER = Math.floor(TOTAL / 3)

type Op = { kind: 'read' } | { kind: 'set'; key: 'a' | 'b'; value: string } | { kind: 'hit' }

interface Reply {
  status: number
  body: unknown
  ms: number
  error?: string
}

interface ClientLog {
  cookie: string
  /** Last value of each key whose `/set` was acknowledged (2xx). */
  a: string | undefined
  b: string | undefined
  /** Number of acknowledged `/hit`s. */
  hits: number
  /** Reads or hit answers that disagreed with the acknowledged state at that moment. */
  mismatches: string[]
}

let server: RedisServer
let stash: StashMiddleware
let listener: Server | undefined
const agent = new Agent({ keepAlive: true, maxSockets: CLIENTS * 2 })
const stashErrors: { code?: string; message?: string }[] = []

beforeAll(async () => {
  // AOF with an fsync before every reply: whatever Redis acknowledged survives a SIGKILL.
  // These args come after the support code's `--appendonly no`, so they win (checked below).
  server = await startRedis({ args: ['--appendonly', 'yes', '--appendfsync', 'always'] })
  stash = createStash({ secret: 's', storedKeys: ['a', 'b', 'hits'], adapter: redisAdapter(server.url, { timeout: TIMEOUT }) })
  stash.on('error', (err: { code?: string; message?: string }) => stashErrors.push(err))
  const app = express()
  app.use(stash)
  app.get('/', (req, res) => {
    res.json(req.stash)
  })
  app.post('/set/:key/:value', (req, res) => {
    const { key, value } = req.params
    if (key !== 'a' && key !== 'b') return void res.status(404).json({ error: 'unknown key' })
    req.stash[key] = value
    res.json({ ok: true })
  })
  app.post('/hit', async (req, res) => {
    res.json({ hits: await req.stash.update('hits', (n) => ((n as number | undefined) ?? 0) + 1) })
  })
  app.use(
    (
      err: { status?: number; code?: string; message?: string },
      _req: express.Request,
      res: express.Response,
      _next: express.NextFunction,
    ) => {
      res.status(err.status ?? 500).json({ code: err.code, message: err.message })
    },
  )
  listener = app.listen(0, '127.0.0.1')
  await new Promise<void>((resolve, reject) => {
    listener!.once('listening', resolve)
    listener!.once('error', reject)
  })
})

afterAll(async () => {
  agent.destroy()
  if (listener) {
    listener.closeAllConnections()
    await new Promise((resolve) => listener!.close(resolve))
  }
  await stash?.close()
  await server?.stop()
})

/** One request over the keep-alive agent; never rejects (a transport failure is status 0). */
function send(method: 'GET' | 'POST', path: string, cookie: string): Promise<Reply> {
  const port = (listener!.address() as AddressInfo).port
  const started = Date.now()
  return new Promise((resolve) => {
    const done = (status: number, body: unknown, error?: string): void =>
      resolve({ status, body, ms: Date.now() - started, ...(error === undefined ? {} : { error }) })
    const req = httpRequest({ host: '127.0.0.1', port, method, path, agent, headers: { Cookie: cookie } }, (res) => {
      let text = ''
      res.setEncoding('utf8')
      res.on('data', (chunk: string) => (text += chunk))
      res.on('end', () => {
        let body: unknown = text
        try {
          body = JSON.parse(text)
        } catch {
          // not JSON: keep the text for the failure message
        }
        done(res.statusCode ?? 0, body)
      })
      res.on('error', (err) => done(0, text, err.message))
    })
    req.setTimeout(HANG_LIMIT, () => req.destroy(new Error(`no answer within ${HANG_LIMIT} ms`)))
    req.on('error', (err) => done(0, undefined, err.message))
    req.end()
  })
}

/** A fixed, reproducible sequence of operations for one client (xorshift32 seeded by its index). */
function operations(client: number): Op[] {
  let seed = 0x9e3779b9 ^ (client + 1)
  const random = (): number => {
    seed ^= seed << 13
    seed ^= seed >>> 17
    seed ^= seed << 5
    return (seed >>> 0) / 2 ** 32
  }
  return Array.from({ length: OPS_PER_CLIENT }, (_, i): Op => {
    const r = random()
    if (r < 0.25) return { kind: 'read' }
    if (r < 0.5) return { kind: 'set', key: 'a', value: `c${client}-a${i}` }
    if (r < 0.75) return { kind: 'set', key: 'b', value: `c${client}-b${i}` }
    return { kind: 'hit' }
  })
}

/** The stash a client should see: its acknowledged state (a key never acknowledged is absent). */
function expected(log: ClientLog): Record<string, unknown> {
  return {
    ...(log.a === undefined ? {} : { a: log.a }),
    ...(log.b === undefined ? {} : { b: log.b }),
    ...(log.hits === 0 ? {} : { hits: log.hits }),
  }
}

it('keeps every acknowledged write and counts every acknowledged increment across a Redis restart under load', async () => {
  expect(await server.cli('CONFIG', 'GET', 'appendonly')).toBe('appendonly\nyes')
  expect(await server.cli('CONFIG', 'GET', 'appendfsync')).toBe('appendfsync\nalways')

  // Each client gets its cookie from one successful write, which counts as acknowledged.
  const logs: ClientLog[] = []
  for (let c = 0; c < CLIENTS; c++) {
    const value = `c${c}-init`
    const res = await request(listener!).post(`/set/a/${value}`).expect(200)
    logs.push({ cookie: cookiePair(res), a: value, b: undefined, hits: 0, mismatches: [] })
  }

  const statuses = new Map<string, number>() // "<status> <op kind>" -> count
  const slow: string[] = []
  const transport: string[] = []
  let finished = 0
  let reachedRestartPoint: () => void = () => {}
  const restartPoint = new Promise<void>((resolve) => (reachedRestartPoint = resolve))

  const runClient = async (c: number): Promise<void> => {
    const log = logs[c]!
    for (const op of operations(c)) {
      const path = op.kind === 'read' ? '/' : op.kind === 'hit' ? '/hit' : `/set/${op.key}/${op.value}`
      const reply = await send(op.kind === 'read' ? 'GET' : 'POST', path, log.cookie)
      const tally = `${reply.status} ${op.kind}`
      statuses.set(tally, (statuses.get(tally) ?? 0) + 1)
      if (reply.ms > REQUEST_LIMIT) slow.push(`client ${c} ${path}: ${reply.ms} ms (status ${reply.status})`)
      if (reply.status === 0) transport.push(`client ${c} ${path}: ${reply.error}`)
      if (reply.status >= 200 && reply.status < 300) {
        // Sequential per client, so a successful read sees exactly what was acknowledged so far,
        // and a successful increment answers the acknowledged count plus one.
        if (op.kind === 'set') log[op.key] = op.value
        if (op.kind === 'hit') {
          log.hits++
          const hits = (reply.body as { hits?: unknown }).hits
          if (hits !== log.hits) log.mismatches.push(`hit answered ${String(hits)}, acknowledged ${log.hits}`)
        }
        if (op.kind === 'read' && JSON.stringify(reply.body) !== JSON.stringify(expected(log))) {
          log.mismatches.push(`read ${JSON.stringify(reply.body)}, acknowledged ${JSON.stringify(expected(log))}`)
        }
      }
      if (++finished === RESTART_AFTER) reachedRestartPoint()
    }
  }

  const started = Date.now()
  const clients = Promise.all(logs.map((_, c) => runClient(c)))
  const oldPid = server.pid
  let restartMs = 0
  const restart = restartPoint.then(async () => {
    const from = Date.now()
    // A hard kill with commands in flight would make their outcome unknowable for any client:
    // a command may have been executed while its reply was lost, so a request that failed might
    // still have written. Pausing writes first removes that case: a paused command is never
    // executed (the pause outlasts the kill), and after ~150 ms every command executed before
    // the pause has had its reply sent, and, with `appendfsync always`, its AOF entry fsynced.
    // Every request is then either acknowledged and durable, or failed and did not write.
    await server.cli('CLIENT', 'PAUSE', '10000', 'WRITE')
    await sleep(150)
    await server.kill()
    await server.restart() // same port, same data dir: the AOF is replayed
    restartMs = Date.now() - from
  })
  await Promise.all([clients, restart])
  const runMs = Date.now() - started
  expect(server.pid).toBeDefined()
  expect(server.pid).not.toBe(oldPid)
  expect(await server.cli('CONFIG', 'GET', 'appendonly')).toBe('appendonly\nyes')

  // Redis is back: wait until a request through the app succeeds.
  const deadline = Date.now() + 10_000
  while ((await send('GET', '/', logs[0]!.cookie)).status !== 200) {
    if (Date.now() > deadline) throw new Error('the app did not recover within 10 s after the restart')
    await sleep(100)
  }

  const count = (predicate: (status: number) => boolean): number =>
    [...statuses].filter(([tally]) => predicate(Number(tally.split(' ')[0]))).reduce((sum, [, n]) => sum + n, 0)
  const ok = count((s) => s >= 200 && s < 300)
  const unavailable = count((s) => s === 503)
  console.log(
    `redis-load: ${TOTAL} requests in ${runMs} ms (restart took ${restartMs} ms): ${ok} 2xx, ${unavailable} 503; ` +
      JSON.stringify(Object.fromEntries([...statuses].sort())),
  )

  // Every request finished, in time, with success or 503 (never a 500, never a transport error).
  expect(transport).toEqual([])
  expect(slow).toEqual([])
  expect(count(() => true)).toBe(TOTAL)
  expect(count((s) => !(s >= 200 && s < 300) && s !== 503)).toBe(0)
  // The outage was really exercised, writes included, and most requests succeeded.
  expect(unavailable).toBeGreaterThan(0)
  expect((statuses.get('503 set') ?? 0) + (statuses.get('503 hit') ?? 0)).toBeGreaterThan(0)
  expect(ok).toBeGreaterThan(TOTAL * 0.75)

  // Reads during the run agreed with the acknowledged state.
  expect(logs.flatMap((log, c) => log.mismatches.map((m) => `client ${c}: ${m}`))).toEqual([])
  // Afterwards every client's stash is exactly its acknowledged state.
  const actual: Record<string, unknown>[] = []
  for (const log of logs) {
    const reply = await send('GET', '/', log.cookie)
    expect(reply.status).toBe(200)
    actual.push(reply.body as Record<string, unknown>)
  }
  expect(actual).toEqual(logs.map(expected))
  expect(stashErrors.filter((err) => err.code === 'ERR_STASH_CORRUPT')).toEqual([])
}, 45_000)
