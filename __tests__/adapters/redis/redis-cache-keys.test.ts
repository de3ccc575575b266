/**
 * The near cache of an app whose routes store different keys, over HTTP on a real redis-server:
 * a write of one stored key keeps the record's other cached values, so the pages that follow
 * load nothing from Redis (`INFO commandstats`).
 */
import express from 'express'
import request from 'supertest'
import { createStash, redisAdapter, type StashMiddleware } from '../../../lib/index.js'
import { eventually } from '../../support/near-cache.js'
import { commandCounter, useRedis } from '../../support/redis-client.js'

declare module '../../../lib/types' {
  interface StashData {
    user: string
    cart: string[]
  }
}

const redis = useRedis()
const commandsDuring = commandCounter(() => redis().client)
let stash: StashMiddleware

beforeAll(() => {
  stash = createStash({
    secret: 'near cache keys test secret',
    storedKeys: ['user'],
    adapter: redisAdapter({ url: redis().server.url, cache: true }),
  })
})
afterAll(() => stash.close())

/** A shop: the instance stores `user`, the cart route also `cart`. */
function shop() {
  const cart = stash.route({ storedKeys: ['cart'] })
  const app = express().use(express.json()).use(stash)
  app.post('/login', (req, res) => {
    req.stash.user = String(req.body.user)
    res.json({})
  })
  app.get('/account', (req, res) => res.json({ user: req.stash.user ?? null, cache: stash.stats().cache }))
  app.post('/cart', cart, (req, res) => {
    req.stash.cart = [...(req.stash.cart ?? []), String(req.body.item)]
    res.json({ user: req.stash.user ?? null, cart: req.stash.cart })
  })
  return app
}

it("keeps a record's other cached keys when a route writes one of them: no load after", async () => {
  const agent = request.agent(shop())
  await agent.post('/login').send({ user: 'ada' }).expect(200)
  let hits = -1
  // Loaded (and cached) once the tracking channel is confirmed: then a second read is a hit.
  await eventually(async () => {
    const { cache } = (await agent.get('/account')).body as { cache: { hits: number } }
    return hits >= 0 && cache.hits > hits ? true : ((hits = cache.hits), false)
  })
  const counts = await commandsDuring(async () => {
    expect((await agent.post('/cart').send({ item: 'tea' })).body).toEqual({ user: 'ada', cart: ['tea'] })
    expect((await agent.get('/account')).body.user).toBe('ada')
    expect((await agent.post('/cart').send({ item: 'cake' })).body).toEqual({ user: 'ada', cart: ['tea', 'cake'] })
  })
  expect(counts.hmget ?? 0).toBe(0) // every load, of `user` and of both keys, answered from the cache
  expect(counts.evalsha).toBe(2) // the two writes of the cart, each one round trip
})
