/**
 * "A delete is never resurrected", played as the attack: the attacker holds a stash cookie
 * (planted or stolen) and starts a request whose body it holds back, so that the stash is loaded
 * (`app.use(stash)` runs before `express.json()`) but the handler waits. Meanwhile the victim logs
 * out (`reset()`), logs out everywhere (`revokeAll()`) or logs in (`rotate()`). Then the body is
 * sent and the handler writes. The deleted stash must stay deleted: the old cookie reaches
 * nothing, and nothing the attacker's request merely loaded comes back under any ID.
 */
import '../support/stash-data.js'
import { EventEmitter, once } from 'node:events'
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import express from 'express'
import request from 'supertest'
import { createStash, type StashAdapter, type StashMiddleware } from '../../lib/index.js'
import { cookiePair } from '../support/http.js'

/** A request whose headers are sent at once and whose body is sent when `send()` is called. */
interface HeldRequest {
  /** Sends the body; resolves the response's status, body and stash cookie. */
  send(): Promise<{ status: number; body: unknown; cookie: string | undefined }>
}

export function runResurrectionSuite(name: string, makeAdapter: () => StashAdapter): void {
  describe(`a delete is never resurrected by a request that loaded the stash before (${name})`, () => {
    const opened: { close(): Promise<void> }[] = []
    afterAll(() => Promise.all(opened.map((closable) => closable.close())))

    /** The shop of the README, with a sessionKey read from a header, and a probe that says when a request got past the stash. */
    async function shop() {
      const stash: StashMiddleware = createStash({
        secret: 'resurrection secret',
        adapter: makeAdapter(),
        storedKeys: ['user', 'cart'],
        sessionKey: (req) => req.headers['x-user'] as string | undefined,
      })
      const loaded = new EventEmitter()
      const app = express()
      app.use(stash)
      app.use((req, _res, next) => {
        loaded.emit(String(req.headers['x-probe']))
        next()
      })
      app.use(express.json())
      app.post('/login', async (req, res) => {
        await req.stash.rotate()
        req.stash.user = String(req.headers['x-user'])
        res.json({ user: req.stash.user })
      })
      app.post('/cart', (req, res) => {
        req.stash.cart = [...(req.stash.cart ?? []), String(req.body.item)]
        res.json({ cart: req.stash.cart })
      })
      app.post('/cart/update', async (req, res) => {
        res.json({ cart: await req.stash.update('cart', (cart = []) => [...cart, String(req.body.item)]) })
      })
      app.post('/logout', async (req, res) => {
        await req.stash.reset()
        res.json({})
      })
      app.get('/', (req, res) => void res.json({ user: req.stash.user ?? null, cart: req.stash.cart ?? [] }))
      const server = app.listen(0, '127.0.0.1')
      await once(server, 'listening')
      opened.push({ close: () => new Promise((resolve) => server.close(() => resolve())) }, stash)
      const port = (server.address() as AddressInfo).port

      /** Starts `POST path` with its headers; resolves once the stash was loaded, the body still held back. */
      const hold = async (path: string, headers: Record<string, string>, body: unknown): Promise<HeldRequest> => {
        const text = JSON.stringify(body)
        const probe = Math.random().toString(36).slice(2)
        const answered = new Promise<http.IncomingMessage>((resolve, reject) => {
          const req = http.request({
            host: '127.0.0.1',
            port,
            method: 'POST',
            path,
            headers: {
              ...headers,
              'x-probe': probe,
              'content-type': 'application/json',
              'content-length': Buffer.byteLength(text),
            },
          })
          req.on('response', resolve).on('error', reject).flushHeaders()
          held.set(probe, () => req.end(text))
        })
        await once(loaded, probe)
        return {
          async send() {
            held.get(probe)!()
            const res = await answered
            let data = ''
            for await (const chunk of res) data += chunk
            const lines = ([] as string[]).concat(res.headers['set-cookie'] ?? [])
            const line = lines.find((l) => l.startsWith('stash='))
            return { status: res.statusCode!, body: JSON.parse(data) as unknown, cookie: line?.split(';')[0] }
          },
        }
      }
      const held = new Map<string, () => void>()
      return { app, stash, hold }
    }

    /** Ada logs in and fills her cart; resolves her stash cookie. */
    async function adaWithCart(app: express.Express): Promise<string> {
      const login = await request(app).post('/login').set('X-User', 'ada').expect(200)
      const cookie = cookiePair(login)
      await request(app).post('/cart').set('X-User', 'ada').set('Cookie', cookie).send({ item: 'ring' }).expect(200)
      return cookie
    }

    const attacks: [string, string][] = [
      ['an assignment', '/cart'],
      ['an update()', '/cart/update'],
    ]

    it.each(attacks)('logout everywhere (revokeAll) during %s that loaded the stash', async (_what, path) => {
      const { app, stash, hold } = await shop()
      const stolen = await adaWithCart(app)
      const attack = await hold(path, { 'x-user': 'ada', cookie: stolen }, { item: 'lockpick' })
      expect(await stash.revokeAll('ada')).toBe(1)
      const answer = await attack.send()
      expect(answer.status).toBe(200)
      // The stolen cookie reaches nothing; the attacker's write went to a new stash, without Ada's user.
      await request(app).get('/').set('X-User', 'ada').set('Cookie', stolen).expect(200, { user: null, cart: [] })
      expect(answer.cookie).toBeDefined()
      expect(answer.cookie).not.toBe(stolen)
      const entries = (await stash.listFor('ada')).map((entry) => entry.data)
      expect(entries.every((data) => data.user === undefined)).toBe(true)
    })

    it.each(attacks)('logout (reset) during %s that loaded the stash', async (_what, path) => {
      const { app, hold } = await shop()
      const stolen = await adaWithCart(app)
      const attack = await hold(path, { 'x-user': 'ada', cookie: stolen }, { item: 'lockpick' })
      await request(app).post('/logout').set('X-User', 'ada').set('Cookie', stolen).expect(200)
      const answer = await attack.send()
      expect(answer.status).toBe(200)
      await request(app).get('/').set('X-User', 'ada').set('Cookie', stolen).expect(200, { user: null, cart: [] })
      await request(app)
        .get('/')
        .set('X-User', 'ada')
        .set('Cookie', answer.cookie!)
        .expect((res) => expect(res.body.user).toBeNull())
    })

    it('login (rotate) during a write by the holder of the planted cookie', async () => {
      const { app, hold } = await shop()
      const planted = cookiePair(await request(app).post('/cart').send({ item: 'bait' }).expect(200))
      const attack = await hold('/cart', { cookie: planted }, { item: 'lockpick' })
      const login = await request(app).post('/login').set('X-User', 'ada').set('Cookie', planted).expect(200)
      await attack.send()
      await request(app).get('/').set('Cookie', planted).expect(200, { user: null, cart: [] })
      await request(app).get('/').set('X-User', 'ada').set('Cookie', planted).expect(200, { user: null, cart: [] })
      await request(app)
        .get('/')
        .set('X-User', 'ada')
        .set('Cookie', cookiePair(login))
        .expect(200, { user: 'ada', cart: ['bait'] })
    })

    it('a login (rotate) held until after a logout everywhere brings nothing back', async () => {
      const { app, stash, hold } = await shop()
      const stolen = await adaWithCart(app)
      const attack = await hold('/login', { 'x-user': 'ada', cookie: stolen }, {})
      await stash.revokeAll('ada')
      const answer = await attack.send()
      expect(answer.status).toBe(200)
      const entries = (await stash.listFor('ada')).map((entry) => entry.data)
      expect(entries).toEqual([{ user: 'ada' }]) // the login's own write, not Ada's old cart
    })
  })
}
