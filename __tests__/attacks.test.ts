/**
 * What an attacker can send, played over HTTP: a header of forged duplicate cookies, a cookie that
 * browsers would drop for want of `Secure`, options with control characters, an end-of-response
 * that throws; and, kept as regression tests, what held up under attack: constant-time compares
 * for the cookie, value and peer MACs, SCAN patterns escaped.
 */
import './support/stash-data.js'
import crypto from 'node:crypto'
import { randomBytes } from 'node:crypto'
import express from 'express'
import request from 'supertest'
import { createStash, redisAdapter, type StashMiddleware, type StashOptions } from '../lib/index.js'
import { createCodec } from '../lib/values/codec.js'
import { cookiePair, setCookie } from './support/http.js'
import { useRedis } from './support/redis-client.js'

const redis = useRedis()
const opened: StashMiddleware[] = []
afterAll(() => Promise.all(opened.map((stash) => stash.close())))

function counter(options: StashOptions = {}) {
  const stash = createStash({ secret: 'attack secret', storedKeys: ['count'], ...options })
  opened.push(stash)
  const app = express().use(stash)
  app.get('/count', (req, res) => void res.json({ count: (req.stash.count = (req.stash.count ?? 0) + 1) }))
  return { app, stash }
}

describe('forged duplicate cookies', () => {
  it('cost at most three signature checks per request, however many the header holds', async () => {
    const { app } = counter({ secret: ['attack secret', 'old one', 'older one'] })
    const genuine = cookiePair(await request(app).get('/count').expect(200, { count: 1 }))
    const forged = Array.from({ length: 330 }, () => `stash=s:${randomBytes(24).toString('base64url')}.x`)
    const hmac = jest.spyOn(crypto, 'createHmac')
    try {
      const res = await request(app)
        .get('/count')
        .set('Cookie', [...forged, genuine].join('; '))
        .expect(200)
      expect(res.body).toEqual({ count: 1 }) // the genuine cookie came too late: a fresh stash, no error
      expect(Buffer.byteLength(forged.join('; '))).toBeGreaterThan(13_000)
      // Three candidates, each against three secrets; the new stash's own cookie signs once more.
      expect(hmac.mock.calls.filter(([, key]) => typeof key === 'string').length).toBeLessThanOrEqual(3 * 3 + 1)
    } finally {
      hmac.mockRestore()
    }
    // A browser's few duplicates (other paths or domains) still find the genuine one.
    await request(app).get('/count').set('Cookie', [forged[0], forged[1], genuine].join('; ')).expect(200, { count: 2 })
    // Values of another shape (a stale unsigned cookie, another app's value) cost no check and do not count.
    const junk = Array.from({ length: 50 }, (_, i) => `stash=${i % 2 ? 'legacy-value' : 's:short.sig'}`)
    await request(app)
      .get('/count')
      .set('Cookie', [...junk, genuine].join('; '))
      .expect(200, { count: 3 })
  })
})

describe('cookies browsers would drop', () => {
  it.each([
    ['a __Host- name', { cookie: { name: '__Host-stash' } }],
    ['a __Secure- name', { cookie: { name: '__Secure-stash' } }],
    ["sameSite: 'none'", { cookie: { sameSite: 'none' as const } }],
  ])('%s gets Secure under secure: auto, even on plain HTTP', async (_what, options) => {
    const { app } = counter(options)
    const res = await request(app).get('/count').expect(200)
    expect(res.headers['set-cookie']![0]).toMatch(/; Secure/)
  })

  it('a plain name on plain HTTP under auto does not (the default stays as it was)', async () => {
    const { app } = counter()
    expect(setCookie(await request(app).get('/count').expect(200))).not.toMatch(/Secure/)
  })
})

describe('options and responses that once crashed the process', () => {
  it.each([
    ['cookie.path', { path: '/a\u0000b' }],
    ['cookie.path', { path: '/\u007f' }],
    ['cookie.domain', { domain: 'example\u0000.com' }],
  ])('a %s with a control character is refused at creation', (option, cookie) => {
    expect(() => createStash({ secret: 's', cookie })).toThrow(
      new RegExp(`option \`${option.replace('.', '\\.')}\` must be a valid cookie`),
    )
  })

  it('an end() that throws after the commit is handed to the error handler, never an unhandled rejection', async () => {
    const unhandled = jest.fn()
    process.on('unhandledRejection', unhandled)
    try {
      const stash = createStash({ secret: 's', storedKeys: ['count'] })
      opened.push(stash)
      const errors: unknown[] = []
      const app = express()
      app.use((_req, res, next) => {
        const end = res.end.bind(res)
        let calls = 0
        res.end = ((...args: Parameters<typeof end>) => {
          if (calls++ === 0) throw new Error('a broken end() wrapper')
          return end(...args)
        }) as typeof res.end
        next()
      })
      app.use(stash)
      app.get('/', (req, res) => {
        req.stash.count = 1
        res.json({})
      })
      app.use((err: Error, _req: express.Request, res: express.Response, _next: express.NextFunction) => {
        errors.push(err)
        res.status(500).json({ message: err.message })
      })
      await request(app).get('/').expect(500, { message: 'a broken end() wrapper' })
      await new Promise((resolve) => setImmediate(resolve))
      expect(unhandled).not.toHaveBeenCalled()
      expect(errors).toHaveLength(1)
    } finally {
      process.off('unhandledRejection', unhandled)
    }
  })
})

describe('what held up (regression tests)', () => {
  it('compares the cookie MAC and the value MAC in constant time', async () => {
    const { app } = counter()
    const genuine = cookiePair(await request(app).get('/count').expect(200))
    const compare = jest.spyOn(crypto, 'timingSafeEqual')
    try {
      const tampered = genuine.slice(0, -2) + (genuine.at(-2) === 'A' ? 'B' : 'A') + genuine.slice(-1)
      await request(app).get('/count').set('Cookie', tampered).expect(200, { count: 1 })
      expect(compare).toHaveBeenCalled()
      compare.mockClear()
      const codec = createCodec(['attack secret'], undefined)
      const stored = codec.encode('record', 'count', '1')
      expect(createCodec(['attack secret'], undefined).decode('record', 'count', stored.replace('.1', '.2')).kind).toBe('corrupt')
      expect(compare).toHaveBeenCalled()
      expect(compare.mock.calls.every(([a, b]) => a.byteLength === b.byteLength)).toBe(true)
    } finally {
      compare.mockRestore()
    }
  })

  it('escapes glob characters of the prefix in SCAN: ids() lists only its own prefix', async () => {
    const tricky = `a*[b]?\\:${randomBytes(4).toString('hex')}:`
    const mine = counter({ adapter: redisAdapter({ client: redis().client, prefix: tricky }) })
    const look = counter({ adapter: redisAdapter({ client: redis().client, prefix: tricky.replace('*[b]?', 'xb!') }) })
    await request(mine.app).get('/count').expect(200)
    await request(look.app).get('/count').expect(200)
    await request(look.app).get('/count').expect(200)
    expect(await mine.stash.length()).toBe(1)
    expect(await look.stash.length()).toBe(2)
  })
})
