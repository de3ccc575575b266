import { randomBytes } from 'node:crypto'
import express from 'express'
import request from 'supertest'
import { createStash, redisAdapter } from '../lib/index.js'
import { runExpirySuite } from './http/expiry-suite.js'
import { useRedis } from './support/redis-client.js'

const redis = useRedis()
const prefix = () => `expiry:${randomBytes(6).toString('base64url')}:`
runExpirySuite('redis', () => redisAdapter({ client: redis().client, prefix: prefix() }))

test('a stash written under the old model (one expiry per record) keeps working, and its next write converts it', async () => {
  const keyPrefix = prefix()
  const stash = createStash({
    secret: 'old model',
    storedKeys: ['count'],
    adapter: redisAdapter({ client: redis().client, prefix: keyPrefix }),
  })
  const app = express().use(stash)
  app.post('/count', (req, res) => res.json({ count: (req.stash.count = (req.stash.count ?? 0) + 1) }))
  app.get('/count', (req, res) => res.json({ count: req.stash.count ?? null, expiresAt: req.stash.expiresAt.count ?? null }))
  const agent = request.agent(app)
  await agent.post('/count').expect(200, { count: 1 })
  const [key] = await redis().client.keys(`${keyPrefix}*`)
  // The previous layout: the marker holds the record's size, and the key's own expiry is the only one.
  const value = (await redis().client.hGet(key!, 'count'))!
  await redis().client.hSet(key!, '', String('count'.length + value.length))
  await redis().client.pExpire(key!, 120_000)
  const read = (await agent.get('/count').expect(200)).body as { count: number; expiresAt: string }
  expect(read.count).toBe(1)
  expect(new Date(read.expiresAt).getTime() - Date.now()).toBeGreaterThan(100_000)
  await agent.post('/count').expect(200, { count: 2 })
  expect(await redis().client.hGet(key!, '')).toMatch(/^\{"c":/)
  await stash.close()
})
