/**
 * What the cookie adapter refuses, and how clearly: options that are wrong (a TypeError at
 * creation), the admin calls that need a server and direct calls outside a request
 * (`ERR_STASH_UNSUPPORTED`), the session store (a TypeError at its creation), and use after `close()`.
 */
import request from 'supertest'
import { cookieAdapter, createStash, type CookieAdapterOptions } from '../../../lib/index.js'
import { StashSessionStore } from '../../../lib/session-store/index.js'
import { Jar, SECRET, shop } from './cookie-app.js'

const unsupported = { name: 'StashError', code: 'ERR_STASH_UNSUPPORTED', message: expect.stringMatching(/^express-stash: /) }

describe('cookieAdapter options', () => {
  it.each<[string, unknown, RegExp]>([
    ['an unknown option', { nmae: 'x' }, /unknown option `cookieAdapter\.nmae`/],
    ['options that are not an object', null, /`cookieAdapter` must be an object, got null/],
    ['a name that is not a cookie name', { name: 'my stash' }, /`cookieAdapter\.name` must be a valid cookie name/],
    ['a name that is not a string', { name: 5 }, /`cookieAdapter\.name` must be a valid cookie name, got 5/],
    [
      'a maxSize above what browsers keep',
      { maxSize: 5000 },
      /`cookieAdapter\.maxSize` must be an integer of bytes from 1 to 4096/,
    ],
    ['a maxSize of 0', { maxSize: 0 }, /cookieAdapter\.maxSize/],
    ['a fractional maxSize', { maxSize: 100.5 }, /cookieAdapter\.maxSize/],
    ['a maxSize as a string', { maxSize: '1000' }, /cookieAdapter\.maxSize/],
  ])('%s is a TypeError at creation', (_name, options, message) => {
    expect(() => cookieAdapter(options as CookieAdapterOptions)).toThrow(TypeError)
    expect(() => cookieAdapter(options as CookieAdapterOptions)).toThrow(message)
  })

  it('name renames the sealed cookie', async () => {
    const { app, stash } = shop({ cookieOptions: { name: 'cart.sealed' } })
    const jar = new Jar()
    jar.take(await request(app).post('/cart').send({ item: 'apple' }).expect(200))
    expect([...jar.cookies.keys()].sort()).toEqual(['cart.sealed', 'stash'])
    await request(app)
      .get('/cart')
      .set('Cookie', jar.header())
      .expect(200, { cart: ['apple'], memo: null })
    await stash.close()
  })
})

describe('what needs a server', () => {
  it('the admin calls reject with ERR_STASH_UNSUPPORTED, naming the call', async () => {
    const stash = createStash({ secret: SECRET, adapter: cookieAdapter(), sessionKey: 'userId' })
    await expect(stash.ids()).rejects.toMatchObject({ ...unsupported, message: expect.stringMatching(/ids\(\)/) })
    await expect(stash.length()).rejects.toMatchObject(unsupported)
    await expect(stash.clear()).rejects.toMatchObject({ ...unsupported, message: expect.stringMatching(/clear\(\)/) })
    await expect(stash.listFor('ada')).rejects.toMatchObject({ ...unsupported, message: expect.stringMatching(/listFor\(\)/) })
    await expect(stash.revokeAll('ada')).rejects.toMatchObject({ ...unsupported, message: expect.stringMatching(/revokeAll/) })
    await stash.close()
  })

  it('direct calls outside a request reject with ERR_STASH_UNSUPPORTED', async () => {
    const adapter = cookieAdapter()
    const change = { set: { a: '1' }, del: [], expiresAt: { a: Date.now() + 60_000 } }
    await expect(adapter.load('key', ['a'])).rejects.toMatchObject(unsupported)
    await expect(adapter.write('key', change)).rejects.toMatchObject(unsupported)
    await expect(adapter.readAll('key')).rejects.toMatchObject(unsupported)
    await expect(adapter.delete('key')).rejects.toMatchObject(unsupported)
    await adapter.close()
  })

  it('the session store refuses it at creation: express-session has no request to keep sessions in', () => {
    expect(() => new StashSessionStore({ adapter: cookieAdapter() })).toThrow(
      new TypeError(
        "express-stash: `StashSessionStore.adapter` cannot be a cookie adapter: its records travel with each request of a stash, and express-session's store has no request to keep them in; use memoryAdapter() or redisAdapter()",
      ),
    )
  })
})

describe('after close()', () => {
  it('requests that reach the adapter fail with ERR_STASH_CLOSED', async () => {
    const { app, stash } = shop()
    const jar = new Jar()
    jar.take(await request(app).post('/cart').send({ item: 'apple' }).expect(200))
    await stash.close()
    const res = await request(app).get('/cart').set('Cookie', jar.header()).expect(500)
    expect(res.body.code).toBe('ERR_STASH_CLOSED')
    await stash.close() // twice is fine
  })
})
