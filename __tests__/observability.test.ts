import './support/stash-data.js'
import { format } from 'node:util'
import createDebug from 'debug'
import express from 'express'
import request from 'supertest'
import { createStash, memoryAdapter, type StashMiddleware, type StashOptions } from '../lib/index.js'
import { log } from '../lib/log.js'
import { failingAdapter } from './support/adapters.js'
import { cookiePair, idOf, sleep } from './support/http.js'

const opened: StashMiddleware[] = []
afterAll(() => Promise.all(opened.map((stash) => stash.close())))

/** `GET /count` increments a stored counter; `GET /peek` only reads it; `POST /reset` resets. */
function app(options: StashOptions = {}) {
  const stash = createStash({ secret: 'observability test', storedKeys: ['count'], ...options })
  opened.push(stash)
  const server = express()
  server.use(stash)
  server.get('/count', (req, res) => res.json({ count: (req.stash.count = (req.stash.count ?? 0) + 1) }))
  server.get('/peek', (req, res) => res.json({ count: req.stash.count ?? null }))
  server.post('/reset', async (req, res) => {
    await req.stash.reset()
    res.json({})
  })
  server.use((err: Error & { status?: number }, _req: express.Request, res: express.Response, _next: express.NextFunction) => {
    res.status(err.status ?? 500).json({ message: err.message })
  })
  return { server, stash }
}

describe('stats()', () => {
  it('starts at zero', () => {
    const { stash } = app()
    expect(stash.stats()).toEqual({
      loads: 0,
      hits: 0,
      misses: 0,
      writes: 0,
      bytesRead: 0,
      bytesWritten: 0,
      errors: 0,
      evictions: 0,
      latency: { calls: 0, mean: 0, p50: 0, p99: 0, max: 0 },
    })
  })

  it('counts loads, hits, writes and bytes of a visit', async () => {
    const { server, stash } = app()
    const first = await request(server).get('/count').expect(200, { count: 1 })
    const cookie = cookiePair(first)
    expect(stash.stats()).toMatchObject({ loads: 0, hits: 0, writes: 1, bytesRead: 0, errors: 0 })
    const written = stash.stats().bytesWritten
    expect(written).toBeGreaterThan('count'.length + '1'.length) // the stored value carries its MAC

    await request(server).get('/peek').set('Cookie', cookie).expect(200, { count: 1 })
    await request(server).get('/count').set('Cookie', cookie).expect(200, { count: 2 })
    const stats = stash.stats()
    expect(stats).toMatchObject({ loads: 2, hits: 2, misses: 0, writes: 2, errors: 0 })
    expect(stats.bytesRead).toBe(2 * written) // the same-sized value, read twice
    expect(stats.latency.calls).toBe(4) // write, load, load, write
    expect(stats.latency.max).toBeGreaterThanOrEqual(stats.latency.p50)
    expect(stats.latency.mean).toBeGreaterThan(0)
  })

  it('returns frozen snapshots that later requests do not change', async () => {
    const { server, stash } = app()
    const before = stash.stats()
    await request(server).get('/count').expect(200)
    expect(Object.isFrozen(before) && Object.isFrozen(before.latency)).toBe(true)
    expect(before.writes).toBe(0)
    expect(stash.stats().writes).toBe(1)
  })

  it('counts failed store calls as errors, and the latency of failed calls too', async () => {
    const adapter = failingAdapter(memoryAdapter())
    const { server, stash } = app({ adapter })
    const cookie = cookiePair(await request(server).get('/count').expect(200))
    adapter.failing.add('load')
    await request(server).get('/peek').set('Cookie', cookie).expect(503)
    expect(stash.stats()).toMatchObject({ loads: 0, errors: 1, latency: expect.objectContaining({ calls: 2 }) })
  })

  it('counts a corrupt stored value as an error', async () => {
    const adapter = memoryAdapter()
    const { server, stash } = app({ adapter })
    stash.on('error', () => {})
    const cookie = cookiePair(await request(server).get('/count').expect(200))
    const [record] = await stash.ids()
    await adapter.write(record!, { set: { count: 'not signed' }, del: [], expiresAt: { count: Date.now() + 60_000 } })
    await request(server).get('/peek').set('Cookie', cookie).expect(200, { count: null })
    expect(stash.stats()).toMatchObject({ loads: 1, hits: 1, errors: 1 })
  })
})

describe("the 'expired' event", () => {
  it('tells when a signed ID comes back whose record is gone, naming the record by its hash only', async () => {
    const { server, stash } = app()
    const expired: unknown[] = []
    stash.on('expired', (info) => expired.push(info))
    const cookie = cookiePair(await request(server).get('/count').expect(200))
    const [record] = await stash.ids()
    await stash.clear()

    await request(server).get('/peek').set('Cookie', cookie).expect(200, { count: null })
    expect(expired).toEqual([{ record }])
    expect(record).not.toContain(idOf(cookie))
    expect(stash.stats()).toMatchObject({ loads: 1, hits: 0, misses: 1 })
  })

  it('is not emitted for visitors without a cookie, nor for records that exist', async () => {
    const { server, stash } = app()
    const expired: unknown[] = []
    stash.on('expired', (info) => expired.push(info))
    const cookie = cookiePair(await request(server).get('/count').expect(200))
    await request(server).get('/peek').set('Cookie', cookie).expect(200, { count: 1 })
    await request(server).get('/peek').expect(200, { count: null })
    expect(expired).toEqual([])
  })
})

describe('debug logging', () => {
  const lines: string[] = []
  const original = log.log
  beforeAll(() => {
    log.log = (...args: unknown[]) => void lines.push(format(...args))
    createDebug.enable('express-stash')
  })
  afterAll(() => {
    createDebug.disable()
    log.log = original
  })
  beforeEach(() => void lines.splice(0))

  it("logs under the 'express-stash' namespace, without IDs or values", async () => {
    const { server } = app()
    const first = await request(server).get('/count').expect(200, { count: 1 })
    const cookie = cookiePair(first)
    await request(server).get('/count').set('Cookie', cookie).expect(200, { count: 2 })
    await request(server).post('/reset').set('Cookie', cookie).expect(200)
    await request(server).get('/peek').set('Cookie', cookie).expect(200)

    const text = lines.join('\n')
    expect(text).toMatch(/express-stash new stash \S{8}/)
    expect(text).toMatch(/express-stash write \S{8}: 1 set, 0 removed/)
    expect(text).toMatch(/express-stash reset \S{8}/)
    expect(text).toMatch(/express-stash load \S{8}: no such record/)
    expect(text).not.toContain(idOf(cookie))
    expect(text).not.toContain(decodeURIComponent(cookie.slice(cookie.indexOf('=') + 1)))
  })

  it('logs when the store becomes unavailable and available again', async () => {
    const adapter = failingAdapter(memoryAdapter())
    const { server } = app({ adapter })
    const cookie = cookiePair(await request(server).get('/count').expect(200))
    adapter.failing.add('load')
    await request(server).get('/peek').set('Cookie', cookie).expect(503)
    adapter.failing.delete('load')
    await sleep(60) // the circuit breaker's first pause
    await request(server).get('/peek').set('Cookie', cookie).expect(200)
    const text = lines.join('\n')
    expect(text).toContain('the memory store is unavailable: store down')
    expect(text).toContain('the memory store answers again')
  })

  it('writes nothing when the namespace is off', async () => {
    createDebug.disable()
    try {
      const { server } = app()
      await request(server).get('/count').expect(200)
      expect(lines).toEqual([])
    } finally {
      createDebug.enable('express-stash')
    }
  })
})
