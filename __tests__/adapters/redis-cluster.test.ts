import '../support/stash-data.js'
import { randomBytes } from 'node:crypto'
import express from 'express'
import { Cluster } from 'ioredis'
import { createCluster } from 'redis'
import request from 'supertest'
import { createStash, redisAdapter } from '../../lib/index.js'
import { cookiePair } from '../support/http.js'
import { startRedisCluster, type RedisCluster } from '../support/redis-cluster.js'
import { runAdapterContract } from './contract.js'

// A real local Redis Cluster: 3 masters started by the test support code.
let cluster: RedisCluster
let nodeRedis: ReturnType<typeof createCluster>
let ioredis: Cluster
const prefix = () => `test:${randomBytes(6).toString('base64url')}:`

beforeAll(async () => {
  cluster = await startRedisCluster()
  nodeRedis = createCluster({ rootNodes: cluster.rootNodes })
  nodeRedis.on('error', () => {})
  await nodeRedis.connect()
  ioredis = new Cluster(cluster.nodes.map(({ host, port }) => ({ host, port })))
  ioredis.on('error', () => {})
  await new Promise((resolve) => ioredis.once('ready', resolve))
}, 60_000)

afterAll(async () => {
  await nodeRedis?.close()
  await ioredis?.quit()
  await cluster?.stop()
})

runAdapterContract('redis cluster via node-redis', () => redisAdapter({ client: nodeRedis, prefix: prefix() }))
runAdapterContract('redis cluster via ioredis', () => redisAdapter({ client: ioredis, prefix: prefix() }))

it('spreads records over every master', async () => {
  const adapter = redisAdapter({ client: ioredis, prefix: 'spread:' })
  for (let i = 0; i < 30; i++) await adapter.write(`record-${i}`, { set: { a: String(i) }, del: [], ttl: 60 })
  const counts = await Promise.all(ioredis.nodes('master').map((node) => node.dbsize()))
  expect(counts.every((count) => count > 0)).toBe(true)
  expect(counts.reduce((a, b) => a + b, 0)).toBeGreaterThanOrEqual(30)
  await adapter.close()
})

it.each(['node-redis', 'ioredis'])('serves a stash over HTTP on the cluster via %s: counter, update, rotate', async (kind) => {
  const client = kind === 'node-redis' ? nodeRedis : ioredis
  const stash = createStash({ secret: 's', storedKeys: ['count', 'hits'], adapter: redisAdapter({ client, prefix: prefix() }) })
  const app = express().use(stash)
  app.get('/count', (req, res) => res.json({ count: (req.stash.count = (req.stash.count ?? 0) + 1) }))
  app.post('/hit', async (req, res) => res.json({ hits: await req.stash.update('hits', (n) => (n ?? 0) + 1) }))
  app.post('/rotate', async (req, res) => {
    await req.stash.rotate()
    res.json(req.stash)
  })
  const first = await request(app).get('/count').expect(200, { count: 1 })
  await Promise.all(Array.from({ length: 20 }, () => request(app).post('/hit').set('Cookie', cookiePair(first))))
  const rotated = await request(app).post('/rotate').set('Cookie', cookiePair(first)).expect(200, { count: 1, hits: 20 })
  await request(app).get('/count').set('Cookie', cookiePair(rotated)).expect(200, { count: 2 })
  await request(app).get('/count').set('Cookie', cookiePair(first)).expect(200, { count: 1 }) // the old ID is dead
  await stash.close()
})
