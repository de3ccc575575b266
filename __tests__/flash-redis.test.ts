/**
 * Flash messages under concurrency on a real Redis, with and without the near cache: of parallel
 * requests of one client, exactly one gets a message; parallel adders never lose each other's
 * messages; adders and readers at once neither lose nor repeat one.
 */
import { randomBytes } from 'node:crypto'
import express from 'express'
import request from 'supertest'
import { createStash, redisAdapter, type StashAdapter } from '../lib/index.js'
import { cookiePair, setCookie } from './support/http.js'
import { useRedis } from './support/redis-client.js'

const redis = useRedis()
const prefix = () => `flash-race:${randomBytes(6).toString('base64url')}:`
const ADAPTERS: [string, () => StashAdapter][] = [
  ['redis', () => redisAdapter({ client: redis().client, prefix: prefix() })],
  ['redis with cache', () => redisAdapter({ url: redis().server.url, prefix: prefix(), cache: true })],
]
const PARALLEL = 12
const ROUNDS = 4

describe.each(ADAPTERS)('flash messages of parallel requests on %s', (_name, makeAdapter) => {
  const opened: { close(): Promise<void> }[] = []
  afterAll(() => Promise.all(opened.map((stash) => stash.close())))

  /** A global stash without stored keys, a cart route with some; flash routes on both. */
  function raceApp() {
    const stash = createStash({ secret: 'flash race secret', adapter: makeAdapter() })
    opened.push(stash)
    const cart = stash.route({ storedKeys: ['cart'] })
    const app = express()
    app.use(express.json())
    app.use(stash)
    app.post('/cart', cart, (req, res) => {
      req.stash.cart = ['apple']
      res.json({})
    })
    app.post('/flash', (req, res) => void res.json({ count: req.stash.flash('info', req.body.value) }))
    app.post('/cart/flash', cart, (req, res) => void res.json({ count: req.stash.flash('info', req.body.value) }))
    app.get('/flash', (req, res) => void res.json(req.stash.flash('info')))
    app.get('/cart/flash', cart, (req, res) => void res.json(req.stash.flash('info')))
    app.get('/cart', cart, (req, res) => void res.json({ cart: req.stash.cart ?? [] }))
    return app
  }

  /** A client with a stash (its cart), and the cookie it holds. */
  async function client(app: express.Express): Promise<string> {
    return cookiePair(await request(app).post('/cart').expect(200))
  }

  it.each(['/flash', '/cart/flash'])('gives one message to exactly one of %p parallel reads, round after round', async (path) => {
    const app = raceApp()
    let cookie = await client(app)
    for (let round = 0; round < ROUNDS; round++) {
      const added = await request(app)
        .post('/flash')
        .set('Cookie', cookie)
        .send({ value: `message ${round}` })
        .expect(200)
      if (setCookie(added) !== undefined) cookie = cookiePair(added) // now says that a message waits
      expect(decodeURIComponent(cookie)).toContain('(')
      const reads = await Promise.all(
        Array.from({ length: PARALLEL }, () => request(app).get(path).set('Cookie', cookie).expect(200)),
      )
      const bodies = reads.map((res) => res.body as unknown[])
      expect(bodies.filter((body) => body.length > 0)).toEqual([[`message ${round}`]])
    }
    await request(app)
      .get('/cart')
      .set('Cookie', cookie)
      .expect(200, { cart: ['apple'] })
  })

  it.each(['/flash', '/cart/flash'])('keeps every message of %p parallel adders', async (path) => {
    const app = raceApp()
    const cookie = await client(app) // says nothing of messages: a read must still find them on a route that loads
    const values = Array.from({ length: PARALLEL }, (_, i) => `m${i}`)
    await Promise.all(
      values.map((value) => request(app).post(path).set('Cookie', cookie).send({ value }).expect(200, { count: 1 })),
    )
    const { body } = await request(app).get('/cart/flash').set('Cookie', cookie).expect(200)
    expect([...body].sort()).toEqual([...values].sort())
    await request(app).get('/cart/flash').set('Cookie', cookie).expect(200, [])
  })

  it('neither loses nor repeats a message when adders and readers run at once', async () => {
    const app = raceApp()
    const cookie = await client(app)
    const values = Array.from({ length: PARALLEL }, (_, i) => `m${i}`)
    const adds = values.map((value) => request(app).post('/flash').set('Cookie', cookie).send({ value }).expect(200))
    const reads = values.map(() => request(app).get('/cart/flash').set('Cookie', cookie).expect(200))
    const [, read] = await Promise.all([Promise.all(adds), Promise.all(reads)])
    const seen = read.flatMap((res) => res.body as string[])
    const rest = (await request(app).get('/cart/flash').set('Cookie', cookie).expect(200)).body as string[]
    expect([...seen, ...rest].sort()).toEqual([...values].sort())
  })
})
