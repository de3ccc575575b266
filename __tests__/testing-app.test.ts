/**
 * `seedStash()` and `readStash()` of `express-stash/testing`, used the way an application's own
 * tests use them: seed a stash, call a protected route with its cookie, read back what the app
 * wrote; on the memory adapter and on a real Redis (with and without the near cache).
 */
import { randomBytes } from 'node:crypto'
import express from 'express'
import request from 'supertest'
import {
  createStash,
  memoryAdapter,
  redisAdapter,
  type StashAdapter,
  type StashMiddleware,
  type StashOptions,
} from '../lib/index.js'
import { readStash, seedStash } from '../lib/testing/index.js'
import { noStashCookie, sleep } from './support/http.js'
import { useRedis } from './support/redis-client.js'
import { passportApp } from './passport/passport-app.js'

declare module '../lib/types' {
  interface StashData {
    user: string
    cart: string[]
  }
}

const redis = useRedis()
const prefix = () => `seed:${randomBytes(6).toString('base64url')}:`
const ADAPTERS: [string, () => StashAdapter][] = [
  ['memory', () => memoryAdapter()],
  ['redis', () => redisAdapter({ client: redis().client, prefix: prefix() })],
  ['redis with the near cache', () => redisAdapter({ url: redis().server.url, prefix: prefix(), cache: true })],
]

const opened: StashMiddleware[] = []
afterAll(() => Promise.all(opened.map((stash) => stash.close())))

/** An app with a protected route (`user` stored by the instance) and a cart (stored by its route). */
function shop(adapter: StashAdapter, options: StashOptions = {}) {
  const stash = createStash({ secret: 'testing app secret', adapter, storedKeys: ['user'], ...options })
  opened.push(stash)
  const cart = stash.route({ storedKeys: ['cart'], ttl: 3600 })
  const app = express().use(express.json()).use(stash)
  app.get('/account', (req, res) => {
    if (req.stash.user === undefined) return void res.status(401).json({})
    res.json({ user: req.stash.user })
  })
  app.post('/cart', cart, async (req, res) => {
    res.json({ cart: await req.stash.update('cart', (items = []) => [...items, String(req.body.item)]) })
  })
  app.post('/logout', async (req, res) => {
    await req.stash.reset()
    res.json({})
  })
  return { app, stash }
}

describe.each(ADAPTERS)('seedStash and readStash (%s)', (_name, makeAdapter) => {
  it('a seeded stash opens a protected route: no login over HTTP', async () => {
    const { app, stash } = shop(makeAdapter())
    await request(app).get('/account').expect(401)
    const cookie = await seedStash(stash, { user: 'ada' })
    expect(cookie).toMatch(/^stash=s%3A[A-Za-z0-9_-]{32}/)
    await request(app).get('/account').set('Cookie', cookie).expect(noStashCookie).expect(200, { user: 'ada' })
  })

  it('reads back what the app wrote, by Cookie header, by Set-Cookie line and by response', async () => {
    const { app, stash } = shop(makeAdapter())
    const cookie = await seedStash(stash, { user: 'ada' })
    await request(app)
      .post('/cart')
      .set('Cookie', cookie)
      .send({ item: 'apple' })
      .expect(200, { cart: ['apple'] })
    expect(await readStash(stash, cookie)).toEqual({ user: 'ada', cart: ['apple'] })
    expect(await readStash(stash, `theme=dark; ${cookie}`)).toEqual({ user: 'ada', cart: ['apple'] })

    const anonymous = await request(app).post('/cart').send({ item: 'pear' }).expect(200)
    expect(await readStash(stash, anonymous)).toEqual({ cart: ['pear'] })
    expect(await readStash(stash, anonymous.headers['set-cookie'] as unknown as string[])).toEqual({ cart: ['pear'] })
    expect(await readStash(stash, (anonymous.headers['set-cookie'] as unknown as string[])[0]!)).toEqual({ cart: ['pear'] })
  })

  it('undefined when there is no stash: no cookie, a cleared cookie, after a reset', async () => {
    const { app, stash } = shop(makeAdapter())
    const cookie = await seedStash(stash, { user: 'ada', cart: ['apple'] })
    const noCookie = await request(app).get('/account').expect(401)
    expect(await readStash(stash, noCookie)).toBeUndefined()
    expect(await readStash(stash, 'theme=dark')).toBeUndefined()
    const logout = await request(app).post('/logout').set('Cookie', cookie).expect(200)
    expect(await readStash(stash, logout)).toBeUndefined() // stash=; Expires=1970
    expect(await readStash(stash, cookie)).toBeUndefined()
    await request(app).get('/account').set('Cookie', cookie).expect(401)
  })

  it("a cookie of another instance's secret is an error; the app sees a fresh stash for it", async () => {
    const { stash } = shop(makeAdapter())
    const other = shop(makeAdapter(), { secret: 'another secret' })
    const foreign = await seedStash(other.stash, { user: 'mallory' })
    await expect(readStash(stash, foreign)).rejects.toThrow(
      `express-stash: readStash: the "stash" cookie does not verify with this instance's secret`,
    )
    await expect(readStash(stash, 'stash=s%3Agarbage.abc')).rejects.toThrow(TypeError)
    const { app } = shop(makeAdapter())
    await request(app).get('/account').set('Cookie', foreign).expect(401)
  })

  it('a per-key ttl: each seeded key expires on its own', async () => {
    const { stash } = shop(makeAdapter())
    const cookie = await seedStash(stash, { user: 'ada', cart: ['apple'] }, { ttl: { cart: 1 } })
    expect(await readStash(stash, cookie)).toEqual({ user: 'ada', cart: ['apple'] })
    await sleep(1300)
    expect(await readStash(stash, cookie)).toEqual({ user: 'ada' })
    const short = await seedStash(stash, { user: 'bob' }, { ttl: 1 })
    await sleep(1300)
    expect(await readStash(stash, short)).toBeUndefined()
  })

  it('sessionValue binds the stash to a session value; the app finds it only with that value', async () => {
    const { app, stash } = shop(makeAdapter(), { sessionKey: (req) => req.headers['x-user'] as string | undefined })
    const cookie = await seedStash(stash, { cart: ['apple'] }, { sessionValue: 'ada' })
    const cart = (user?: string) => {
      const req = request(app).post('/cart').set('Cookie', cookie).send({ item: 'pear' })
      return user === undefined ? req : req.set('x-user', user)
    }
    await cart('ada').expect(200, { cart: ['apple', 'pear'] })
    await cart('bob').expect(200, { cart: ['pear'] })
    await cart().expect(200, { cart: ['pear'] })
    expect(await readStash(stash, cookie, { sessionValue: 'ada' })).toEqual({ cart: ['apple', 'pear'] })
    expect(await readStash(stash, cookie)).toBeUndefined()
    expect((await stash.listFor('ada')).map((entry) => entry.data)).toEqual([{ cart: ['apple', 'pear'] }])
  })

  it("uses the instance's encryption, version and maxLifetime", async () => {
    const adapter = makeAdapter()
    const { app, stash } = shop(adapter, { encrypt: true, version: 'v2', maxLifetime: 1 })
    const cookie = await seedStash(stash, { user: 'ada' })
    await request(app).get('/account').set('Cookie', cookie).expect(200, { user: 'ada' })
    const sameStore = createStash({ secret: 'testing app secret', adapter, storedKeys: ['user'], version: 'v3' })
    expect(await readStash(sameStore, cookie)).toBeUndefined() // written under another version
    await sleep(1100)
    expect(await readStash(stash, cookie)).toBeUndefined() // outlived maxLifetime
    await request(app).get('/account').set('Cookie', cookie).expect(401)
  })

  it('seeds a passport login for a stashSession() app', async () => {
    const stash = createStash({ secret: 'testing app secret', adapter: makeAdapter(), storedKeys: ['visits'] })
    opened.push(stash)
    const app = passportApp(stash)
    const cookie = await seedStash(stash, { passport: { user: 'ada' }, visits: 7 })
    await request(app)
      .get('/me')
      .set('Cookie', cookie)
      .expect(200, { authenticated: true, user: { id: 'ada' }, visits: 7 })
    const logout = await request(app).post('/logout').set('Cookie', cookie).expect(200)
    expect(await readStash(stash, cookie)).toBeUndefined()
    expect(await readStash(stash, logout)).toBeUndefined()
  })
})

describe('seedStash and readStash refuse what they cannot do', () => {
  const { stash } = shop(memoryAdapter())

  it('needs a stash instance', async () => {
    await expect(seedStash((() => {}) as never, { user: 'ada' })).rejects.toThrow(
      'express-stash: seedStash(stash, ...) needs the stash instance createStash() returned',
    )
    await expect(readStash({} as never, 'stash=x')).rejects.toThrow(TypeError)
  })

  it('refuses an adapter that keeps each stash in the client cookies (no store to seed)', async () => {
    const inner = memoryAdapter()
    const perRequest: StashAdapter = { ...inner, kind: 'cookie', forRequest: () => perRequest }
    const { stash: cookies } = shop(perRequest)
    const refusal = "adapter keeps each stash in the client's cookies, not in a store"
    await expect(seedStash(cookies, { user: 'ada' })).rejects.toThrow(`express-stash: seedStash: the cookie ${refusal}`)
    await expect(readStash(cookies, 'stash=x')).rejects.toThrow(`express-stash: readStash: the cookie ${refusal}`)
  })

  it('only stored keys, with values that survive JSON, and at least one of them', async () => {
    await expect(seedStash(stash, { usr: 'ada' })).rejects.toThrow(
      'express-stash: seedStash: "usr" is not a stored key of this stash or of its routes (stored keys: "user", "cart")',
    )
    await expect(seedStash(stash, { save: 1 })).rejects.toThrow('"save" is a reserved name')
    await expect(seedStash(stash, { user: new Date() as never })).rejects.toMatchObject({ code: 'ERR_STASH_SERIALIZE' })
    await expect(seedStash(stash, { user: undefined })).rejects.toThrow('data holds no value to store')
    await expect(seedStash(stash, [] as never)).rejects.toThrow('data must be an object')
  })

  it('validates its options', async () => {
    await expect(seedStash(stash, { user: 'ada' }, { ttl: 0 })).rejects.toThrow(
      /option `seedStash.ttl` must be a positive number/,
    )
    await expect(seedStash(stash, { user: 'ada' }, { ttl: { cart: 5 } })).rejects.toThrow(
      'ttl.cart names a key that data does not hold',
    )
    await expect(seedStash(stash, { user: 'ada' }, { sessionValue: 'ada' })).rejects.toThrow(
      'this stash has no `sessionKey` option',
    )
    await expect(seedStash(stash, { user: 'ada' }, { owner: 'ada' } as never)).rejects.toThrow('unknown option `seedStash.owner`')
    await expect(readStash(stash, 42 as never)).rejects.toThrow('readStash: the cookie must be a Cookie header')
  })
})
