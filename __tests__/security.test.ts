import './support/stash-data.js'
import { createHmac, randomBytes } from 'node:crypto'
import cookieParser from 'cookie-parser'
import express from 'express'
import request from 'supertest'
import { createStash, memoryAdapter, redisAdapter, type StashAdapter, type StashOptions } from '../lib/index.js'
import { createCodec } from '../lib/values/codec.js'
import { recordKeyOf, sha256 } from '../lib/values/ids.js'
import { cookiePair, idOf, setCookie, stashError } from './support/http.js'
import { useRedis } from './support/redis-client.js'

/** An Express error handler answering the error's status, code and message as JSON. */
const errorJson = (
  err: { status: number; code: string; message: string },
  _req: express.Request,
  res: express.Response,
  _next: express.NextFunction,
) => void res.status(err.status).json({ code: err.code, message: err.message })

const redis = useRedis()

const ADAPTERS: [string, (prefix: string) => StashAdapter][] = [
  ['memory', () => memoryAdapter()],
  ['redis', (prefix) => redisAdapter({ client: redis().client, prefix })],
]

describe.each(ADAPTERS)('security on %s', (_name, makeAdapter) => {
  const closing: { close(): Promise<void> }[] = []
  afterAll(() => Promise.all(closing.map((s) => s.close())))

  /** An app whose session holds the user named in the X-User header, like express-session would. */
  function app(options: StashOptions = {}, adapter = makeAdapter(`sec:${randomBytes(6).toString('base64url')}:`)) {
    const stash = createStash({
      secret: 's',
      storedKeys: ['count', 'secret', 'blob'],
      sessionKey: 'user_token',
      adapter,
      ...options,
    })
    closing.push(stash)
    const server = express()
    server.use((req, _res, next) => {
      const user = req.headers['x-user']
      if (typeof user === 'string') (req as { session?: object }).session = { user_token: user }
      next()
    })
    server.use(stash)
    server.get('/count', (req, res) => res.json({ count: (req.stash.count = (req.stash.count ?? 0) + 1) }))
    server.post('/secret', (req, res) => res.json((req.stash.secret = 'card 4111 1111 1111 1111')))
    server.post('/blob', (req, res) => {
      req.stash.blob = JSON.parse('{"__proto__":{"polluted":true},"a":{"constructor":{"prototype":{"polluted":true}}},"ok":1}')
      res.json({})
    })
    server.get('/', (req, res) => res.json(req.stash))
    server.get('/merged', (req, res) =>
      res.json({ polluted: (Object.assign({}, req.stash.blob) as { polluted?: unknown }).polluted ?? null }),
    )
    return { server, stash, adapter }
  }

  it('binds the stash to req.session: a stolen cookie replayed by another user sees nothing and harms nothing', async () => {
    const { server } = app()
    const victim = await request(server).get('/count').set('X-User', 'victim-token').expect(200, { count: 1 })
    const stolen = cookiePair(victim)
    await request(server).get('/count').set('X-User', 'attacker-token').set('Cookie', stolen).expect(200, { count: 1 })
    await request(server).get('/count').set('X-User', 'attacker-token').set('Cookie', stolen).expect(200, { count: 1 })
    await request(server).get('/').set('X-User', 'victim-token').set('Cookie', stolen).expect(200, { count: 1 })
  })

  it('reads the session value from req.signedCookies too; an unsigned one is no value (an anonymous stash)', async () => {
    const stash = createStash({ secret: 's', storedKeys: ['count'], sessionKey: 'uid', adapter: makeAdapter('signed:') })
    closing.push(stash)
    const server = express().use(cookieParser('cookie secret'), stash)
    server.get('/count', (req, res) => res.json({ count: (req.stash.count = (req.stash.count ?? 0) + 1) }))
    server.use(
      (
        err: { status: number; code: string; message: string },
        _req: express.Request,
        res: express.Response,
        _next: express.NextFunction,
      ) => {
        res.status(err.status).json({ code: err.code, message: err.message })
      },
    )
    const mac = (value: string) => createHmac('sha256', 'cookie secret').update(value).digest('base64').replace(/=+$/, '')
    const signed = (value: string) => 'uid=' + encodeURIComponent(`s:${value}.${mac(value)}`)
    const first = await request(server).get('/count').set('Cookie', signed('ada')).expect(200, { count: 1 })
    await request(server)
      .get('/count')
      .set('Cookie', [signed('ada'), cookiePair(first)].join('; '))
      .expect(200, { count: 2 })
    await request(server)
      .get('/count')
      .set('Cookie', ['uid=ada', cookiePair(first)].join('; '))
      .expect(200, { count: 1 })
  })

  it('stores records under hashes: neither the stash ID nor the session value appears in record keys', async () => {
    const { server, stash } = app()
    const res = await request(server).get('/count').set('X-User', 'token-123').expect(200)
    const ids = await stash.ids()
    expect(ids).toEqual([recordKeyOf(idOf(cookiePair(res)), sha256('token-123'))])
    expect(ids.join()).not.toContain(idOf(cookiePair(res)))
    expect(ids.join()).not.toContain('token-123')
  })

  it('encrypts values at rest when asked, restores them intact, and still reads values written before', async () => {
    const adapter = makeAdapter(`enc:${randomBytes(6).toString('base64url')}:`)
    const plain = app({}, adapter)
    const encrypted = app({ encrypt: true }, adapter)
    const before = await request(plain.server).get('/count').set('X-User', 'u').expect(200, { count: 1 })
    await request(encrypted.server).get('/count').set('X-User', 'u').set('Cookie', cookiePair(before)).expect(200, { count: 2 })
    await request(encrypted.server).post('/secret').set('X-User', 'u').set('Cookie', cookiePair(before)).expect(200)
    const [key] = await encrypted.stash.ids()
    const raw = (await adapter.readAll(key!))!.fields
    expect(raw.secret).toMatch(/^!\.[A-Za-z0-9_-]+$/)
    expect(JSON.stringify(raw)).not.toContain('4111')
    await request(encrypted.server)
      .get('/')
      .set('X-User', 'u')
      .set('Cookie', cookiePair(before))
      .expect(200, { count: 2, secret: 'card 4111 1111 1111 1111' })
  })

  it('keeps update() exact on encrypted values', async () => {
    const { server } = app({ encrypt: true })
    server.post('/hit', async (req, res) => res.json(await req.stash.update('count', (n) => (n ?? 0) + 1)))
    const first = await request(server).get('/count').set('X-User', 'e')
    await Promise.all(
      Array.from({ length: 30 }, () => request(server).post('/hit').set('X-User', 'e').set('Cookie', cookiePair(first))),
    )
    await request(server).get('/').set('X-User', 'e').set('Cookie', cookiePair(first)).expect(200, { count: 31 })
  })

  it('never lets restored data reach a prototype', async () => {
    const { server, adapter } = app()
    server.use(errorJson)
    // Such keys are dropped when a value is restored, so a value holding them cannot be stored as it is.
    await request(server)
      .post('/blob')
      .set('X-User', 'p')
      .expect(stashError(500, 'ERR_STASH_SERIALIZE', 'blob.__proto__: the key "__proto__" is dropped'))
    // Written behind the library's back with a valid MAC, it is restored without them.
    const first = await request(server).get('/count').set('X-User', 'p').expect(200)
    const record = recordKeyOf(idOf(cookiePair(first)), sha256('p'))
    const json = '{"__proto__":{"polluted":true},"a":{"constructor":{"prototype":{"polluted":true}}},"ok":1}'
    await adapter.write(record, {
      set: { blob: createCodec(['s'], undefined).encode(record, 'blob', json) },
      del: [],
      expiresAt: { blob: Date.now() + 60_000 },
    })
    const res = await request(server).get('/').set('X-User', 'p').set('Cookie', cookiePair(first)).expect(200)
    expect(res.body.blob).toEqual({ a: {}, ok: 1 })
    await request(server).get('/merged').set('X-User', 'p').set('Cookie', cookiePair(first)).expect(200, { polluted: null })
    expect(({} as { polluted?: unknown }).polluted).toBeUndefined()
  })

  it('lists and revokes every stash of one user, leaving other users their own', async () => {
    const { server, stash } = app()
    const ada = await Promise.all([1, 2, 3].map(() => request(server).get('/count').set('X-User', 'ada')))
    const bob = await request(server).get('/count').set('X-User', 'bob')
    const listed = await stash.listFor('ada')
    expect(listed.map((entry) => entry.data)).toEqual([{ count: 1 }, { count: 1 }, { count: 1 }])
    expect(listed.map((entry) => entry.key).sort()).toEqual(
      ada.map((r) => recordKeyOf(idOf(cookiePair(r)), sha256('ada'))).sort(),
    )
    expect(await stash.revokeAll('ada')).toBe(3)
    expect(await stash.listFor('ada')).toEqual([])
    for (const r of ada) await request(server).get('/').set('X-User', 'ada').set('Cookie', cookiePair(r)).expect(200, {})
    await request(server).get('/').set('X-User', 'bob').set('Cookie', cookiePair(bob)).expect(200, { count: 1 })
    await expect(stash.listFor('')).rejects.toThrow(TypeError)
  })

  it('rotate() keeps the user index: the old stash is gone from it, the new one listed', async () => {
    const { server, stash } = app()
    server.post('/login', async (req, res) => {
      await req.stash.rotate()
      res.json({})
    })
    const first = await request(server).get('/count').set('X-User', 'eve')
    const rotated = await request(server).post('/login').set('X-User', 'eve').set('Cookie', cookiePair(first)).expect(200)
    expect((await stash.listFor('eve')).map((e) => e.key)).toEqual([recordKeyOf(idOf(cookiePair(rotated)), sha256('eve'))])
  })

  it('counts and clears only its own records', async () => {
    const adapter = makeAdapter(`own:${randomBytes(6).toString('base64url')}:`)
    const mine = app({}, adapter)
    const other = app()
    await Promise.all([1, 2].map(() => request(mine.server).get('/count').set('X-User', 'm')))
    const theirs = await request(other.server).get('/count').set('X-User', 'o')
    expect(await mine.stash.length()).toBe(2)
    expect(await mine.stash.clear()).toBe(2)
    expect(await mine.stash.length()).toBe(0)
    await request(other.server).get('/').set('X-User', 'o').set('Cookie', cookiePair(theirs)).expect(200, { count: 1 })
  })
})

describe('the user index on Redis', () => {
  it('expires with the records', async () => {
    const stash = createStash({
      secret: 's',
      storedKeys: ['n'],
      sessionKey: (req) => String(req.headers['x-user']),
      ttl: 1,
      adapter: redisAdapter({ client: redis().client, prefix: 'ttl:' }),
    })
    const server = express().use(stash, (req, res) => res.json((req.stash.n = 1)))
    await request(server).get('/').set('X-User', 'short')
    const index = `ttl:{${sha256('short')}}`
    expect(await redisCli('EXISTS', index)).toBe('1')
    expect(Number(await redisCli('PTTL', index))).toBeGreaterThan(0)
    await new Promise((resolve) => setTimeout(resolve, 1300))
    expect(await redisCli('EXISTS', index)).toBe('0')
    expect(await stash.listFor('short')).toEqual([])
    await stash.close()
  })
})

describe('cookie hardening', () => {
  it('serves a __Host- cookie: Secure, Path=/, no Domain', async () => {
    const stash = createStash({ secret: 's', storedKeys: ['n'], cookie: { name: '__Host-stash' } })
    const server = express()
      .set('trust proxy', 'loopback')
      .use(stash, (req, res) => res.json((req.stash.n = 1)))
    const res = await request(server).get('/').set('X-Forwarded-Proto', 'https').expect(200)
    expect(setCookie(res, '__Host-stash')).toMatch(/^__Host-stash=s%3A[^;]+; Path=\/; HttpOnly; Secure; SameSite=Lax$/)
    await stash.close()
  })
})

const redisCli = (...args: string[]) => redis().server.cli(...args)
