import './support/stash-data.js'
import express from 'express'
import request, { type Response } from 'supertest'
import { createStash, redisAdapter, type StashMiddleware, type StashOptions } from '../lib/index.js'
import { recordKeyOf } from '../lib/values/ids.js'
import { cookiePair, idOf, sleep } from './support/http.js'
import { startRedis, type RedisServer } from './support/redis-server.js'

// Fault injection on a real redis-server: killed, paused, slowed, unreachable, out of memory,
// a read-only replica, garbage under a key, scripts flushed. Each test asserts status codes,
// a latency bound, and that nothing stored was lost or overwritten.
const TIMEOUT = 500
const BOUND = TIMEOUT + 700 // the adapter timeout plus a margin for a loaded machine

let server: RedisServer
const opened: StashMiddleware[] = []

beforeAll(async () => {
  server = await startRedis({ args: ['--enable-debug-command', 'yes'] })
})

afterAll(async () => {
  await Promise.all(opened.map((stash) => stash.close()))
  await server?.stop()
})

function app(options: StashOptions = {}, url = server.url) {
  const events: string[] = []
  const stash = createStash({ secret: 's', storedKeys: ['count'], adapter: redisAdapter(url, { timeout: TIMEOUT }), ...options })
  opened.push(stash)
  stash.on('error', (err: { code?: string }) => events.push(`error:${err.code}`))
  stash.on('unavailable', () => events.push('unavailable'))
  stash.on('available', () => events.push('available'))
  const server = express().use(stash)
  server.get('/count', (req, res) =>
    res.json({ count: (req.stash.count = (req.stash.count ?? 0) + 1), available: req.stash.available }),
  )
  server.get('/', (req, res) => res.json(req.stash))
  server.use(
    (err: { status?: number; code?: string }, _req: express.Request, res: express.Response, _next: express.NextFunction) => {
      res.status(err.status ?? 500).json({ code: err.code })
    },
  )
  return { server, stash, events }
}

/** Sends a request and returns it with how long it took. */
async function timed(send: () => PromiseLike<Response>): Promise<{ res: Response; ms: number }> {
  const started = Date.now()
  const res = await send()
  return { res, ms: Date.now() - started }
}

async function until(condition: () => Promise<boolean>, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error('condition not met in time')
    await sleep(100)
  }
}

it('killed and restarted: 503 within the bound, events, then recovery without restarting the app', async () => {
  const { server: web, events } = app()
  const cookie = cookiePair(await request(web).get('/count').expect(200))
  await server.kill()
  try {
    const attempts = await Promise.all([1, 2, 3].map(() => timed(() => request(web).get('/count').set('Cookie', cookie))))
    for (const { res, ms } of attempts) {
      expect({ status: res.status, code: res.body.code }).toEqual({ status: 503, code: 'ERR_STASH_UNAVAILABLE' })
      expect(ms).toBeLessThan(BOUND)
    }
  } finally {
    await server.restart()
  }
  // The restarted server is empty (no persistence here): the old cookie now gets a fresh stash.
  await until(async () => (await request(web).get('/count').set('Cookie', cookie)).status === 200)
  expect(events).toContain('unavailable')
  expect(events.indexOf('available')).toBeGreaterThan(events.indexOf('unavailable'))
})

it.each([
  ['CLIENT PAUSE', () => server.cli('CLIENT', 'PAUSE', '1500', 'ALL')],
  ['DEBUG SLEEP', () => void server.cli('DEBUG', 'SLEEP', '1.5')],
  ['a stopped process (SIGSTOP)', () => server.pause().then(() => sleep(1500).then(() => server.resume()))],
])('stalled by %s: 503 within the bound, then the data is intact', async (_name, stall) => {
  const { server: web } = app()
  const cookie = cookiePair(await request(web).get('/count').expect(200, { count: 1, available: true }))
  const stalled = stall()
  await sleep(100)
  const { res, ms } = await timed(() => request(web).get('/count').set('Cookie', cookie))
  expect({ status: res.status, code: res.body.code }).toEqual({ status: 503, code: 'ERR_STASH_UNAVAILABLE' })
  expect(ms).toBeLessThan(BOUND)
  await stalled
  await until(async () => (await request(web).get('/').set('Cookie', cookie)).status === 200)
  await request(web).get('/count').set('Cookie', cookie).expect(200, { count: 2, available: true })
})

it("onUnavailable 'continue': the handler runs, its write is dropped and reported, the real data survives", async () => {
  const { server: web, events } = app({ onUnavailable: 'continue' })
  const cookie = cookiePair(await request(web).get('/count').expect(200))
  const paused = server.cli('CLIENT', 'PAUSE', '1200', 'ALL')
  await sleep(100)
  await request(web).get('/count').set('Cookie', cookie).expect(200, { count: 1, available: false })
  await paused
  await sleep(1200)
  expect(events).toContain('error:ERR_STASH_UNAVAILABLE')
  await until(async () => (await request(web).get('/').set('Cookie', cookie)).status === 200)
  await request(web).get('/').set('Cookie', cookie).expect(200, { count: 1 })
})

it('unreachable: 503 within the bound, no crash', async () => {
  const { server: web } = app({}, 'redis://127.0.0.1:1')
  const cookie = cookiePair(await request(app().server).get('/count'))
  const { res, ms } = await timed(() => request(web).get('/count').set('Cookie', cookie))
  expect({ status: res.status, code: res.body.code }).toEqual({ status: 503, code: 'ERR_STASH_UNAVAILABLE' })
  expect(ms).toBeLessThan(BOUND)
})

it('out of memory: the write fails with a 503 and the stored value stays intact', async () => {
  const { server: web } = app()
  const cookie = cookiePair(await request(web).get('/count').expect(200))
  await server.cli('CONFIG', 'SET', 'maxmemory-policy', 'noeviction')
  await server.cli('CONFIG', 'SET', 'maxmemory', '1')
  try {
    const { res } = await timed(() => request(web).get('/count').set('Cookie', cookie))
    expect(res.status).toBe(503)
    expect(['ERR_STASH_WRITE', 'ERR_STASH_UNAVAILABLE']).toContain(res.body.code)
    // A load is a plain read, which Redis serves out of memory too.
    await request(web).get('/').set('Cookie', cookie).expect(200, { count: 1 })
  } finally {
    await server.cli('CONFIG', 'SET', 'maxmemory', '0')
  }
  await request(web).get('/').set('Cookie', cookie).expect(200, { count: 1 })
})

it('a read-only replica: writes fail with a 503, the primary keeps its value', async () => {
  const replica = await startRedis({ args: ['--replicaof', '127.0.0.1', String(server.port)] })
  try {
    const primary = app()
    const cookie = cookiePair(await request(primary.server).get('/count').expect(200))
    await until(async () => (await replica.cli('DBSIZE')) !== '0')
    const onReplica = app({}, replica.url)
    const res = await request(onReplica.server).get('/count').set('Cookie', cookie)
    expect(res.status).toBe(503)
    await request(primary.server).get('/').set('Cookie', cookie).expect(200, { count: 1 })
  } finally {
    await replica.stop()
  }
})

it('garbage under a record key: removed, reported, and the request gets a fresh stash', async () => {
  const { server: web, events } = app()
  const cookie = cookiePair(await request(web).get('/count').expect(200))
  const key = 'stash:' + recordKeyOf(idOf(cookie), undefined)
  await server.cli('SET', key, 'not a hash')
  await request(web).get('/').set('Cookie', cookie).expect(200, {})
  expect(events).toContain('error:ERR_STASH_CORRUPT')
  expect(await server.cli('EXISTS', key)).toBe('0')
})

it("a value without a MAC planted in Redis (the memory adapter's plain form): ignored, removed, reported", async () => {
  const { server: web, events } = app()
  const cookie = cookiePair(await request(web).get('/count').expect(200, { count: 1, available: true }))
  const key = 'stash:' + recordKeyOf(idOf(cookie), undefined)
  await server.cli('HSET', key, 'count', '=.41')
  await request(web).get('/count').set('Cookie', cookie).expect(200, { count: 1, available: true })
  expect(events).toContain('error:ERR_STASH_CORRUPT')
  expect(await server.cli('HGET', key, 'count')).not.toBe('=.41')
})

it('SCRIPT FLUSH: the scripts are loaded again and nothing is lost', async () => {
  const { server: web } = app()
  const cookie = cookiePair(await request(web).get('/count').expect(200))
  await server.cli('SCRIPT', 'FLUSH')
  await request(web).get('/count').set('Cookie', cookie).expect(200, { count: 2, available: true })
  await server.cli('SCRIPT', 'FLUSH')
  await request(web).get('/').set('Cookie', cookie).expect(200, { count: 2 })
})

it('a stalled server never accumulates more than maxPending calls: the rest fail at once', async () => {
  const adapter = redisAdapter(server.url, { timeout: TIMEOUT, maxPending: 2 })
  await adapter.write('pending', { set: { a: '1' }, del: [], expiresAt: { a: Date.now() + 60_000 } })
  await server.pause()
  try {
    const started = Date.now()
    const calls = Array.from({ length: 5 }, () =>
      adapter.load('pending', ['a']).catch((err: Error) => ({ err, ms: Date.now() - started })),
    )
    const outcomes = (await Promise.all(calls)) as { err: Error; ms: number }[]
    const refused = outcomes.filter((o) => o.err.message.includes('maxPending'))
    expect(refused).toHaveLength(3)
    for (const { ms } of refused) expect(ms).toBeLessThan(100)
    expect(outcomes.filter((o) => o.err.message.includes(`within ${TIMEOUT} ms`))).toHaveLength(2)
  } finally {
    await server.resume()
  }
  expect((await adapter.load('pending', ['a']))?.values).toEqual(['1'])
  await adapter.close()
})
