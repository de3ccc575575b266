/**
 * The flows every app has, written the way the README teaches them and driven over HTTP:
 * anonymous cart, login with rotate(), remember me, logout, log out everywhere; on the memory
 * adapter and on a real Redis.
 */
import { randomBytes } from 'node:crypto'
import express from 'express'
import session from 'express-session'
import request from 'supertest'
import { createStash, memoryAdapter, redisAdapter, type StashAdapter, type StashOptions } from '../lib/index.js'
import { cookiePair, idOf, noStashCookie, setCookie, setCookies, sleep, stashError } from './support/http.js'
import { useRedis } from './support/redis-client.js'

declare module 'express-session' {
  interface SessionData {
    userId?: string
  }
}
declare module '../lib/types' {
  interface StashData {
    cart: string[]
    theme: string
  }
}

const redis = useRedis()
const ADAPTERS: [string, () => StashAdapter][] = [
  ['memory', () => memoryAdapter()],
  ['redis', () => redisAdapter({ client: redis().client, prefix: `login:${randomBytes(6).toString('base64url')}:` })],
]

const errorJson: express.ErrorRequestHandler = (err: { status?: number; code?: string; message: string }, _req, res, _next) => {
  res.status(err.status ?? 500).json({ code: err.code, message: err.message })
}

describe.each(ADAPTERS)('login flows on %s', (_name, makeAdapter) => {
  const opened: { close(): Promise<void> }[] = []
  afterAll(() => Promise.all(opened.map((stash) => stash.close())))

  /** The README's app: a global stash with no stored keys, a cart route, login and logout. */
  function shop(options: StashOptions = {}) {
    const stash = createStash({ secret: 'login test secret', adapter: makeAdapter(), ...options })
    opened.push(stash)
    const cart = stash.route({ storedKeys: ['cart'], ttl: 3600 })
    const app = express()
    app.use(express.json())
    app.use(session({ secret: 'session secret', resave: false, saveUninitialized: false }))
    app.use(stash)
    app.post('/cart', cart, async (req, res) => {
      const cart = await req.stash.update('cart', (items = []) => [...items, String(req.body.item)])
      res.json({ cart })
    })
    app.get('/cart', cart, (req, res) => void res.json({ cart: req.stash.cart ?? [] }))
    app.post('/login', async (req, res) => {
      req.session.userId = String(req.body.user)
      if (req.body.remember === true) req.stash.cookie.maxAge = 30 * 24 * 3600
      await req.stash.rotate()
      res.json({ user: req.session.userId })
    })
    app.post('/logout', async (req, res) => {
      await req.stash.reset()
      req.session.destroy(() => res.json({ user: null }))
    })
    app.post('/logout-everywhere', async (req, res) => {
      res.json({ revoked: await stash.revokeAll(req.session.userId!) })
    })
    app.use(errorJson)
    return { app, stash }
  }

  const cookies = (res: request.Response) => (res.headers['set-cookie'] as unknown as string[]).map((line) => line.split(';')[0]!)

  it('rotate() on a route that stores no keys moves the whole stash to a new ID; the old cookie is worthless', async () => {
    const { app } = shop()
    const visit = await request(app)
      .post('/cart')
      .send({ item: 'apple' })
      .expect(200, { cart: ['apple'] })
    const planted = cookiePair(visit)
    const login = await request(app).post('/login').set('Cookie', planted).send({ user: 'ada' }).expect(200)
    const rotated = cookiePair(login)
    expect(idOf(rotated)).not.toBe(idOf(planted))
    await request(app)
      .get('/cart')
      .set('Cookie', rotated)
      .expect(200, { cart: ['apple'] })
    await request(app).get('/cart').set('Cookie', planted).expect(200, { cart: [] })
  })

  it('rotate() without a stash issues nothing until something is stored', async () => {
    const { app } = shop()
    await request(app).post('/login').send({ user: 'ada' }).expect(noStashCookie).expect(200)
  })

  it('sessionKey: anonymous cart, login binds it, the old cookie is worthless, logout everywhere ends it', async () => {
    const { app, stash } = shop({ sessionKey: 'userId' })
    const browser = request.agent(app)
    const anonymous = cookiePair(await browser.post('/cart').send({ item: 'apple' }).expect(200))
    await browser
      .post('/cart')
      .send({ item: 'pear' })
      .expect(200, { cart: ['apple', 'pear'] })
    expect(await stash.listFor('ada')).toEqual([])

    const login = await browser.post('/login').send({ user: 'ada' }).expect(200, { user: 'ada' })
    const bound = cookies(login).find((pair) => pair.startsWith('stash='))!
    expect(idOf(bound)).not.toBe(idOf(anonymous))
    await browser.get('/cart').expect(200, { cart: ['apple', 'pear'] })
    expect((await stash.listFor('ada')).map((entry) => entry.data)).toEqual([{ cart: ['apple', 'pear'] }])
    // The pre-login cookie, alone or with the user's own session, reaches nothing.
    await request(app).get('/cart').set('Cookie', anonymous).expect(200, { cart: [] })
    const sessionCookie = cookies(login).find((pair) => pair.startsWith('connect.sid='))!
    await request(app).get('/cart').set('Cookie', [sessionCookie, anonymous].join('; ')).expect(200, { cart: [] })
    // A stolen stash cookie without the session is an anonymous visitor: it sees nothing.
    await request(app).get('/cart').set('Cookie', bound).expect(200, { cart: [] })

    await browser.post('/logout-everywhere').expect(200, { revoked: 1 })
    await browser.get('/cart').expect(200, { cart: [] })
    expect(await stash.listFor('ada')).toEqual([])
  })

  it("binds at login when the request itself brings the session value, and never carries one user's stash to another", async () => {
    const stash = createStash({
      secret: 'login test secret',
      adapter: makeAdapter(),
      storedKeys: ['cart'],
      sessionKey: (req) => req.headers['x-user'] as string | undefined,
    })
    opened.push(stash)
    const app = express().use(stash)
    app.post(
      '/cart/:item',
      (req, res) => void res.json({ cart: (req.stash.cart = [...(req.stash.cart ?? []), String(req.params.item)]) }),
    )
    app.get('/cart', (req, res) => void res.json({ cart: req.stash.cart ?? [] }))
    app.post('/login', async (req, res) => {
      await req.stash.rotate()
      res.json({ cart: req.stash.cart ?? [] })
    })
    const anonymous = cookiePair(await request(app).post('/cart/apple').expect(200))
    // The value arrives with the login request: its load finds no bound record; rotate() finds the anonymous one.
    const ada = cookiePair(await request(app).post('/login').set('X-User', 'ada').set('Cookie', anonymous).expect(200))
    await request(app)
      .get('/cart')
      .set('X-User', 'ada')
      .set('Cookie', ada)
      .expect(200, { cart: ['apple'] })
    await request(app).get('/cart').set('Cookie', anonymous).expect(200, { cart: [] })
    // Bob's request reaches no stash of Ada's (that needs her session value): he starts empty.
    await request(app).post('/login').set('X-User', 'bob').set('Cookie', ada).expect(200, { cart: [] })
    await request(app)
      .get('/cart')
      .set('X-User', 'ada')
      .set('Cookie', ada)
      .expect(200, { cart: ['apple'] })
  })

  it("a login that switches users during the request deletes the previous user's stash instead of carrying it", async () => {
    const { app, stash } = shop({ sessionKey: 'userId' })
    const browser = request.agent(app)
    await browser.post('/login').send({ user: 'ada' }).expect(200)
    await browser
      .post('/cart')
      .send({ item: 'ring' })
      .expect(200, { cart: ['ring'] })
    // Bob logs in on Ada's browser without a logout: the session says ada until the handler sets bob.
    const bob = await browser.post('/login').send({ user: 'bob' }).expect(200, { user: 'bob' })
    expect(setCookie(bob)).toMatch(/^stash=; /)
    expect(await stash.listFor('ada')).toEqual([])
    await browser.get('/cart').expect(200, { cart: [] })
  })

  it('logout with reset() deletes the stash and clears its cookie', async () => {
    const { app, stash } = shop({ sessionKey: 'userId' })
    const browser = request.agent(app)
    await browser.post('/cart').send({ item: 'fig' }).expect(200)
    const login = await browser.post('/login').send({ user: 'bob' }).expect(200)
    const bound = cookiePair(login)
    const logout = await browser.post('/logout').expect(200, { user: null })
    expect(setCookie(logout)).toMatch(/^stash=; Path=\/; Expires=Thu, 01 Jan 1970 00:00:00 GMT/)
    expect(await stash.listFor('bob')).toEqual([])
    await browser.post('/login').send({ user: 'bob' }).expect(200)
    await browser.get('/cart').set('Cookie', bound).expect(200, { cart: [] })
  })

  it('numeric session values bind, list and revoke alike', async () => {
    const stash = createStash({
      secret: 'login test secret',
      adapter: makeAdapter(),
      sessionKey: (req) => Number(req.headers['x-user']) || undefined,
      storedKeys: ['theme'] as never,
    })
    opened.push(stash)
    const app = express().use(stash)
    app.get('/theme', (req, res) => void res.json({ theme: (req.stash.theme ??= 'dark') }))
    await request(app).get('/theme').set('X-User', '42').expect(200)
    expect((await stash.listFor(42)).map((entry) => entry.data)).toEqual([{ theme: 'dark' }])
    expect(await stash.revokeAll(42)).toBe(1)
    await expect(stash.revokeAll(Number.NaN)).rejects.toThrow(/a non-empty string or a finite number/)
  })

  it('a session value of another type is a clear error, not an anonymous stash', async () => {
    const stash = createStash({ secret: 'login test secret', adapter: makeAdapter(), sessionKey: 'user' })
    opened.push(stash)
    const app = express()
    app.use((req, _res, next) => {
      ;(req as { session?: object }).session = { user: { id: 1 } }
      next()
    })
    app.use(stash)
    app.get('/', (_req, res) => void res.json({}))
    app.use(errorJson)
    await request(app)
      .get('/')
      .expect(stashError(500, 'ERR_STASH_SESSION_KEY', 'sessionKey "user" holds an object'))
  })
})

describe.each(ADAPTERS)('remember me on %s', (_name, makeAdapter) => {
  const opened: { close(): Promise<void> }[] = []
  afterAll(() => Promise.all(opened.map((stash) => stash.close())))
  const DAY = 24 * 3600

  function site(options: StashOptions = {}) {
    const stash = createStash({
      secret: 'remember secret',
      adapter: makeAdapter(),
      storedKeys: ['theme'],
      ttl: 30 * DAY,
      ...options,
    })
    opened.push(stash)
    const app = express().use(express.json(), stash)
    app.post('/login', async (req, res) => {
      if (req.body.remember === true) req.stash.cookie.maxAge = 7 * DAY
      await req.stash.rotate()
      req.stash.theme ??= 'light'
      res.json({ maxAge: req.stash.cookie.maxAge ?? null })
    })
    app.post('/forget', (req, res) => {
      req.stash.cookie.maxAge = null
      res.json({ maxAge: req.stash.cookie.maxAge ?? null })
    })
    app.get('/theme', (req, res) => void res.json({ theme: req.stash.theme ?? null, maxAge: req.stash.cookie.maxAge ?? null }))
    app.post('/logout', async (req, res) => {
      await req.stash.reset()
      req.stash.theme = 'dark' // a new anonymous stash after logout
      res.json({ maxAge: req.stash.cookie.maxAge ?? null })
    })
    app.use(errorJson)
    return { app, stash }
  }

  it("makes this client's cookie persistent while others keep a browser-session cookie", async () => {
    const { app } = site()
    const remembered = await request(app)
      .post('/login')
      .send({ remember: true })
      .expect(200, { maxAge: 7 * DAY })
    expect(setCookie(remembered)).toMatch(new RegExp(`; Max-Age=${7 * DAY}; Path=/; Expires=`))
    const other = await request(app).post('/login').send({}).expect(200, { maxAge: null })
    expect(setCookie(other)).not.toMatch(/Max-Age|Expires/)
    // The lifetime rides in the signed cookie: a later request knows it without a store call.
    await request(app)
      .get('/theme')
      .set('Cookie', cookiePair(remembered))
      .expect(noStashCookie)
      .expect(200, { theme: 'light', maxAge: 7 * DAY })
  })

  it('rotate() keeps it, reset() clears it, null returns to a browser-session cookie', async () => {
    const { app } = site()
    const first = await request(app).post('/login').send({ remember: true }).expect(200)
    const again = await request(app)
      .post('/login')
      .set('Cookie', cookiePair(first))
      .send({})
      .expect(200, { maxAge: 7 * DAY })
    expect(idOf(cookiePair(again))).not.toBe(idOf(cookiePair(first)))
    expect(setCookie(again)).toMatch(new RegExp(`Max-Age=${7 * DAY}`))
    const forgot = await request(app).post('/forget').set('Cookie', cookiePair(again)).expect(200, { maxAge: null })
    expect(setCookie(forgot)).not.toMatch(/Max-Age|Expires/)
    expect(idOf(cookiePair(forgot))).toBe(idOf(cookiePair(again)))
    const logout = await request(app).post('/logout').set('Cookie', cookiePair(again)).expect(200, { maxAge: null })
    // The new anonymous stash's cookie replaces the old one, as a browser-session cookie.
    const lines = setCookies(logout).filter((line) => line.startsWith('stash='))
    expect(lines).toHaveLength(1)
    expect(lines[0]).not.toMatch(/Max-Age|Expires/)
    expect(idOf(cookiePair(logout))).not.toBe(idOf(cookiePair(again)))
  })

  it('never outlives the stash: Max-Age is at most the ttl, and such a cookie is sent again as the stash slides', async () => {
    const { app } = site({ ttl: 3600 })
    const first = await request(app)
      .post('/login')
      .send({ remember: true })
      .expect(200, { maxAge: 7 * DAY })
    expect(setCookie(first)).toMatch(/; Max-Age=3600; /)
    // Moments later the stash does not slide (its expiry is within 1 % of the ttl): nothing to re-send.
    const next = await request(app)
      .get('/theme')
      .set('Cookie', cookiePair(first))
      .expect(200, { theme: 'light', maxAge: 7 * DAY })
    expect(setCookie(next)).toBeUndefined()

    const short = site({ ttl: 2 }).app
    const login = await request(short).post('/login').send({ remember: true }).expect(200)
    expect(setCookie(login)).toMatch(/; Max-Age=2; /)
    await sleep(100) // past 1 % of the ttl: the next load slides the stash, and the cookie with it
    const slid = await request(short)
      .get('/theme')
      .set('Cookie', cookiePair(login))
      .expect(200, { theme: 'light', maxAge: 7 * DAY })
    expect(setCookie(slid)).toMatch(/; Max-Age=2; /)
    expect(cookiePair(slid)).toBe(cookiePair(login))
  })

  it('on a route that loads nothing, confirms the stash exists before sending the new lifetime', async () => {
    const { app, stash } = site()
    const first = await request(app).post('/login').send({}).expect(200)
    const keyless = express().use(stash)
    keyless.post('/remember', (req, res) => {
      req.stash.cookie.maxAge = 3 * DAY
      res.json({})
    })
    expect(setCookie(await request(keyless).post('/remember').set('Cookie', cookiePair(first)).expect(200))).toMatch(
      /Max-Age=259200/,
    )
    await stash.clear()
    // The stash is gone: the cookie is cleared rather than made persistent.
    const gone = await request(keyless).post('/remember').set('Cookie', cookiePair(first)).expect(200)
    expect(setCookie(gone)).toMatch(/^stash=; Path=\/; Expires=Thu, 01 Jan 1970/)
  })

  it('refuses a lifetime that is not a positive number of seconds', async () => {
    const { app } = site()
    app.post('/bad', (req, res) => {
      req.stash.cookie.maxAge = -1
      res.json({})
    })
    app.use(errorJson)
    await request(app)
      .post('/bad')
      .expect(500)
      .expect((res) => expect(res.body.message).toMatch(/req\.stash\.cookie\.maxAge/))
  })
})
