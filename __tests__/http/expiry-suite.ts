/**
 * The expiry model as an application lives it, over HTTP with real time and small ttls: each
 * stored key expires on its own route's ttl, `touch: false` routes keep nothing alive,
 * `maxLifetime` ends a stash however active it is (rotation included), a shorter ttl shortens a
 * key, and `req.stash.expiresAt` tells a handler when its keys expire.
 */
import '../support/stash-data.js'
import express from 'express'
import request from 'supertest'
import { createStash, type StashAdapter, type StashOptions } from '../../lib/index.js'
import { setCookie, sleep } from '../support/http.js'

const secret = 'expiry suite secret'

/** Calls `fn` every `interval` ms until `duration` ms have passed since the start; the results in order. */
async function every<T>(interval: number, duration: number, fn: () => Promise<T>): Promise<T[]> {
  const started = Date.now()
  const results: T[] = []
  while (Date.now() - started < duration) {
    results.push(await fn())
    await sleep(interval)
  }
  return results
}

export function runExpirySuite(name: string, makeAdapter: () => StashAdapter): void {
  describe(`expiry per key, touch per route, maxLifetime (${name})`, () => {
    const stashes: { close(): Promise<void> }[] = []
    afterAll(() => Promise.all(stashes.map((stash) => stash.close())))

    function newStash(options: StashOptions) {
      const stash = createStash({ secret, adapter: makeAdapter(), ...options })
      stashes.push(stash)
      return stash
    }

    test('a wizard key expires on its route’s ttl while requests through other routes keep the stash alive', async () => {
      const stash = newStash({ storedKeys: ['theme'], ttl: 3600 })
      const expired: unknown[] = []
      stash.on('expired', (event) => expired.push(event))
      const wizard = stash.route({ storedKeys: ['step'], ttl: 1 })
      const app = express().use(stash)
      app.post('/theme', (req, res) => {
        req.stash.theme = 'dark'
        res.end()
      })
      app.post('/wizard', wizard, (req, res) => {
        req.stash.step = 1
        res.end()
      })
      app.get('/wizard', wizard, (req, res) => res.json({ step: req.stash.step ?? null, theme: req.stash.theme ?? null }))
      app.get('/page', (req, res) => res.json({ theme: req.stash.theme ?? null }))
      const agent = request.agent(app)
      await agent.post('/theme').expect(200)
      await agent.post('/wizard').expect(200)
      await agent.get('/wizard').expect(200, { step: 1, theme: 'dark' })

      const pages = await every(300, 2100, async () => (await agent.get('/page').expect(200)).body as unknown)
      expect(pages.every((page) => JSON.stringify(page) === '{"theme":"dark"}')).toBe(true)
      await agent.get('/wizard').expect(200, { step: null, theme: 'dark' })
      expect(expired).toEqual([]) // the record lives on: its other key does
    })

    test('a load through the wizard route slides the wizard key; the instance’s key keeps its own ttl', async () => {
      const stash = newStash({ storedKeys: ['theme'], ttl: 1 })
      const wizard = stash.route({ storedKeys: ['step'], ttl: 3600 })
      const app = express().use(stash)
      app.post('/both', wizard, (req, res) => {
        req.stash.theme = 'dark'
        req.stash.step = 1
        res.end()
      })
      app.get('/wizard', wizard, (req, res) => res.json({ step: req.stash.step ?? null, theme: req.stash.theme ?? null }))
      const agent = request.agent(app)
      await agent.post('/both').expect(200)
      await sleep(1300)
      await agent.get('/wizard').expect(200, { step: 1, theme: null })
    })

    test('a touch: false route polled every 300 ms does not keep a 1 s stash alive; a touching route does', async () => {
      const stash = newStash({ storedKeys: ['count'], ttl: 1 })
      const expired: unknown[] = []
      stash.on('expired', (event) => expired.push(event))
      const app = express().use(stash)
      app.post('/count', (req, res) => res.json({ count: (req.stash.count = (req.stash.count ?? 0) + 1) }))
      app.get('/poll', stash.route({ touch: false }), (req, res) => res.json({ count: req.stash.count ?? null }))
      app.get('/page', (req, res) => res.json({ count: req.stash.count ?? null }))

      const touching = request.agent(app)
      await touching.post('/count').expect(200, { count: 1 })
      const pages = await every(300, 2100, async () => (await touching.get('/page').expect(200)).body as { count: unknown })
      expect(pages.map((page) => page.count)).toEqual(pages.map(() => 1))

      const polling = request.agent(app)
      await polling.post('/count').expect(200, { count: 1 })
      const polls = await every(300, 2100, async () => (await polling.get('/poll').expect(200)).body as { count: unknown })
      expect(polls[0]!.count).toBe(1)
      expect(polls.at(-1)!.count).toBeNull()
      expect(expired).toHaveLength(1)
    })

    test('touch: false on a route mounted alone, and on the instance, slides nothing', async () => {
      for (const [instanceTouch, routeTouch] of [
        [true, false],
        [false, undefined],
      ] as const) {
        const stash = newStash({ ttl: 1, touch: instanceTouch })
        const app = express()
        app.post('/count', stash.route({ storedKeys: ['count'] }), (req, res) => res.json({ count: (req.stash.count = 1) }))
        app.get('/poll', stash.route({ storedKeys: ['count'], touch: routeTouch }), (req, res) =>
          res.json({ count: req.stash.count ?? null }),
        )
        const agent = request.agent(app)
        await agent.post('/count').expect(200)
        const polls = await every(300, 1500, async () => (await agent.get('/poll').expect(200)).body as { count: unknown })
        expect(polls[0]!.count).toBe(1)
        expect(polls.at(-1)!.count).toBeNull()
      }
    })

    test('an open response keeps its stash alive on a touching route, not on a touch: false one', async () => {
      const stash = newStash({ storedKeys: ['count'], ttl: 1 })
      const app = express().use(stash)
      app.post('/count', (req, res) => res.json({ count: (req.stash.count = 1) }))
      app.get('/count', (req, res) => res.json({ count: req.stash.count ?? null }))
      // A long poll: the response stays open 1.6 s, past the ttl, before it ends.
      const hold = (_req: unknown, res: express.Response) => void setTimeout(() => res.json({}), 1600)
      app.get('/stream', hold)
      app.get('/quiet-stream', stash.route({ touch: false }), hold)
      const kept = request.agent(app)
      const dropped = request.agent(app)
      await kept.post('/count').expect(200)
      await dropped.post('/count').expect(200)
      await Promise.all([kept.get('/stream').expect(200), dropped.get('/quiet-stream').expect(200)])
      await kept.get('/count').expect(200, { count: 1 })
      await dropped.get('/count').expect(200, { count: null })
    })

    test('maxLifetime: 2 ends a stash hit every 300 ms, and its cookie never outlives it', async () => {
      const stash = newStash({ storedKeys: ['count'], ttl: 3600, maxLifetime: 2, cookie: { maxAge: 3600 } })
      const app = express().use(stash)
      app.post('/count', (req, res) => res.json({ count: (req.stash.count = (req.stash.count ?? 0) + 1) }))
      const agent = request.agent(app)
      const first = await agent.post('/count').expect(200, { count: 1 })
      const maxAge = Number(/Max-Age=(\d+)/.exec(setCookie(first) ?? '')?.[1])
      expect(maxAge).toBeGreaterThan(0)
      expect(maxAge).toBeLessThanOrEqual(2)
      const counts = await every(
        300,
        2600,
        async () => ((await agent.post('/count').expect(200)).body as { count: number }).count,
      )
      const restart = counts.indexOf(1)
      expect(restart).toBeGreaterThan(2) // it counted up first, then started over
      expect(counts.slice(0, restart)).toEqual(counts.slice(0, restart).map((_, i) => i + 2))
    })

    test('rotate() keeps the creation time: a stash cannot outlive maxLifetime by rotating', async () => {
      const stash = newStash({ storedKeys: ['count'], ttl: 3600, maxLifetime: 2 })
      const app = express().use(stash)
      app.post('/count', (req, res) => res.json({ count: (req.stash.count = (req.stash.count ?? 0) + 1) }))
      app.post('/rotate', async (req, res) => {
        await req.stash.rotate()
        res.json({ count: req.stash.count ?? null })
      })
      const agent = request.agent(app)
      await agent.post('/count').expect(200, { count: 1 })
      const rotations = await every(
        300,
        1500,
        async () => ((await agent.post('/rotate').expect(200)).body as { count: unknown }).count,
      )
      expect(rotations.every((count) => count === 1)).toBe(true)
      await sleep(2100 - 1500)
      await agent.post('/count').expect(200, { count: 1 }) // a new stash: the rotated one ended with its lifetime
    })

    test('a shorter ttl written later, or loaded later, shortens the key', async () => {
      const stash = newStash({ ttl: 3600 })
      const long = stash.route({ storedKeys: ['note'], ttl: 3600 })
      const short = stash.route({ storedKeys: ['note'], ttl: 1 })
      const app = express()
      app.post('/long', long, (req, res) => {
        req.stash.note = 'long'
        res.end()
      })
      app.post('/short', short, (req, res) => {
        req.stash.note = 'short'
        res.end()
      })
      app.get('/short', short, (req, res) => res.json({ note: req.stash.note ?? null }))
      app.get('/long', long, (req, res) => res.json({ note: req.stash.note ?? null }))

      const control = request.agent(app)
      await control.post('/long').expect(200)
      const written = request.agent(app)
      await written.post('/long').expect(200)
      await written.post('/short').expect(200)
      const loaded = request.agent(app)
      await loaded.post('/long').expect(200)
      await loaded.get('/short').expect(200, { note: 'long' })
      await sleep(1300)
      await control.get('/long').expect(200, { note: 'long' })
      await written.get('/long').expect(200, { note: null })
      await loaded.get('/long').expect(200, { note: null })
    })

    test('req.stash.expiresAt tells each key’s expiry, read-only and not enumerable', async () => {
      const stash = newStash({ storedKeys: ['theme'], ttl: 300, maxLifetime: 1000 })
      const cart = stash.route({ storedKeys: ['cart'], ttl: 3600 })
      const app = express().use(stash)
      app.post('/cart', cart, (req, res) => {
        req.stash.theme = 'dark'
        req.stash.cart = ['apple']
        res.json({ expiresAt: req.stash.expiresAt, keys: Object.keys(req.stash), json: JSON.stringify(req.stash) })
      })
      app.get('/cart', cart, (req, res) => {
        const expiresAt = req.stash.expiresAt
        let assigned = true
        try {
          ;(req.stash as { expiresAt: unknown }).expiresAt = {}
        } catch {
          assigned = false
        }
        res.json({ expiresAt, frozen: Object.isFrozen(expiresAt), assigned, same: req.stash.expiresAt === expiresAt })
      })
      app.get('/none', (req, res) => res.json(req.stash.expiresAt))
      const agent = request.agent(app)
      const before = Date.now()
      const written = (await agent.post('/cart').expect(200)).body as {
        expiresAt: Record<string, string>
        keys: string[]
        json: string
      }
      const at = (key: string, body: { expiresAt: Record<string, string> }) => new Date(body.expiresAt[key]!).getTime()
      expect(at('theme', written) - before).toBeGreaterThanOrEqual(300_000)
      expect(at('theme', written) - Date.now()).toBeLessThanOrEqual(300_000)
      expect(at('cart', written) - before).toBeGreaterThanOrEqual(1_000_000 - 1000) // capped by maxLifetime
      expect(at('cart', written) - Date.now()).toBeLessThanOrEqual(1_000_000)
      expect(written.keys.sort()).toEqual(['cart', 'theme'])
      expect(written.json).toBe('{"theme":"dark","cart":["apple"]}')

      const read = (await agent.get('/cart').expect(200)).body as {
        expiresAt: Record<string, string>
        frozen: boolean
        assigned: boolean
        same: boolean
      }
      expect(read).toMatchObject({ frozen: true, assigned: false, same: false })
      expect(Math.abs(at('cart', read) - at('cart', written))).toBeLessThan(1000) // the lifetime cap holds it in place
      await request(app).get('/none').expect(200, {})
    })
  })
}
