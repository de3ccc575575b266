/**
 * `req.stash.flash` driven over HTTP the way an application uses it (connect-flash's API): the
 * login-failure redirect, several keys, `flash()`, messages that survive a request that did not
 * read them, objects, bad values, `reset()` and `rotate()`, routes without stored keys, and what
 * each case costs in store calls; on the memory adapter, a real Redis and Redis with the near cache.
 */
import { randomBytes } from 'node:crypto'
import express from 'express'
import request from 'supertest'
import { createStash, memoryAdapter, redisAdapter, type StashAdapter, type StashOptions } from '../lib/index.js'
import { countingAdapter, failingAdapter } from './support/adapters.js'
import { cookiePair, stashError } from './support/http.js'
import { useRedis } from './support/redis-client.js'

const redis = useRedis()
const prefix = () => `flash:${randomBytes(6).toString('base64url')}:`
const ADAPTERS: [string, () => StashAdapter][] = [
  ['memory', () => memoryAdapter()],
  ['redis', () => redisAdapter({ client: redis().client, prefix: prefix() })],
  ['redis with cache', () => redisAdapter({ url: redis().server.url, prefix: prefix(), cache: true })],
]

/** The stash ID a cookie pair signs, without its extras (`~hint`, `*version`, the flash flag, `!maxAge`). */
const idOf = (pair: string): string => /^s:([^~*()!.]+)/.exec(decodeURIComponent(pair.slice(pair.indexOf('=') + 1)))![1]!

const errorJson: express.ErrorRequestHandler = (err: { status?: number; code?: string; message: string }, _req, res, _next) => {
  res.status(err.status ?? 500).json({ code: err.code, message: err.message })
}

/** An app with a global stash without stored keys, a cart route that has some, and flash routes of each kind. */
function flashApp(adapter: StashAdapter, options: StashOptions = {}) {
  const stash = createStash({ secret: 'flash test secret', adapter, ...options })
  const cart = stash.route({ storedKeys: ['cart'] })
  const app = express()
  app.use(express.json())
  app.use(stash)
  app.post('/login', (req, res) => {
    if (req.body.password !== 'secret') {
      req.stash.flash('error', 'bad password')
      return res.redirect(303, '/login')
    }
    res.redirect(303, '/')
  })
  app.get('/login', (req, res) => void res.json({ errors: req.stash.flash('error') }))
  app.post('/flash', (req, res) => void res.json({ count: req.stash.flash(String(req.body.key), req.body.value) }))
  app.post('/cart/flash', cart, (req, res) => void res.json({ count: req.stash.flash(String(req.body.key), req.body.value) }))
  app.get('/flash', (req, res) => void res.json(req.stash.flash()))
  app.get('/flash/:key', (req, res) => void res.json(req.stash.flash(req.params.key)))
  app.get('/cart/flash/:key', cart, (req, res) => void res.json(req.stash.flash(req.params.key)))
  app.post('/cart', cart, async (req, res) => {
    res.json({ cart: await req.stash.update('cart', (items: string[] = []) => [...items, String(req.body.item)]) })
  })
  app.get('/cart', cart, (req, res) => void res.json({ cart: req.stash.cart ?? [] }))
  app.get('/plain', (_req, res) => void res.json({}))
  app.post('/reset', async (req, res) => {
    await req.stash.reset()
    if (req.body.after !== undefined) req.stash.flash('info', req.body.after)
    res.json({})
  })
  app.post('/rotate', async (req, res) => {
    await req.stash.rotate()
    if (req.body.after !== undefined) req.stash.flash('info', req.body.after)
    res.json({})
  })
  app.use(errorJson)
  return { app, stash }
}

describe.each(ADAPTERS)('flash messages on %s', (_name, makeAdapter) => {
  const opened: { close(): Promise<void> }[] = []
  afterAll(() => Promise.all(opened.map((stash) => stash.close())))
  const start = (options?: StashOptions, adapter = makeAdapter()) => {
    const made = flashApp(adapter, options)
    opened.push(made.stash)
    return made
  }

  it('shows a login failure once, after the redirect, on a route without stored keys', async () => {
    const agent = request.agent(start().app)
    await agent.post('/login').send({ password: 'wrong' }).expect(303).expect('Location', '/login')
    await agent.get('/login').expect(200, { errors: ['bad password'] })
    await agent.get('/login').expect(200, { errors: [] })
    await agent.post('/login').send({ password: 'wrong' }).expect(303)
    await agent.post('/login').send({ password: 'wrong' }).expect(303)
    await agent.get('/login').expect(200, { errors: ['bad password', 'bad password'] })
    await agent.get('/login').expect(200, { errors: [] })
  })

  it('keeps keys apart, returns what this request queued, and hands every key to flash()', async () => {
    const agent = request.agent(start().app)
    await agent.post('/flash').send({ key: 'error', value: 'e1' }).expect(200, { count: 1 })
    await agent
      .post('/flash')
      .send({ key: 'info', value: ['i1', 'i2'] })
      .expect(200, { count: 2 })
    await agent.post('/cart/flash').send({ key: 'info', value: 'i3' }).expect(200, { count: 1 })
    await agent.get('/flash/warning').expect(200, [])
    await agent.get('/flash').expect(200, { error: ['e1'], info: ['i1', 'i2', 'i3'] })
    await agent.get('/flash').expect(200, {})
    await agent.get('/flash/info').expect(200, [])
  })

  it('keeps messages through requests that do not read them, with or without stored keys', async () => {
    const agent = request.agent(start().app)
    await agent.post('/cart').send({ item: 'apple' }).expect(200)
    await agent.post('/flash').send({ key: 'info', value: 'added to cart' }).expect(200)
    await agent.get('/cart').expect(200, { cart: ['apple'] })
    await agent.get('/plain').expect(200)
    await agent.get('/cart/flash/error').expect(200, [])
    await agent.get('/cart').expect(200, { cart: ['apple'] })
    await agent.get('/flash/info').expect(200, ['added to cart'])
    await agent.get('/cart/flash/info').expect(200, [])
    await agent.get('/cart').expect(200, { cart: ['apple'] }) // the data is untouched
  })

  it('stores objects as JSON brings them back, copied when they are queued', async () => {
    const { app } = start()
    app.post('/notify', (req, res) => {
      const message = { text: 'saved', detail: { ids: [1, 2], done: true, none: null } }
      req.stash.flash('notice', message)
      message.text = 'changed after it was queued'
      res.json({})
    })
    const agent = request.agent(app)
    await agent.post('/notify').expect(200)
    await agent.get('/flash/notice').expect(200, [{ text: 'saved', detail: { ids: [1, 2], done: true, none: null } }])
  })

  it('refuses with a TypeError a message or key that JSON would not bring back, and stores nothing', async () => {
    const { app } = start()
    const cycle: Record<string, unknown> = {}
    cycle.self = cycle
    const bad: [string, () => unknown][] = [
      ['Date', () => new Date()],
      ['Map', () => new Map()],
      ['NaN', () => Number.NaN],
      ['bigint', () => 1n],
      ['function', () => () => 1],
      ['undefined', () => undefined],
      ['array with a Set', () => ['ok', new Set([1])]],
      ['cycle', () => cycle],
    ]
    app.post('/bad/:kind', (req, res) => {
      const attempts = [
        ...bad
          .filter(([kind]) => kind === req.params.kind)
          .map(
            ([, make]) =>
              () =>
                req.stash.flash('error', make()),
          ),
      ]
      if (req.params.kind === 'key')
        attempts.push(
          () => req.stash.flash('', 'x'),
          () => req.stash.flash('__proto__', 'x'),
        )
      const errors = attempts.map((attempt) => {
        try {
          attempt()
          return 'accepted'
        } catch (err) {
          return `${(err as Error).name}: ${(err as Error).message}`
        }
      })
      res.json({ errors })
    })
    const agent = request.agent(app)
    for (const [kind] of [...bad, ['key']]) {
      const { body } = await agent.post(`/bad/${kind}`).expect(200)
      expect(body.errors.length).toBeGreaterThan(0)
      for (const error of body.errors) expect(error).toMatch(/^TypeError: express-stash: req\.stash\.flash\(/)
    }
    const { body } = await agent.post('/bad/Date').expect(200)
    expect(body.errors[0]).toContain('a Date')
    await agent.get('/flash').expect(200, {})
  })

  it('reads in the same request what it queued, and then stores nothing', async () => {
    const { app } = start()
    app.post('/queue-and-read', (req, res) => {
      const counts = [req.stash.flash('info', 'a'), req.stash.flash('info', ['b', 'c']), req.stash.flash('info', [])]
      res.json({ counts, read: req.stash.flash('info') })
    })
    const agent = request.agent(app)
    await agent.post('/queue-and-read').expect(200, { counts: [1, 3, 3], read: ['a', 'b', 'c'] })
    await agent.get('/flash').expect(200, {})
  })

  it('reset() drops the messages; messages queued after it go to the new stash', async () => {
    const agent = request.agent(start().app)
    await agent.post('/flash').send({ key: 'error', value: 'old' }).expect(200)
    await agent.post('/reset').send({}).expect(200)
    await agent.get('/flash').expect(200, {})
    await agent.post('/flash').send({ key: 'error', value: 'old again' }).expect(200)
    await agent.post('/reset').send({ after: 'logged out' }).expect(200)
    await agent.get('/flash').expect(200, { info: ['logged out'] })
  })

  it('rotate() carries the messages to the new ID', async () => {
    const agent = request.agent(start().app)
    const added = await agent.post('/flash').send({ key: 'info', value: 'welcome' }).expect(200)
    const rotated = await agent.post('/rotate').send({}).expect(200)
    expect(idOf(cookiePair(rotated))).not.toBe(idOf(cookiePair(added)))
    await agent.get('/flash/info').expect(200, ['welcome'])
    await agent.get('/flash/info').expect(200, [])
    // Taken, rotated and put back, with one queued after the rotation: both on the new ID.
    await agent.post('/flash').send({ key: 'info', value: 'before login' }).expect(200)
    await agent.post('/rotate').send({ after: 'after login' }).expect(200)
    await agent.get('/flash/info').expect(200, ['before login', 'after login'])
  })

  it('costs nothing on a route without stored keys while nothing waits, and one compare-and-set to add or to take', async () => {
    const adapter = countingAdapter(makeAdapter())
    const agent = request.agent(start({}, adapter).app)
    await agent.post('/cart').send({ item: 'apple' }).expect(200)
    const methods = async (run: () => Promise<unknown>) => {
      adapter.reset()
      await run()
      return adapter.calls.map((call) => call.method)
    }
    expect(await methods(() => agent.get('/login').expect(200, { errors: [] }))).toEqual([])
    expect(await methods(() => agent.get('/plain').expect(200))).toEqual([])
    expect(await methods(() => agent.post('/flash').send({ key: 'error', value: 'x' }).expect(200))).toEqual(['compareAndSet'])
    // Something waits: the flag in the cookie makes a route without stored keys read the field.
    expect(await methods(() => agent.get('/login').expect(200, { errors: ['x'] }))).toEqual(['load', 'compareAndSet'])
    expect(await methods(() => agent.get('/login').expect(200, { errors: [] }))).toEqual([])
    // A route with stored keys reads the field in the load it makes anyway.
    expect(await methods(() => agent.get('/cart').expect(200))).toEqual(['load'])
    expect(await methods(() => agent.post('/cart/flash').send({ key: 'error', value: 'z' }).expect(200))).toEqual([
      'load',
      'compareAndSet',
    ])
    // Behind app.use(stash) without stored keys, waiting messages are read before the route adds its keys: one load more.
    expect(await methods(() => agent.get('/cart/flash/error').expect(200, ['z']))).toEqual(['load', 'compareAndSet', 'load'])
    expect(await methods(() => agent.get('/cart/flash/error').expect(200, []))).toEqual(['load'])
    // A request that takes messages and does not read them puts them back: one compare-and-set more.
    await agent.post('/flash').send({ key: 'error', value: 'w' }).expect(200)
    const kept = await methods(() => agent.get('/cart').expect(200))
    expect(kept).toEqual(['load', 'compareAndSet', 'load', 'compareAndSet'])
    expect(await methods(() => agent.get('/login').expect(200, { errors: ['w'] }))).toEqual(['load', 'compareAndSet'])
  })

  it('reads waiting messages in the one load of a route that mounts the stash with stored keys', async () => {
    const adapter = countingAdapter(makeAdapter())
    const stash = createStash({ secret: 'flash test secret', adapter })
    opened.push(stash)
    const cart = stash.route({ storedKeys: ['cart'] })
    const app = express()
    app.post('/cart', cart, (req, res) => {
      req.stash.cart = ['apple']
      req.stash.flash('info', 'added')
      res.json({})
    })
    app.get('/cart', cart, (req, res) => void res.json({ cart: req.stash.cart, info: req.stash.flash('info') }))
    const agent = request.agent(app)
    await agent.post('/cart').expect(200)
    expect(adapter.calls.map((call) => call.method)).toEqual(['compareAndSet', 'write'])
    adapter.reset()
    await agent.get('/cart').expect(200, { cart: ['apple'], info: ['added'] })
    expect(adapter.calls.map((call) => call.method)).toEqual(['load', 'compareAndSet'])
    adapter.reset()
    await agent.get('/cart').expect(200, { cart: ['apple'], info: [] })
    expect(adapter.calls.map((call) => call.method)).toEqual(['load'])
  })

  it('under onUnavailable continue, a message queued on an unavailable stash is dropped like a write, with an error event', async () => {
    const adapter = failingAdapter(makeAdapter())
    const { app, stash } = start({ onUnavailable: 'continue' }, adapter)
    const errors: unknown[] = []
    stash.on('error', (err) => errors.push(err))
    const agent = request.agent(app)
    await agent.post('/cart').send({ item: 'apple' }).expect(200)
    await agent.post('/flash').send({ key: 'info', value: 'kept' }).expect(200)
    adapter.failing.add('load')
    await agent.post('/cart/flash').send({ key: 'info', value: 'dropped' }).expect(200, { count: 1 })
    await agent.get('/cart/flash/info').expect(200, [])
    expect(errors).toContainEqual(expect.objectContaining({ code: 'ERR_STASH_UNAVAILABLE' }))
    adapter.failing.delete('load')
    await stash.ready()
    await agent.get('/cart/flash/info').expect(200, ['kept'])
  })

  it('fails the request with 503 when the store cannot take the messages, and keeps them for later', async () => {
    const adapter = failingAdapter(makeAdapter())
    const { app, stash } = start({}, adapter)
    const agent = request.agent(app)
    await agent.post('/flash').send({ key: 'info', value: 'kept' }).expect(200)
    adapter.failing.add('compareAndSet')
    await agent.get('/flash/info').expect(stashError(503, 'ERR_STASH_UNAVAILABLE'))
    adapter.failing.delete('compareAndSet')
    await stash.ready()
    await agent.get('/flash/info').expect(200, ['kept'])
  })

  it('refuses flash and reload as stored key names', () => {
    for (const name of ['flash', 'reload', '~flash']) {
      expect(() => createStash({ secret: 'flash test secret', adapter: memoryAdapter(), storedKeys: [name] })).toThrow(TypeError)
    }
  })

  it('signs into the cookie that messages wait, and that they were taken', async () => {
    const { app } = start()
    const agent = request.agent(app)
    const added = await agent.post('/flash').send({ key: 'info', value: 'x' }).expect(200)
    expect(decodeURIComponent(cookiePair(added))).toContain('(.')
    const taken = await agent.get('/flash/info').expect(200, ['x'])
    expect(decodeURIComponent(cookiePair(taken))).toContain(').')
    expect(idOf(cookiePair(taken))).toBe(idOf(cookiePair(added)))
    // The flag is signed: a client that flips it gets a fresh stash, not a read of the field.
    await agent.post('/flash').send({ key: 'info', value: 'y' }).expect(200)
    const forged = cookiePair(taken).replace('%29', '%28').replace(')', '(')
    await request(app).get('/flash/info').set('Cookie', forged).expect(200, [])
    await agent.get('/flash/info').expect(200, ['y'])
  })
})
