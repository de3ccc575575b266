/**
 * An app through a Redis outage, over HTTP against a real redis-server: the circuit breaker
 * (fast 503s, one probe at a time, recovery within a second), `'continue'` never dropping a
 * rotation or a logout, and `stash.ready()` at boot.
 */
import './support/stash-data.js'
import express from 'express'
import request from 'supertest'
import { createStash, redisAdapter, type StashAdapter, type StashMiddleware, type StashOptions } from '../lib/index.js'
import { cookiePair, sleep, stashError } from './support/http.js'
import { findFreePort } from './support/redis-process.js'
import { startRedis, type RedisServer } from './support/redis-server.js'

const TIMEOUT = 500

let server: RedisServer
const opened: StashMiddleware[] = []
beforeAll(async () => {
  server = await startRedis()
})
afterAll(async () => {
  await Promise.all(opened.map((stash) => stash.close()))
  await server?.stop()
})

/** Wraps an adapter to count the calls that reach it, and how many are in flight at most. */
function watched(inner: StashAdapter) {
  const seen = { calls: 0, inFlight: 0, mostInFlight: 0 }
  const adapter = Object.create(inner) as StashAdapter
  adapter.load = async (...args) => {
    seen.calls++
    seen.mostInFlight = Math.max(seen.mostInFlight, ++seen.inFlight)
    try {
      return await inner.load(...args)
    } finally {
      seen.inFlight--
    }
  }
  return { adapter, seen }
}

let apps = 0
function app(options: StashOptions = {}) {
  const events: string[] = []
  const prefix = `outage:${++apps}:`
  const { adapter, seen } = watched(redisAdapter(server.url, { timeout: TIMEOUT, prefix }))
  const stash = createStash({ secret: 'outage secret', storedKeys: ['count'], adapter, ...options })
  opened.push(stash)
  stash.on('unavailable', () => events.push('unavailable'))
  stash.on('available', () => events.push('available'))
  stash.on('error', () => {})
  const web = express().use(stash)
  web.get('/count', (req, res) => void res.json({ count: (req.stash.count = (req.stash.count ?? 0) + 1) }))
  web.post('/login', async (req, res) => {
    await req.stash.rotate()
    res.json({ rotated: true })
  })
  web.post('/logout', async (req, res) => {
    await req.stash.reset()
    res.json({ reset: true })
  })
  web.use(
    (
      err: { status?: number; code?: string; message: string },
      _req: express.Request,
      res: express.Response,
      _next: express.NextFunction,
    ) => {
      res.status(err.status ?? 500).json({ code: err.code, message: err.message })
    },
  )
  return { web, stash, seen, events }
}

async function timed<T>(work: () => PromiseLike<T>): Promise<{ value: T; ms: number }> {
  const started = Date.now()
  const value = await work()
  return { value, ms: Date.now() - started }
}

it('fails fast during an outage, probes one call at a time, and is back within a second of Redis', async () => {
  const { web, seen, events } = app()
  const cookie = cookiePair(await request(web).get('/count').expect(200))
  await server.pause() // a stalled server: without the breaker every request would wait the whole timeout
  try {
    await request(web).get('/count').set('Cookie', cookie).expect(stashError(503, 'ERR_STASH_UNAVAILABLE'))
    const callsAfterFirst = seen.calls
    const burst = await Promise.all(
      Array.from({ length: 40 }, () => timed(() => request(web).get('/count').set('Cookie', cookie))),
    )
    expect(burst.map(({ value }) => value.status)).toEqual(Array(40).fill(503))
    // None waited for the stalled server but, at most, the one that went out as the probe.
    expect(burst.filter(({ ms }) => ms >= TIMEOUT / 2).length).toBeLessThanOrEqual(1)
    expect(seen.calls - callsAfterFirst).toBeLessThanOrEqual(1)
    // Over a second and a half of traffic, probes go out one at a time and ever less often.
    const probesBefore = seen.calls
    const until = Date.now() + 1500
    while (Date.now() < until) {
      await request(web).get('/count').set('Cookie', cookie).expect(503)
      await sleep(20)
    }
    expect(seen.mostInFlight).toBe(1)
    expect(seen.calls - probesBefore).toBeLessThanOrEqual(6)
  } finally {
    await server.resume()
  }
  const back = await timed(async () => {
    while ((await request(web).get('/count').set('Cookie', cookie)).status !== 200) await sleep(20)
  })
  expect(back.ms).toBeLessThan(1000)
  await request(web).get('/count').set('Cookie', cookie).expect(200) // the record was never lost
  expect(events).toEqual(['unavailable', 'available'])
})

it("under onUnavailable: 'continue', rotate() and reset() reject with 503 rather than be dropped", async () => {
  const { web, stash } = app({ onUnavailable: 'continue' })
  const cookie = cookiePair(await request(web).get('/count').expect(200, { count: 1 }))
  await server.pause()
  try {
    await request(web).get('/count').set('Cookie', cookie).expect(200, { count: 1 }) // an empty stash, writes dropped
    await request(web).post('/login').set('Cookie', cookie).expect(stashError(503, 'ERR_STASH_UNAVAILABLE'))
    await request(web).post('/logout').set('Cookie', cookie).expect(stashError(503, 'ERR_STASH_UNAVAILABLE'))
  } finally {
    await server.resume()
  }
  await sleep(600) // the breaker's longest pause
  // Neither happened: the old cookie still reaches the stash, which a later login rotates.
  await request(web).get('/count').set('Cookie', cookie).expect(200, { count: 2 })
  const login = await request(web).post('/login').set('Cookie', cookie).expect(200)
  await request(web).get('/count').set('Cookie', cookie).expect(200, { count: 1 })
  await request(web).get('/count').set('Cookie', cookiePair(login)).expect(200, { count: 3 })
  expect(await stash.length()).toBe(2)
})

describe('stash.ready()', () => {
  it('resolves once Redis answers, and at once for the memory adapter', async () => {
    const stash = createStash({ secret: 'ready secret', adapter: redisAdapter(server.url) })
    opened.push(stash)
    await stash.ready()
    const memory = createStash({ secret: 'ready secret' })
    opened.push(memory)
    await memory.ready()
  })

  it('rejects for an unreachable Redis within its timeout, naming the reason', async () => {
    const port = await findFreePort()
    const stash = createStash({ secret: 'ready secret', adapter: redisAdapter(`redis://127.0.0.1:${port}`) })
    opened.push(stash)
    const { value, ms } = await timed(() =>
      stash.ready({ timeout: 400 }).then(
        () => undefined,
        (err: Error) => err,
      ),
    )
    expect(value).toMatchObject({ code: 'ERR_STASH_UNAVAILABLE', message: expect.stringMatching(/ECONNREFUSED/) })
    expect(ms).toBeLessThan(1500)
  })

  it('rejects at once for a wrong password', async () => {
    const guarded = await startRedis()
    await guarded.cli('CONFIG', 'SET', 'requirepass', 'right-password')
    try {
      const url = guarded.url.replace('redis://', 'redis://:wrong-password@')
      const stash = createStash({ secret: 'ready secret', adapter: redisAdapter(url) })
      opened.push(stash)
      const { value, ms } = await timed(() =>
        stash.ready({ timeout: 5000 }).then(
          () => undefined,
          (err: Error) => err,
        ),
      )
      expect(value).toMatchObject({ code: 'ERR_STASH_UNAVAILABLE', message: expect.stringMatching(/WRONGPASS|invalid/i) })
      expect(ms).toBeLessThan(2000)
      await stash.close()
    } finally {
      await guarded.stop()
    }
  })

  it('rejects for a URL the client cannot parse, and refuses a bad timeout', async () => {
    const stash = createStash({ secret: 'ready secret', adapter: redisAdapter('redis://user:pa ss@[::1') })
    opened.push(stash)
    await expect(stash.ready({ timeout: 1000 })).rejects.toMatchObject({ code: 'ERR_STASH_UNAVAILABLE' })
    await expect(stash.ready({ timeout: -1 })).rejects.toThrow(/`ready.timeout` must be a positive integer/)
  })
})
