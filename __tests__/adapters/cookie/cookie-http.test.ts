/**
 * The cookie adapter over HTTP, the way an application uses it: a cart that lives in the
 * client's cookies only (and survives a restart), remember me, rotate() at login, reset() at
 * logout (and what a replayed cookie does afterwards), secret rotation, and update() across
 * concurrent requests.
 */
import express from 'express'
import session from 'express-session'
import request from 'supertest'
import { cookieAdapter, createStash } from '../../../lib/index.js'
import { ID, Jar, lineOf, SEALED, SECRET, setCookies, shop } from './cookie-app.js'

declare module 'express-session' {
  interface SessionData {
    userId?: string
  }
}

const opened: { close(): Promise<void> }[] = []
afterAll(() => Promise.all(opened.map((stash) => stash.close())))

/** The shop of cookie-app.ts, closed after the tests. */
function app(options: Parameters<typeof shop>[0] = {}) {
  const made = shop(options)
  opened.push(made.stash)
  return made
}

/** A jar holding a cart of `items`, added one request at a time. */
async function cartOf(target: express.Express, ...items: string[]): Promise<Jar> {
  const jar = new Jar()
  for (const item of items) jar.take(await request(target).post('/cart').set('Cookie', jar.header()).send({ item }).expect(200))
  return jar
}

const getCart = (target: express.Express, jar: Jar | string) =>
  request(target)
    .get('/cart')
    .set('Cookie', typeof jar === 'string' ? jar : jar.header())

describe('a cart kept in the client’s cookies', () => {
  it('lives across requests and restarts with no server state: a fresh adapter with the same secret reads it', async () => {
    const first = app()
    const jar = await cartOf(first.app, 'apple', 'pear')
    expect([...jar.cookies.keys()].sort()).toEqual([ID, SEALED])
    // Sealed, not readable: the items appear nowhere in the cookies.
    expect(decodeURIComponent(jar.header())).not.toMatch(/apple|pear/)
    const read = await getCart(first.app, jar).expect(200, { cart: ['apple', 'pear'], memo: null })
    expect(setCookies(read)).toEqual([]) // a read that slides nothing sends no cookie
    await first.stash.close()

    const restarted = app() // a new process: a new adapter, nothing shared but the secret
    await getCart(restarted.app, jar).expect(200, { cart: ['apple', 'pear'], memo: null })
    jar.take(await request(restarted.app).post('/cart').set('Cookie', jar.header()).send({ item: 'plum' }).expect(200))
    await getCart(restarted.app, jar).expect(200, { cart: ['apple', 'pear', 'plum'], memo: null })
  })

  it('every response that changes the stash sends both cookies, with the same attributes', async () => {
    const { app: shopApp } = app({ cookie: { path: '/', sameSite: 'strict' } })
    const res = await request(shopApp).post('/cart').send({ item: 'apple' }).expect(200)
    const [id, sealed] = [lineOf(res, ID)!, lineOf(res, SEALED)!]
    const attributes = (line: string) => line.slice(line.indexOf(';'))
    expect(attributes(sealed)).toBe(attributes(id))
    expect(attributes(id)).toMatch(/Path=\/; HttpOnly; SameSite=Strict$/)
    expect(setCookies(res)).toHaveLength(2)
  })

  it('update() is atomic within a request only: of two concurrent requests, the last response wins', async () => {
    const { app: shopApp } = app()
    const jar = await cartOf(shopApp, 'apple')
    const [a, b] = await Promise.all(
      ['a', 'b'].map((item) => request(shopApp).post('/cart').set('Cookie', jar.header()).send({ item }).expect(200)),
    )
    expect(a!.body.cart).toEqual(['apple', 'a'])
    expect(b!.body.cart).toEqual(['apple', 'b'])
    jar.take(a!)
    jar.take(b!)
    await getCart(shopApp, jar).expect(200, { cart: ['apple', 'b'], memo: null }) // not both: no server serializes them
  })
})

describe('login, logout and remember me', () => {
  it('remember me: both cookies get the same lifetime; without it both are browser-session cookies', async () => {
    const { app: shopApp } = app()
    const jar = await cartOf(shopApp, 'apple')
    const plain = await request(shopApp).post('/login').set('Cookie', jar.header()).send({}).expect(200)
    for (const name of [ID, SEALED]) expect(lineOf(plain, name)).not.toMatch(/Max-Age|Expires/)
    jar.take(plain)

    const remembered = await request(shopApp).post('/login').set('Cookie', jar.header()).send({ remember: true }).expect(200)
    const maxAge = (line: string | undefined) => /Max-Age=(\d+)/.exec(line ?? '')?.[1]
    const expires = (line: string | undefined) => /Expires=([^;]+)/.exec(line ?? '')?.[1]
    expect(maxAge(lineOf(remembered, ID))).toBe('300') // the lifetime, cut to the stash's ttl
    expect(maxAge(lineOf(remembered, SEALED))).toBe(maxAge(lineOf(remembered, ID)))
    expect(expires(lineOf(remembered, SEALED))).toBe(expires(lineOf(remembered, ID)))
    jar.take(remembered)
    await getCart(shopApp, jar).expect(200, { cart: ['apple'], memo: null })
  })

  it('rotate() at login: a new ID and a new seal that opens with the new ID only; the old pair still holds what it held', async () => {
    const { app: shopApp } = app()
    const jar = await cartOf(shopApp, 'apple')
    const before = jar.copy()
    const login = await request(shopApp).post('/login').set('Cookie', jar.header()).send({}).expect(200)
    expect(lineOf(login, ID)).toBeDefined()
    expect(lineOf(login, SEALED)).toBeDefined()
    jar.take(login)
    expect(jar.cookies.get(ID)).not.toBe(before.cookies.get(ID))
    expect(jar.cookies.get(SEALED)).not.toBe(before.cookies.get(SEALED))
    await getCart(shopApp, jar).expect(200, { cart: ['apple'], memo: null })

    // The new seal with the planted (pre-login) ID opens nothing: the seal is bound to its ID.
    const mixed = `${ID}=${before.cookies.get(ID)}; ${SEALED}=${jar.cookies.get(SEALED)}`
    await getCart(shopApp, mixed).expect(200, { cart: [], memo: null })
    // Documented: a stateless cookie cannot be revoked, so the pre-login pair still opens its own
    // (pre-login) content; what the login added lives under the new ID only.
    await getCart(shopApp, before).expect(200, { cart: ['apple'], memo: null })
  })

  it('reset() at logout clears both cookies; the old pair replayed afterwards still opens (documented: no revocation)', async () => {
    const { app: shopApp } = app()
    const jar = await cartOf(shopApp, 'apple')
    const before = jar.copy()
    const logout = await request(shopApp).post('/logout').set('Cookie', jar.header()).send({}).expect(200)
    expect(lineOf(logout, ID)).toMatch(/^stash=; .*Expires=Thu, 01 Jan 1970/)
    expect(lineOf(logout, SEALED)).toMatch(/^stash\.data=; .*Expires=Thu, 01 Jan 1970/)
    jar.take(logout)
    expect(jar.cookies.size).toBe(0)
    await getCart(shopApp, jar).expect(200, { cart: [], memo: null })
    await getCart(shopApp, before).expect(200, { cart: ['apple'], memo: null })
  })

  it('with sessionKey and a server-side session, a stash cookie replayed after logout no longer opens', async () => {
    const stash = createStash({ secret: SECRET, adapter: cookieAdapter(), sessionKey: 'userId', storedKeys: ['cart'] })
    opened.push(stash)
    const target = express()
    target.use(express.json())
    target.use(session({ secret: SECRET, resave: false, saveUninitialized: false }))
    target.use(stash)
    target.post('/cart', (req, res) => {
      req.stash.cart = [...(req.stash.cart ?? []), String(req.body.item)]
      res.json({ cart: req.stash.cart })
    })
    target.get('/cart', (req, res) => void res.json({ cart: req.stash.cart ?? [] }))
    target.post('/login', async (req, res) => {
      req.session.userId = 'ada'
      await req.stash.rotate()
      res.json({ ok: true })
    })
    target.post('/logout', async (req, res) => {
      await req.stash.reset()
      req.session.destroy(() => res.json({ ok: true }))
    })
    const jar = new Jar()
    jar.take(await request(target).post('/cart').send({ item: 'apple' }).expect(200))
    jar.take(await request(target).post('/login').set('Cookie', jar.header()).expect(200))
    jar.take(await request(target).post('/cart').set('Cookie', jar.header()).send({ item: 'pear' }).expect(200))
    await request(target)
      .get('/cart')
      .set('Cookie', jar.header())
      .expect(200, { cart: ['apple', 'pear'] })
    const before = jar.copy() // every cookie of the logged-in browser, the session's included
    jar.take(await request(target).post('/logout').set('Cookie', jar.header()).expect(200))
    // The session is gone from the server, so the replayed stash cookie meets no user: it was
    // sealed for ada's session and opens for nothing else.
    await request(target).get('/cart').set('Cookie', before.header()).expect(200, { cart: [] })
  })
})

describe('secret rotation', () => {
  it('the first secret seals, all open; a cookie opened with an old secret is resealed on the next response that sends it', async () => {
    const [oldSecret, newSecret] = ['the old secret, 32 characters or more', 'the new secret, 32 characters or more']
    const jar = await cartOf(app({ secret: oldSecret }).app, 'apple')
    const underOld = jar.copy()

    const rotating = app({ secret: [newSecret, oldSecret] }).app
    const reread = await getCart(rotating, jar).expect(200, { cart: ['apple'], memo: null })
    expect(lineOf(reread, ID)).toBeDefined() // re-signed
    expect(lineOf(reread, SEALED)).toBeDefined() // and resealed
    jar.take(reread)
    expect(jar.cookies.get(SEALED)).not.toBe(underOld.cookies.get(SEALED))

    const rotated = app({ secret: newSecret }).app // the old secret dropped
    await getCart(rotated, jar).expect(200, { cart: ['apple'], memo: null })
    await getCart(rotated, underOld).expect(200, { cart: [], memo: null })
  })
})
