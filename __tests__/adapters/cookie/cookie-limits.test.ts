/**
 * The limits of a stash kept in a cookie, over HTTP: the 4,096 bytes a browser keeps (a write
 * past them fails, nothing truncated), expiry by time inside the seal (real short ttls,
 * `maxLifetime`), and writes a response can no longer carry (a streamed response without `save()`).
 */
import request from 'supertest'
import { StashError } from '../../../lib/index.js'
import { ID, Jar, lineOf, SEALED, setCookies, shop } from './cookie-app.js'

const opened: { close(): Promise<void> }[] = []
afterAll(() => Promise.all(opened.map((stash) => stash.close())))
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

function app(options: Parameters<typeof shop>[0] = {}) {
  const made = shop(options)
  opened.push(made.stash)
  return made
}

describe('a sealed cookie larger than a browser keeps', () => {
  it('fails the write with ERR_STASH_TOO_LARGE naming its size; no cookie is sent, and the stash is as before', async () => {
    const { app: shopApp } = app()
    const jar = new Jar()
    jar.take(await request(shopApp).post('/cart').send({ item: 'apple' }).expect(200))
    const before = jar.header()
    // update() in the handler: the error reaches the app through next(err).
    const big = await request(shopApp)
      .post('/cart')
      .set('Cookie', before)
      .send({ item: 'x'.repeat(5000) })
      .expect(500)
    expect(big.body.code).toBe('ERR_STASH_TOO_LARGE')
    const size = Number(/would be (\d+) bytes, over the 4096 bytes/.exec(big.body.message)?.[1])
    expect(size).toBeGreaterThan(5000)
    expect(setCookies(big)).toEqual([]) // nothing truncated, nothing half-written
    await request(shopApp)
      .get('/cart')
      .set('Cookie', before)
      .expect(200, { cart: ['apple'], memo: null })
  })

  it('an assignment committed at the end of the request fails the same way, and a new client gets no cookie at all', async () => {
    const { app: shopApp } = app()
    const res = await request(shopApp)
      .put('/memo')
      .send({ memo: 'é'.repeat(3000) })
      .expect(500)
    expect(res.body).toEqual({ code: 'ERR_STASH_TOO_LARGE', message: expect.stringMatching(/would be \d{4} bytes/) })
    expect(setCookies(res)).toEqual([])
  })

  it('maxSize lowers the limit', async () => {
    const { app: shopApp } = app({ cookieOptions: { maxSize: 300 } })
    await request(shopApp).post('/cart').send({ item: 'small' }).expect(200)
    const res = await request(shopApp)
      .post('/cart')
      .send({ item: 'y'.repeat(300) })
      .expect(500)
    expect(res.body.message).toMatch(/over the 300 bytes/)
  })
})

describe('expiry lives inside the seal', () => {
  it('a key expires on its own ttl (1 s) while the others live, whatever cookie the client keeps sending', async () => {
    const { app: shopApp } = app()
    const jar = new Jar()
    jar.take(await request(shopApp).post('/cart').send({ item: 'apple' }).expect(200))
    jar.take(await request(shopApp).put('/memo').set('Cookie', jar.header()).send({ memo: 'soon gone' }).expect(200))
    await request(shopApp)
      .get('/cart')
      .set('Cookie', jar.header())
      .expect(200, { cart: ['apple'], memo: 'soon gone' })
    const held = jar.header()
    await sleep(1300)
    await request(shopApp)
      .get('/cart')
      .set('Cookie', held)
      .expect(200, { cart: ['apple'], memo: null })
  })

  it('a stash whose last key expired is empty, and both cookies are cleared', async () => {
    const { app: shopApp } = app()
    const jar = new Jar()
    jar.take(await request(shopApp).put('/memo').send({ memo: 'soon gone' }).expect(200))
    await sleep(1300)
    const res = await request(shopApp).get('/cart').set('Cookie', jar.header()).expect(200, { cart: [], memo: null })
    expect(lineOf(res, ID)).toMatch(/Expires=Thu, 01 Jan 1970/)
    expect(lineOf(res, SEALED)).toMatch(/^stash\.data=;.*Expires=Thu, 01 Jan 1970/)
  })

  it('a read slides the key: the response re-sends both cookies, so an active client keeps a 1 s key alive', async () => {
    const { app: shopApp } = app()
    const jar = new Jar()
    jar.take(await request(shopApp).put('/memo').send({ memo: 'kept alive' }).expect(200))
    for (let i = 0; i < 4; i++) {
      await sleep(400)
      const read = await request(shopApp).get('/cart').set('Cookie', jar.header()).expect(200, { cart: [], memo: 'kept alive' })
      expect([lineOf(read, ID), lineOf(read, SEALED)]).toEqual([expect.any(String), expect.any(String)])
      jar.take(read)
    }
    await sleep(1300)
    await request(shopApp).get('/cart').set('Cookie', jar.header()).expect(200, { cart: [], memo: null })
  })

  it('maxLifetime counts from the creation time sealed with the stash: activity does not extend it', async () => {
    const { app: shopApp } = app({ maxLifetime: 1 })
    const jar = new Jar()
    jar.take(await request(shopApp).post('/cart').send({ item: 'apple' }).expect(200))
    await sleep(500)
    jar.take(await request(shopApp).post('/cart').set('Cookie', jar.header()).send({ item: 'pear' }).expect(200))
    await sleep(700)
    await request(shopApp).get('/cart').set('Cookie', jar.header()).expect(200, { cart: [], memo: null })
  })
})

describe('writes a response can no longer carry', () => {
  it('a streamed response without save(): the write fails with ERR_STASH_HEADERS_SENT as an error event, never silently', async () => {
    const { app: shopApp, errors } = app()
    const jar = new Jar()
    jar.take(await request(shopApp).get('/stream').expect(200, 'one,two'))
    expect(errors).toEqual([expect.objectContaining({ code: 'ERR_STASH_HEADERS_SENT' })])
    expect((errors[0] as StashError).message).toMatch(/call req\.stash\.save\(\) before streaming/)
    await request(shopApp).get('/cart').set('Cookie', jar.header()).expect(200, { cart: [], memo: null })

    // A client that has a stash keeps it as it was.
    jar.take(await request(shopApp).post('/cart').set('Cookie', jar.header()).send({ item: 'apple' }).expect(200))
    jar.take(await request(shopApp).get('/stream').set('Cookie', jar.header()).expect(200, 'one,two'))
    expect(errors).toHaveLength(2)
    await request(shopApp)
      .get('/cart')
      .set('Cookie', jar.header())
      .expect(200, { cart: ['apple'], memo: null })
  })

  it('save() before streaming sends the sealed cookie with the headers', async () => {
    const { app: shopApp, errors } = app()
    const jar = new Jar()
    const res = await request(shopApp).get('/stream-saved').expect(200, 'one,two')
    expect(lineOf(res, SEALED)).toBeDefined()
    jar.take(res)
    await request(shopApp)
      .get('/cart')
      .set('Cookie', jar.header())
      .expect(200, { cart: ['saved first'], memo: null })
    expect(errors).toEqual([])
  })

  it('an open response (server-sent events) reports nothing: its keep-alive cannot reach the cookie and is skipped', async () => {
    const { app: shopApp, stash, errors } = app()
    shopApp.get('/events', stash.route({ storedKeys: ['memo'], ttl: 1 }), async (req, res) => {
      req.stash.memo = 'while streaming'
      await req.stash.save()
      res.write('data: open\n\n')
      await sleep(700) // the keep-alive slides every 250 ms
      res.end('data: done\n\n')
    })
    const jar = new Jar()
    jar.take(await request(shopApp).get('/events').expect(200))
    expect(errors).toEqual([])
    await request(shopApp).get('/cart').set('Cookie', jar.header()).expect(200, { cart: [], memo: 'while streaming' })
  })

  it('reset() after the headers went out rejects: the cookie could not be cleared', async () => {
    const { app: shopApp, stash } = app()
    shopApp.get('/late-reset', stash.route({ storedKeys: ['cart'] }), async (req, res) => {
      res.write('streaming;')
      const outcome = await req.stash.reset().then(
        () => 'reset',
        (err: StashError) => err.code,
      )
      res.end(outcome)
    })
    const jar = new Jar()
    jar.take(await request(shopApp).post('/cart').send({ item: 'apple' }).expect(200))
    await request(shopApp).get('/late-reset').set('Cookie', jar.header()).expect(200, 'streaming;ERR_STASH_HEADERS_SENT')
    await request(shopApp)
      .get('/cart')
      .set('Cookie', jar.header())
      .expect(200, { cart: ['apple'], memo: null })
  })
})
