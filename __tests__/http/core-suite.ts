import '../support/stash-data.js'
import request from 'supertest'
import { createStash, type StashAdapter, type StashMiddleware, type StashOptions } from '../../lib/index.js'
import { countingAdapter } from '../support/adapters.js'
import { sendJson, type Framework, type Handler, type TestApp } from '../support/frameworks.js'
import { cookiePair, idOf, noStashCookie, setCookie } from '../support/http.js'

/** Builds an app around a stash; closes every stash when the suite ends. */
export function appFactory(framework: Framework, makeAdapter: () => StashAdapter) {
  const opened: StashMiddleware[] = []
  afterAll(() => Promise.all(opened.map((stash) => stash.close())))
  return (options: StashOptions = {}, mount?: (app: TestApp, stash: StashMiddleware) => void) => {
    const adapter = countingAdapter(options.adapter ?? makeAdapter())
    const stash = createStash({ secret: 'test secret', ...options, adapter })
    opened.push(stash)
    const app = framework.create()
    if (mount) mount(app, stash)
    else app.use(stash)
    return { app, stash, adapter, agent: () => request.agent(app.listener), http: () => request(app.listener) }
  }
}

/** `GET /count` increments `req.stash.count` and answers it. */
export const counter: Handler = (req, res) => {
  req.stash.count = (req.stash.count ?? 0) + 1
  sendJson(res, { count: req.stash.count })
}

/** Answers the data of `req.stash`, as `Object.keys`/`JSON.stringify` see it. */
export const show: Handler = (req, res) =>
  sendJson(res, { keys: Object.keys(req.stash), json: JSON.parse(JSON.stringify(req.stash)) })

/**
 * The HTTP behaviour of DESIGN §2–§4 (persistence, cost, dirty tracking, routes, cookies),
 * through real requests, for one framework and one adapter.
 */
export function runCoreSuite(framework: Framework, makeAdapter: () => StashAdapter): void {
  describe(`core behaviour (${framework.name})`, () => {
    const setup = appFactory(framework, makeAdapter)

    it('restores stored keys on the next request', async () => {
      const { app, stash, agent } = setup({ storedKeys: ['count'] }, (a, s) => a.use(s))
      app.route('GET', '/count', counter)
      const client = agent()
      for (let n = 1; n <= 3; n++) await client.get('/count').expect(200, { count: n })
      await request(app.listener).get('/count').expect(200, { count: 1 })
      expect(stash).toBeDefined()
    })

    it('costs nothing for a visitor without cookie who stores nothing', async () => {
      const { app, adapter, http } = setup({ storedKeys: ['count'] })
      app.route('GET', '/', show)
      await http().get('/').expect(noStashCookie).expect(200, { keys: [], json: {} })
      expect(adapter.calls).toEqual([])
    })

    it('costs one load for a read-only request and one write more for a change', async () => {
      const { app, adapter, agent } = setup({ storedKeys: ['count'] })
      app.route('GET', '/count', counter)
      app.route('GET', '/read', show)
      const client = agent()
      await client.get('/count').expect(200)
      expect(adapter.calls.map((c) => c.method)).toEqual(['write'])
      adapter.reset()
      await client
        .get('/read')
        .expect(noStashCookie)
        .expect(200, { keys: ['count'], json: { count: 1 } })
      expect(adapter.calls.map((c) => c.method)).toEqual(['load'])
      adapter.reset()
      await client.get('/count').expect(noStashCookie).expect(200, { count: 2 })
      expect(adapter.calls.map((c) => c.method)).toEqual(['load', 'write'])
    })

    it('sets the cookie only when a new ID is issued, with safe defaults', async () => {
      const { app, agent } = setup({ storedKeys: ['count'] })
      app.route('GET', '/count', counter)
      const client = agent()
      const first = await client.get('/count').expect(200)
      expect(setCookie(first)).toMatch(/^stash=s%3A[A-Za-z0-9_-]{32}\.[^;]+; Path=\/; HttpOnly; SameSite=Lax$/)
      await client.get('/count').expect(noStashCookie).expect(200, { count: 2 })
    })

    it('writes only keys whose serialized value changed, including nested mutations', async () => {
      const { app, adapter, agent } = setup({ storedKeys: ['profile', 'tags'] })
      app.route('GET', '/init', (req, res) => {
        req.stash.profile = { name: 'ada', langs: ['en'] }
        req.stash.tags = ['a']
        sendJson(res, {})
      })
      app.route('GET', '/same', (req, res) => {
        req.stash.profile = { name: 'ada', langs: ['en'] } // a new object, same JSON
        sendJson(res, {})
      })
      app.route('GET', '/nested', (req, res) => {
        req.stash.profile.langs.push('fr')
        sendJson(res, {})
      })
      app.route('GET', '/', show)
      const client = agent()
      await client.get('/init').expect(200)
      adapter.reset()
      await client.get('/same').expect(200)
      expect(adapter.calls.map((c) => c.method)).toEqual(['load'])
      adapter.reset()
      await client.get('/nested').expect(200)
      const write = adapter.calls.find((c) => c.method === 'write')!
      expect(Object.keys((write.args[1] as { set: object }).set)).toEqual(['profile'])
      await client
        .get('/')
        .expect(200, { keys: ['profile', 'tags'], json: { profile: { name: 'ada', langs: ['en', 'fr'] }, tags: ['a'] } })
    })

    it('keeps undeclared keys for the request only, and removes deleted stored keys', async () => {
      const { app, agent } = setup({ storedKeys: ['kept', 'gone'] })
      app.route('GET', '/set', (req, res) => {
        req.stash.kept = 1
        req.stash.gone = 2
        req.stash.scratch = 'request only'
        sendJson(res, { scratch: req.stash.scratch })
      })
      app.route('GET', '/delete', (req, res) => {
        delete req.stash.gone
        sendJson(res, {})
      })
      app.route('GET', '/', show)
      const client = agent()
      await client.get('/set').expect(200, { scratch: 'request only' })
      await client.get('/').expect(200, { keys: ['kept', 'gone'], json: { kept: 1, gone: 2 } })
      await client.get('/delete').expect(200)
      await client.get('/').expect(200, { keys: ['kept'], json: { kept: 1 } })
    })

    it('shows only data to Object.keys and JSON.stringify, and keeps methods read-only', async () => {
      const { app, http } = setup({ storedKeys: ['a'] })
      app.route('GET', '/', (req, res) => {
        req.stash.a = 1
        const methods = ['save', 'reset', 'rotate', 'update'].map((m) => typeof (req.stash as Record<string, unknown>)[m])
        let assignment = 'allowed'
        try {
          ;(req.stash as Record<string, unknown>).save = 1
        } catch (err) {
          assignment = (err as Error).constructor.name
        }
        sendJson(res, {
          keys: Object.keys(req.stash),
          json: JSON.stringify(req.stash),
          spread: { ...req.stash },
          methods,
          assignment,
          available: req.stash.available,
        })
      })
      await http()
        .get('/')
        .expect(200, {
          keys: ['a'],
          json: '{"a":1}',
          spread: { a: 1 },
          methods: ['function', 'function', 'function', 'function'],
          assignment: 'TypeError',
          available: true,
        })
    })

    it('route() works alone, and on top of the global stash loads only the new keys', async () => {
      const { adapter, agent } = setup({ storedKeys: ['theme'], ttl: 60 }, (a, s) => {
        a.use(s)
        const cart = s.route({ storedKeys: ['cart', 'theme'], ttl: 3600 })
        a.route('GET', '/cart', cart, (req, res) => {
          req.stash.cart = [...(req.stash.cart ?? []), 'apple']
          req.stash.theme = 'dark'
          sendJson(res, { cart: req.stash.cart })
        })
        a.route('GET', '/', show)
      })
      const client = agent()
      // The route declares theme too: both keys take its ttl.
      const inAnHour = () => expect.closeTo(Date.now() + 3_600_000, -4) // within 5 s
      await client.get('/cart').expect(200, { cart: ['apple'] })
      expect(adapter.calls.map((c) => [c.method, (c.args[1] as { expiresAt: unknown }).expiresAt])).toEqual([
        ['write', { cart: inAnHour(), theme: inAnHour() }],
      ])
      adapter.reset()
      await client.get('/cart').expect(200, { cart: ['apple', 'apple'] })
      expect(adapter.calls.map((c) => [c.method, c.args[1]])).toEqual([
        ['load', ['theme', '~flash']], // the first load reads the flash messages' field too
        ['load', ['cart']],
        // Only the changed key; theme's expiry is not due to slide moments after it was set.
        ['write', expect.objectContaining({ set: { cart: expect.any(String) }, expiresAt: { cart: inAnHour() } })],
      ])
      await client.get('/').expect(200, { keys: ['theme'], json: { theme: 'dark' } })
    })

    it('route() alone attaches a stash with the instance keys plus its own', async () => {
      const { agent } = setup({ storedKeys: ['count'] }, (a, s) => {
        const route = s.route({ storedKeys: ['visits'] })
        a.route('GET', '/', route, (req, res) => {
          req.stash.count = (req.stash.count ?? 0) + 1
          req.stash.visits = (req.stash.visits ?? 0) + 10
          sendJson(res, { count: req.stash.count, visits: req.stash.visits })
        })
      })
      const client = agent()
      await client.get('/').expect(200, { count: 1, visits: 10 })
      await client.get('/').expect(200, { count: 2, visits: 20 })
    })

    it('re-sends the cookie on every response when rolling, with Max-Age', async () => {
      const { app, agent } = setup({ storedKeys: ['count'], rolling: true, cookie: { maxAge: 120 } })
      app.route('GET', '/count', counter)
      app.route('GET', '/', show)
      const client = agent()
      const first = await client.get('/count').expect(200)
      const again = await client.get('/').expect(200)
      expect(setCookie(again)).toMatch(/Max-Age=120; .*Expires=/)
      expect(cookiePair(again)).toBe(cookiePair(first))
    })

    it('never adopts an unknown ID, even one signed with the secret', async () => {
      const { app, http } = setup({ storedKeys: ['count'] })
      app.route('GET', '/count', counter)
      const stranger = await http().get('/count').expect(200)
      // Same secret, other store: this app's store has never seen the ID.
      const other = setup({ storedKeys: ['count'] })
      other.app.route('GET', '/count', counter)
      const res = await other.http().get('/count').set('Cookie', cookiePair(stranger)).expect(200, { count: 1 })
      expect(idOf(cookiePair(res))).not.toBe(idOf(cookiePair(stranger)))
    })
  })
}
