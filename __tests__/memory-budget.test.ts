// The memory adapter's budget against the attack of the security review: anonymous POSTs
// storing large values, each a new stash, must not grow the process without bound.
import './support/stash-data.js'
import express from 'express'
import request from 'supertest'
import { createStash, memoryAdapter, type StashEviction, type StashMiddleware, type StashOptions } from '../lib/index.js'
import { cookiePair } from './support/http.js'

const BLOB = 64 * 1024
const opened: StashMiddleware[] = []
afterAll(() => Promise.all(opened.map((stash) => stash.close())))

/** `POST /blob` stores the request body under `blob` (a new stash for a client without a cookie); `GET /blob` reads it back. */
function app(options: StashOptions) {
  const stash = createStash({ secret: 'memory budget test', storedKeys: ['blob'], ...options })
  opened.push(stash)
  const server = express()
  server.use(stash)
  server.post('/blob', express.text({ limit: '2mb' }), (req, res) => {
    req.stash.blob = req.body
    res.sendStatus(204)
  })
  server.get('/blob', (req, res) => res.json({ length: req.stash.blob?.length ?? 0, head: req.stash.blob?.[0] ?? null }))
  server.use(
    (
      err: Error & { status?: number; code?: string },
      _req: express.Request,
      res: express.Response,
      _next: express.NextFunction,
    ) => {
      res.status(err.status ?? 500).json({ code: err.code, message: err.message })
    },
  )
  return { server, stash }
}

/** A body of `length` characters, told apart by its first one. */
const body = (i: number, length = BLOB) => String.fromCharCode(0x41 + (i % 26)) + 'x'.repeat(length - 1)

describe('memoryAdapter({ maxMemory }) over HTTP', () => {
  test('100 anonymous POSTs of 64 KB keep at most 1 MB stored: the most recently used survive, the rest are evicted and counted', async () => {
    const adapter = memoryAdapter({ maxMemory: 1_000_000 })
    const { server, stash } = app({ adapter })
    const evictions: StashEviction[] = []
    stash.on('evicted', (eviction: StashEviction) => evictions.push(eviction))
    const errors: unknown[] = []
    stash.on('error', (err) => errors.push(err))

    const cookies: string[] = []
    for (let i = 0; i < 100; i++) {
      const res = await request(server).post('/blob').type('text').send(body(i)).expect(204)
      cookies.push(cookiePair(res))
      // Client 0 keeps coming back: its stash stays among the most recently used.
      await request(server).get('/blob').set('Cookie', cookies[0]!).expect(200, { length: BLOB, head: 'A' })
      expect(adapter.bytes).toBeLessThanOrEqual(1_000_000)
    }

    const held = adapter.size
    expect(held).toBeGreaterThanOrEqual(10) // about 15 records of 64 KB (plus MAC) fit in 1 MB
    expect(adapter.bytes).toBeGreaterThan(1_000_000 - 2 * BLOB)
    const evicted = stash.stats().evictions
    expect(evicted).toBe(100 - held)
    expect(evictions.reduce((sum, e) => sum + e.records, 0)).toBe(evicted)
    for (const eviction of evictions) expect(eviction.bytes).toBeGreaterThan(eviction.records * BLOB)
    expect(stash.listenerCount('evicted')).toBe(1) // the instance subscribed once, not per request

    // Survivors: client 0 and the latest clients, with their data.
    await request(server).get('/blob').set('Cookie', cookies[0]!).expect(200, { length: BLOB, head: 'A' })
    for (let i = 100 - (held - 1); i < 100; i++) {
      await request(server)
        .get('/blob')
        .set('Cookie', cookies[i]!)
        .expect(200, { length: BLOB, head: body(i)[0] })
    }
    // The evicted: an empty stash, no error.
    const missesBefore = stash.stats().misses
    for (let i = 1; i < 100 - (held - 1); i++) {
      await request(server).get('/blob').set('Cookie', cookies[i]!).expect(200, { length: 0, head: null })
    }
    expect(stash.stats().misses - missesBefore).toBe(100 - held)
    expect(errors).toEqual([])
  })

  test('a stash larger than maxMemory (with maxBytes above it) is refused with ERR_STASH_TOO_LARGE and evicts nobody', async () => {
    const { server, stash } = app({ adapter: memoryAdapter({ maxMemory: 200_000 }), maxBytes: 1_000_000 })
    const first = await request(server).post('/blob').type('text').send(body(0)).expect(204)
    const res = await request(server).post('/blob').type('text').send(body(1, 300_000))
    expect({ status: res.status, code: res.body.code }).toEqual({ status: 500, code: 'ERR_STASH_TOO_LARGE' })
    expect(res.body.message).toMatch(/maxMemory \(200000\)/)
    await request(server).get('/blob').set('Cookie', cookiePair(first)).expect(200, { length: BLOB, head: 'A' })
    expect(stash.stats().evictions).toBe(0)
  })

  test("a throwing 'evicted' listener is reported as an 'error', and the request that caused the eviction succeeds", async () => {
    const { server, stash } = app({ adapter: memoryAdapter({ maxMemory: 150_000 }) })
    const errors: unknown[] = []
    stash.on('error', (err) => errors.push(err))
    stash.on('evicted', () => {
      throw new Error('metrics exporter down')
    })
    for (let i = 0; i < 3; i++) await request(server).post('/blob').type('text').send(body(i)).expect(204)
    expect(stash.stats().evictions).toBe(1)
    expect(errors).toEqual([expect.objectContaining({ message: 'metrics exporter down' })])
  })

  test('two stashes sharing one table through `name` both count its evictions', async () => {
    const name = `memory-budget-http-${process.pid}-${Date.now()}`
    const one = app({ adapter: memoryAdapter({ name, maxMemory: 150_000 }) })
    const two = app({ adapter: memoryAdapter({ name, maxMemory: 150_000 }) })
    await request(one.server).post('/blob').type('text').send(body(0)).expect(204)
    await request(one.server).post('/blob').type('text').send(body(1)).expect(204)
    await request(two.server).post('/blob').type('text').send(body(2)).expect(204) // evicts one's first stash
    expect([one.stash.stats().evictions, two.stash.stats().evictions]).toEqual([1, 1])
  })
})
