/**
 * `req.stash.reload()` over HTTP: a long request sees the write another request made meanwhile,
 * drops its own unsaved change, finds an empty stash after a reset elsewhere, and rejects (changing
 * nothing) when the store is down; on the memory adapter, a real Redis, and Redis with the near
 * cache, where a reload reads Redis, never the cached copy.
 */
import { randomBytes } from 'node:crypto'
import express from 'express'
import request from 'supertest'
import { createStash, memoryAdapter, redisAdapter, type StashAdapter, type StashOptions } from '../lib/index.js'
import { failingAdapter } from './support/adapters.js'
import { setCookie, sleep } from './support/http.js'
import { useRedis } from './support/redis-client.js'

const redis = useRedis()
const prefix = () => `reload:${randomBytes(6).toString('base64url')}:`
const ADAPTERS: [string, () => StashAdapter][] = [
  ['memory', () => memoryAdapter()],
  ['redis', () => redisAdapter({ client: redis().client, prefix: prefix() })],
  ['redis with cache', () => redisAdapter({ url: redis().server.url, prefix: prefix(), cache: true })],
]

/** Where a long request waits: `arrived` once it is there, and it goes on after `release()`. */
function gate() {
  let arrive!: () => void
  let release!: () => void
  const arrived = new Promise<void>((resolve) => (arrive = resolve))
  const released = new Promise<void>((resolve) => (release = resolve))
  return { arrived, release, wait: () => (arrive(), released) }
}

/** A stash storing `count`; `/long` holds the request at `hold.wait()`, then reloads. */
function reloadApp(adapter: StashAdapter, hold: { current: ReturnType<typeof gate> }, options: StashOptions = {}) {
  const stash = createStash({ secret: 'reload test secret', adapter, storedKeys: ['count'], ...options })
  const app = express()
  app.use(express.json())
  app.use(stash)
  app.post('/count', (req, res) => {
    req.stash.count = req.body.count
    res.json({})
  })
  app.get('/count', (req, res) => void res.json({ count: req.stash.count ?? null }))
  app.post('/reset', async (req, res) => {
    await req.stash.reset()
    res.json({})
  })
  app.get('/long', async (req, res) => {
    const before = req.stash.count ?? null
    if (req.query.change !== undefined) req.stash.count = 99
    await hold.current.wait()
    try {
      await req.stash.reload()
    } catch (err) {
      return void res.status(503).json({ code: (err as { code?: string }).code, count: req.stash.count ?? null })
    }
    res.json({ before, after: req.stash.count ?? null, keys: Object.keys(req.stash) })
  })
  return { app, stash }
}

describe.each(ADAPTERS)('req.stash.reload() on %s', (name, makeAdapter) => {
  const opened: { close(): Promise<void> }[] = []
  afterAll(() => Promise.all(opened.map((stash) => stash.close())))
  const hold = { current: gate() }
  beforeEach(() => (hold.current = gate()))
  const start = (options?: StashOptions, adapter = makeAdapter()) => {
    const made = reloadApp(adapter, hold, options)
    opened.push(made.stash)
    return made
  }
  /** Starts a long request now (supertest sends on `then`). */
  const begin = (test: request.Test) => test.then((res) => res)

  it('sees the write another request made while it waited', async () => {
    const agent = request.agent(start().app)
    await agent.post('/count').send({ count: 1 }).expect(200)
    const long = begin(agent.get('/long'))
    await hold.current.arrived
    await agent.post('/count').send({ count: 2 }).expect(200)
    hold.current.release()
    expect((await long).body).toEqual({ before: 1, after: 2, keys: ['count'] })
    await agent.get('/count').expect(200, { count: 2 })
  })

  it('drops the change it had not saved', async () => {
    const agent = request.agent(start().app)
    await agent.post('/count').send({ count: 1 }).expect(200)
    const long = begin(agent.get('/long?change'))
    await hold.current.arrived
    hold.current.release()
    expect((await long).body).toEqual({ before: 1, after: 1, keys: ['count'] })
    await agent.get('/count').expect(200, { count: 1 })
    // And with a write meanwhile: the other request's value, never the dropped 99.
    hold.current = gate()
    const again = begin(agent.get('/long?change'))
    await hold.current.arrived
    await agent.post('/count').send({ count: 3 }).expect(200)
    hold.current.release()
    expect((await again).body).toEqual({ before: 1, after: 3, keys: ['count'] })
    await agent.get('/count').expect(200, { count: 3 })
  })

  it('finds an empty stash after a reset elsewhere, and clears the cookie like a load that misses', async () => {
    const agent = request.agent(start().app)
    await agent.post('/count').send({ count: 1 }).expect(200)
    const long = begin(agent.get('/long'))
    await hold.current.arrived
    await agent.post('/reset').expect(200)
    hold.current.release()
    const res = await long
    expect(res.body).toEqual({ before: 1, after: null, keys: [] })
    expect(setCookie(res)).toMatch(/^stash=;/)
    await agent.get('/count').expect(200, { count: null })
  })

  it('rejects when the store is down, leaving req.stash as it was', async () => {
    const adapter = failingAdapter(makeAdapter())
    const { app, stash } = start({}, adapter)
    const agent = request.agent(app)
    await agent.post('/count').send({ count: 1 }).expect(200)
    const long = begin(agent.get('/long'))
    await hold.current.arrived
    adapter.failing.add('load')
    hold.current.release()
    expect((await long).body).toEqual({ code: 'ERR_STASH_UNAVAILABLE', count: 1 })
    adapter.failing.delete('load')
    await stash.ready()
    await agent.get('/count').expect(200, { count: 1 })
  })

  it('makes a stash that could not load under onUnavailable continue available once it succeeds', async () => {
    const adapter = failingAdapter(makeAdapter())
    const { app, stash } = start({ onUnavailable: 'continue' }, adapter)
    app.get('/recover', async (req, res) => {
      const before = { available: req.stash.available, count: req.stash.count ?? null }
      adapter.failing.delete('load')
      await stash.ready()
      await req.stash.reload()
      res.json({ before, after: { available: req.stash.available, count: req.stash.count ?? null } })
    })
    const agent = request.agent(app)
    await agent.post('/count').send({ count: 1 }).expect(200)
    adapter.failing.add('load')
    await agent.get('/recover').expect(200, { before: { available: false, count: null }, after: { available: true, count: 1 } })
  })

  if (name === 'redis with cache') {
    it('reads Redis itself, not the copy the near cache holds', async () => {
      const { app, stash } = start()
      const agent = request.agent(app)
      await agent.post('/count').send({ count: 1 }).expect(200)
      const cache = () => stash.stats().cache!
      // Wait until a read is answered from the cache (its tracking is confirmed).
      for (let hits = cache().hits; cache().hits === hits; await sleep(10)) {
        hits = cache().hits
        await agent.get('/count').expect(200, { count: 1 })
      }
      const long = begin(agent.get('/long'))
      await hold.current.arrived
      const before = cache() // the record is cached: a plain load would be a hit
      hold.current.release()
      expect((await long).body).toEqual({ before: 1, after: 1, keys: ['count'] })
      expect(cache().misses).toBe(before.misses + 1)
      expect(cache().hits).toBe(before.hits)
    })
  }
})
