/**
 * Mistakes an app makes in its first week, and what it is told: a key assigned on a route that
 * does not store it, values JSON cannot bring back, two stash instances on one request.
 */
import express from 'express'
import request from 'supertest'
import { createStash, type StashMiddleware } from '../lib/index.js'
import { cookiePair, stashError } from './support/http.js'

declare module '../lib/types' {
  interface StashData {
    cart: string[]
    when: unknown
    prefs: unknown
  }
}

const opened: StashMiddleware[] = []
afterAll(() => Promise.all(opened.map((stash) => stash.close())))
const errorJson: express.ErrorRequestHandler = (err: { status?: number; code?: string; message: string }, _req, res, _next) => {
  res.status(err.status ?? 500).json({ code: err.code, message: err.message })
}

function stashed() {
  const stash = createStash({ secret: 'mistakes secret' })
  opened.push(stash)
  return stash
}

describe('a write to a key this route does not store', () => {
  const env = process.env.NODE_ENV
  let warnings: jest.SpyInstance
  beforeEach(() => {
    warnings = jest.spyOn(process, 'emitWarning').mockImplementation(() => undefined)
  })
  afterEach(() => {
    warnings.mockRestore()
    process.env.NODE_ENV = env
  })
  const unstored = () => warnings.mock.calls.filter(([, o]) => (o as { code?: string })?.code === 'EXPRESS_STASH_UNSTORED_KEY')

  function shop() {
    const stash = stashed()
    const app = express().use(stash)
    app.get('/cart', stash.route({ storedKeys: ['cart'] }), (req, res) => void res.json({ cart: req.stash.cart ?? [] }))
    // The mistake: this route forgot `stash.route({ storedKeys: ['cart'] })`.
    app.post('/cart/:item', (req, res) => {
      req.stash.cart = [...(req.stash.cart ?? []), String(req.params.item)]
      res.json({ cart: req.stash.cart })
    })
    app.post('/note', (req, res) => {
      req.stash.prefs = 'request only' // stored by no route: meant for this request
      res.json({})
    })
    return app
  }

  it('is warned of once per key and route outside production, naming both', async () => {
    process.env.NODE_ENV = 'development'
    const app = shop()
    await request(app)
      .post('/cart/apple')
      .expect(200, { cart: ['apple'] })
    await request(app).post('/cart/pear').expect(200)
    expect(unstored()).toHaveLength(1)
    expect(String(unstored()[0]![0])).toMatch(/req\.stash\.cart was assigned on POST \/cart\/:item, which does not store "cart"/)
    await request(app).post('/note').expect(200)
    expect(unstored()).toHaveLength(1) // a key no route stores is a request-only value, as documented
  })

  it('is not warned of in production (unless DEBUG=express-stash)', async () => {
    process.env.NODE_ENV = 'production'
    const stash = createStash({ secret: 'a production secret of 32 chars!' })
    opened.push(stash)
    const app = express().use(stash)
    app.get('/cart', stash.route({ storedKeys: ['cart'] }), (_req, res) => void res.json({}))
    app.post('/cart', (req, res) => {
      req.stash.cart = ['x']
      res.json({})
    })
    await request(app).post('/cart').expect(200)
    expect(unstored()).toHaveLength(0)
  })
})

describe('values JSON cannot bring back', () => {
  function app() {
    const stash = stashed()
    const app = express().use(express.json(), stash.route({ storedKeys: ['when', 'prefs'] }))
    app.post('/when', (req, res) => {
      req.stash.when = new Date(0)
      res.json({})
    })
    app.post('/prefs', (req, res) => {
      req.stash.prefs = req.body
      res.json({})
    })
    app.post('/update', async (req, res) => {
      await req.stash.update('prefs', () => ({ seen: new Set(['a']) }))
      res.json({})
    })
    app.get('/', (req, res) => void res.json({ when: req.stash.when ?? null, prefs: req.stash.prefs ?? null }))
    app.use(errorJson)
    return app
  }

  it.each([
    ['a Date', '/when', 'when is a Date, which JSON brings back as a string'],
    ['a Set inside update()', '/update', 'prefs.seen is a Set'],
  ])('fails the write of %s with ERR_STASH_SERIALIZE naming the key; nothing is stored', async (_what, path, text) => {
    const res = await request(app())
      .post(path)
      .expect(stashError(500, 'ERR_STASH_SERIALIZE', text))
    expect(res.headers['set-cookie']).toBeUndefined()
  })

  it('stores plain JSON as it is, nested objects and arrays included', async () => {
    const site = app()
    const body = { theme: 'dark', sizes: [1, 2.5, null], nested: { ok: true, list: [{ a: 'b' }] } }
    const res = await request(site).post('/prefs').send(body).expect(200)
    await request(site).get('/').set('Cookie', cookiePair(res)).expect(200, { when: null, prefs: body })
  })

  it('names NaN, a function and an array hole', async () => {
    const stash = stashed()
    const site = express().use(stash.route({ storedKeys: ['prefs'] }))
    const values: Record<string, unknown> = { nan: { n: Number.NaN }, fn: { f: () => 1 }, hole: [1, , 3] } // eslint-disable-line no-sparse-arrays
    site.post('/:kind', (req, res) => {
      req.stash.prefs = values[String(req.params.kind)]
      res.json({})
    })
    site.use(errorJson)
    await request(site)
      .post('/nan')
      .expect(stashError(500, 'ERR_STASH_SERIALIZE', 'prefs.n is NaN'))
    await request(site)
      .post('/fn')
      .expect(stashError(500, 'ERR_STASH_SERIALIZE', 'prefs.f is a function'))
    await request(site)
      .post('/hole')
      .expect(stashError(500, 'ERR_STASH_SERIALIZE', 'prefs[1] is a hole'))
  })
})

describe('two stash instances on one request', () => {
  it('is a clear TypeError at the request; one instance mounted twice is supported', async () => {
    const a = stashed()
    const b = stashed()
    const twice = express()
      .use(a, b, (_req, res) => void res.json({}))
      .use(errorJson)
    await request(twice)
      .get('/')
      .expect(500)
      .expect((res) =>
        expect(res.body.message).toMatch(/already has a stash of another instance: one request carries one stash instance/),
      )
    const same = express().use(a, a.route({ storedKeys: ['cart'] }), a)
    same.get('/', (req, res) => void res.json({ cart: (req.stash.cart ??= ['x']) }))
    const first = await request(same)
      .get('/')
      .expect(200, { cart: ['x'] })
    await request(same)
      .get('/')
      .set('Cookie', cookiePair(first))
      .expect(200, { cart: ['x'] })
  })
})
