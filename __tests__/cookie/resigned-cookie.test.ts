/**
 * A returning client's cookie that a response signs anew (a new record version, flash messages)
 * is known to verify when the client sends it back: its next request costs no HMAC, and answers
 * what verifying it would. Over HTTP, with the cookie adapter, whose every write raises the
 * version the ID cookie signs.
 */
import request from 'supertest'
import { readId } from '../../lib/cookie/signed-id.js'
import { VerifiedCookies } from '../../lib/cookie/verified-cookies.js'
import { ID, Jar, SECRET, shop } from '../adapters/cookie/cookie-app.js'

const lookups = jest.spyOn(VerifiedCookies.prototype, 'get')
afterAll(() => lookups.mockRestore())

it('knows the value it re-signed for a returning client: the next request verifies nothing, and reads the same', async () => {
  const { app, stash } = shop()
  try {
    const jar = new Jar()
    jar.take(await request(app).post('/cart').send({ item: 'apple' }).expect(200)) // a new ID: verified when it returns
    jar.take(await request(app).post('/cart').set('Cookie', jar.header()).send({ item: 'pear' }).expect(200))
    for (const item of ['plum', 'fig', 'kiwi']) {
      const sent = jar.header()
      const before = jar.cookies.get(ID)
      lookups.mockClear()
      const res = await request(app).post('/cart').set('Cookie', sent).send({ item }).expect(200)
      const [found] = lookups.mock.results.map((result) => result.value as unknown)
      expect(found).toBeDefined()
      expect(found).toEqual(readId(sent, ID, [SECRET], new VerifiedCookies()))
      jar.take(res)
      expect(jar.cookies.get(ID)).not.toBe(before) // signed anew: the version it carries rose
    }
    await request(app)
      .get('/cart')
      .set('Cookie', jar.header())
      .expect(200, { cart: ['apple', 'pear', 'plum', 'fig', 'kiwi'], memo: null })
  } finally {
    await stash.close()
  }
})

it('does not remember the cookies of new IDs: one-time visitors cannot push out the clients in use', async () => {
  const { app, stash } = shop()
  try {
    const remembered = jest.spyOn(VerifiedCookies.prototype, 'remember')
    for (let i = 0; i < 3; i++) await request(app).post('/cart').send({ item: 'apple' }).expect(200)
    expect(remembered).not.toHaveBeenCalled()
    remembered.mockRestore()
  } finally {
    await stash.close()
  }
})
