/**
 * Bad cookies against the cookie adapter, over HTTP: a tampered, forged, truncated, oversized,
 * duplicated or mismatched sealed cookie is an empty stash (never an error), and a sealed cookie
 * opens only with the ID cookie of its own response, and only in its own session.
 */
import { randomBytes } from 'node:crypto'
import express from 'express'
import request from 'supertest'
import { cookieAdapter, createStash } from '../../../lib/index.js'
import { ID, Jar, lineOf, SEALED, SECRET, shop } from './cookie-app.js'

const opened: { close(): Promise<void> }[] = []
afterAll(() => Promise.all(opened.map((stash) => stash.close())))

const { app, stash } = shop()
opened.push(stash)
const empty = { cart: [], memo: null }

async function cartOf(...items: string[]): Promise<Jar> {
  const jar = new Jar()
  for (const item of items) jar.take(await request(app).post('/cart').set('Cookie', jar.header()).send({ item }).expect(200))
  return jar
}

/** The Cookie header of `jar` with the sealed cookie's value replaced. */
const withSealed = (jar: Jar, value: string) => `${ID}=${jar.cookies.get(ID)}; ${SEALED}=${value}`
const forged = () => '1.' + randomBytes(90).toString('base64url')

describe('a sealed cookie that does not open is an empty stash, and is cleared', () => {
  // The last column: whether the value still has the shape of a seal, so that it was tried (and is
  // cleared); a value of any other shape is not even read.
  const cases: [string, (sealed: string) => string, boolean][] = [
    ['tampered (one character changed)', (v) => v.slice(0, 40) + (v[40] === 'A' ? 'B' : 'A') + v.slice(41), true],
    ['truncated', (v) => v.slice(0, -12), true],
    ['forged (random bytes of the right shape)', () => forged(), true],
    ['not sealed at all', () => 'cart=apple', false],
    ['empty', () => '', false],
    ['oversized', (v) => v + 'A'.repeat(5000), false],
  ]
  it.each(cases)('%s', async (_name, alter, tried) => {
    const jar = await cartOf('apple')
    const res = await request(app)
      .get('/cart')
      .set('Cookie', withSealed(jar, alter(jar.cookies.get(SEALED)!)))
      .expect(200, empty)
    expect(lineOf(res, ID)).toMatch(/^stash=;.*Expires=Thu, 01 Jan 1970/) // the ID's stash is gone: its cookie goes
    expect(lineOf(res, SEALED)).toEqual(tried ? expect.stringMatching(/^stash\.data=;.*Expires=Thu, 01 Jan 1970/) : undefined)
    // The untouched cookies still work: nothing was deleted anywhere.
    await request(app)
      .get('/cart')
      .set('Cookie', jar.header())
      .expect(200, { cart: ['apple'], memo: null })
  })
})

describe('duplicated cookies', () => {
  it('the first of the values shaped like a seal that opens wins, in either order', async () => {
    const jar = await cartOf('apple')
    const sealed = jar.cookies.get(SEALED)!
    for (const header of [
      `${SEALED}=${forged()}; ${ID}=${jar.cookies.get(ID)}; ${SEALED}=${sealed}`,
      `${SEALED}=${sealed}; ${SEALED}=${forged()}; ${ID}=${jar.cookies.get(ID)}`,
      `${SEALED}="${sealed}"; ${ID}=${jar.cookies.get(ID)}`,
    ]) {
      await request(app)
        .get('/cart')
        .set('Cookie', header)
        .expect(200, { cart: ['apple'], memo: null })
    }
  })

  it('only the first 3 values shaped like a seal are tried: a header of forged ones costs 3 opens', async () => {
    const jar = await cartOf('apple')
    const many = Array.from({ length: 3 }, () => `${SEALED}=${forged()}`).join('; ')
    const header = `${many}; ${ID}=${jar.cookies.get(ID)}; ${SEALED}=${jar.cookies.get(SEALED)}`
    await request(app).get('/cart').set('Cookie', header).expect(200, empty)
    // Values of another shape do not count.
    const other = Array.from({ length: 50 }, (_, i) => `${SEALED}=x${i}`).join('; ')
    await request(app)
      .get('/cart')
      .set('Cookie', `${other}; ${jar.header()}`)
      .expect(200, { cart: ['apple'], memo: null })
  })
})

describe('a sealed cookie opens with its own ID cookie only', () => {
  it("another client's sealed cookie does not open with my ID (nor mine with theirs)", async () => {
    const ada = await cartOf('ada’s apple')
    const bob = await cartOf('bob’s pear')
    await request(app)
      .get('/cart')
      .set('Cookie', withSealed(ada, bob.cookies.get(SEALED)!))
      .expect(200, empty)
    await request(app)
      .get('/cart')
      .set('Cookie', withSealed(bob, ada.cookies.get(SEALED)!))
      .expect(200, empty)
  })

  it('a sealed cookie of an older (or newer) response of the same client does not pair with the ID cookie', async () => {
    const jar = await cartOf('apple')
    const older = jar.copy()
    jar.take(await request(app).post('/cart').set('Cookie', jar.header()).send({ item: 'pear' }).expect(200))
    await request(app)
      .get('/cart')
      .set('Cookie', withSealed(jar, older.cookies.get(SEALED)!))
      .expect(200, empty)
    await request(app)
      .get('/cart')
      .set('Cookie', withSealed(older, jar.cookies.get(SEALED)!))
      .expect(200, empty)
    await request(app)
      .get('/cart')
      .set('Cookie', jar.header())
      .expect(200, { cart: ['apple', 'pear'], memo: null })
  })

  it('a sealed cookie without an ID cookie is ignored', async () => {
    const jar = await cartOf('apple')
    const res = await request(app)
      .get('/cart')
      .set('Cookie', `${SEALED}=${jar.cookies.get(SEALED)}`)
      .expect(200, empty)
    expect(res.headers['set-cookie']).toBeUndefined()
  })

  it('with sessionKey, a sealed cookie lifted into another session does not open', async () => {
    const bound = createStash({
      secret: SECRET,
      adapter: cookieAdapter(),
      storedKeys: ['cart'],
      sessionKey: (req) => req.headers['x-user'] as string | undefined,
    })
    opened.push(bound)
    const target = express().use(express.json(), bound)
    target.post('/cart', (req, res) => void res.json({ cart: (req.stash.cart = [...(req.stash.cart ?? []), req.body.item]) }))
    target.get('/cart', (req, res) => void res.json({ cart: req.stash.cart ?? [] }))
    target.post('/login', async (req, res) => {
      await req.stash.rotate()
      res.json({ ok: true })
    })
    const jar = new Jar()
    jar.take(await request(target).post('/cart').send({ item: 'apple' }).expect(200))
    jar.take(await request(target).post('/login').set('Cookie', jar.header()).set('x-user', 'ada').expect(200))
    await request(target)
      .get('/cart')
      .set('Cookie', jar.header())
      .set('x-user', 'ada')
      .expect(200, { cart: ['apple'] })
    await request(target).get('/cart').set('Cookie', jar.header()).set('x-user', 'bob').expect(200, { cart: [] })
    await request(target).get('/cart').set('Cookie', jar.header()).expect(200, { cart: [] })
    // Nothing was lost: ada's own session still opens it.
    await request(target)
      .get('/cart')
      .set('Cookie', jar.header())
      .set('x-user', 'ada')
      .expect(200, { cart: ['apple'] })
  })
})
