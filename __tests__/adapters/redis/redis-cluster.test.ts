import '../../support/stash-data.js'
import { randomBytes } from 'node:crypto'
import express from 'express'
import { Cluster } from 'ioredis'
import { createCluster } from 'redis'
import request from 'supertest'
import { createStash, redisAdapter } from '../../../lib/index.js'
import { cookiePair } from '../../support/http.js'
import { startRedisCluster, type RedisCluster } from '../../support/redis-cluster.js'
import { runAdapterContract } from '../../../lib/testing/index.js'
import { runExpirySuite } from '../../http/expiry-suite.js'
import { runResurrectionSuite } from '../../http/resurrection-suite.js'

const jestGlobals = { describe, test, beforeAll, afterAll }

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

runAdapterContract(jestGlobals, 'redis cluster via node-redis', () => redisAdapter({ client: nodeRedis, prefix: prefix() }))
runAdapterContract(jestGlobals, 'redis cluster via ioredis', () => redisAdapter({ client: ioredis, prefix: prefix() }))
runResurrectionSuite('redis cluster', () => redisAdapter({ client: ioredis, prefix: prefix() }))
runExpirySuite('redis cluster', () => redisAdapter({ client: nodeRedis, prefix: prefix() }))

it('spreads records over every master', async () => {
  const adapter = redisAdapter({ client: ioredis, prefix: 'spread:' })
  for (let i = 0; i < 30; i++)
    await adapter.write(`record-${i}`, { set: { a: String(i) }, del: [], expiresAt: { a: Date.now() + 60_000 } })
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

it.each(['node-redis', 'ioredis'])(
  'admin on the cluster via %s: ids and clear over every master, per-user list and revoke',
  async (kind) => {
    const client = kind === 'node-redis' ? nodeRedis : ioredis
    const mine = prefix()
    const stash = createStash({
      secret: 's',
      storedKeys: ['n'],
      sessionKey: (req) => req.headers['x-user'] as string,
      adapter: redisAdapter({ client, prefix: mine }),
    })
    const bystander = redisAdapter({ client, prefix: prefix() })
    await bystander.write('untouched', { set: { a: '1' }, del: [], expiresAt: { a: Date.now() + 60_000 } })
    const app = express().use(stash)
    app.get('/', (req, res) => res.json((req.stash.n = 1)))
    app.post('/login', async (req, res) => {
      await req.stash.rotate() // the user's records share a hash slot: one atomic script
      res.json({})
    })
    const users = ['u1', 'u2', 'u3', 'u4', 'u5', 'u6']
    const responses = await Promise.all(users.flatMap((user) => [user, user].map((u) => request(app).get('/').set('X-User', u))))
    await request(app).post('/login').set('X-User', 'u1').set('Cookie', cookiePair(responses[0]!)).expect(200)
    expect(await stash.length()).toBe(12)
    expect((await stash.listFor('u1')).map((entry) => entry.data)).toEqual([{ n: 1 }, { n: 1 }])
    expect(await stash.revokeAll('u2')).toBe(2)
    expect(await stash.length()).toBe(10)
    expect(await stash.clear()).toBe(10)
    expect(await stash.ids()).toEqual([])
    expect((await bystander.load('untouched', ['a']))?.values).toEqual(['1'])
    await Promise.all([stash.close(), bystander.close()])
  },
)

it.each(['node-redis', 'ioredis'])(
  'binds an anonymous stash at login on the cluster via %s: the record crosses hash slots and joins the user index',
  async (kind) => {
    const client = kind === 'node-redis' ? nodeRedis : ioredis
    const stash = createStash({
      secret: 's',
      storedKeys: ['n'],
      sessionKey: (req) => req.headers['x-user'] as string | undefined,
      adapter: redisAdapter({ client, prefix: prefix() }),
    })
    const app = express().use(stash)
    app.get('/', (req, res) => res.json({ n: (req.stash.n = (req.stash.n ?? 0) + 1) }))
    app.post('/login', async (req, res) => {
      await req.stash.rotate()
      res.json({})
    })
    const anonymous = await request(app).get('/').expect(200, { n: 1 })
    const login = await request(app).post('/login').set('X-User', 'carol').set('Cookie', cookiePair(anonymous)).expect(200)
    await request(app).get('/').set('X-User', 'carol').set('Cookie', cookiePair(login)).expect(200, { n: 2 })
    await request(app).get('/').set('Cookie', cookiePair(anonymous)).expect(200, { n: 1 }) // the anonymous record is gone
    expect((await stash.listFor('carol')).map((entry) => entry.data)).toEqual([{ n: 2 }])
    expect(await stash.revokeAll('carol')).toBe(1)
    await stash.close()
  },
)

it.each(['node-redis', 'ioredis'])('keeps per-field expiries on the cluster via %s, each call in one slot', async (kind) => {
  const client = kind === 'node-redis' ? nodeRedis : ioredis
  const adapter = redisAdapter({ client, prefix: prefix() })
  const now = Date.now()
  for (const key of ['plain', '{o}one', '{p}two']) {
    await adapter.write(key, { set: { a: '1', b: '2' }, del: [], expiresAt: { a: now + 60_000, b: now + 50 } })
    await new Promise((resolve) => setTimeout(resolve, 80))
    expect(await adapter.load(key, ['a', 'b'])).toMatchObject({ values: ['1', undefined], expiresAt: [now + 60_000, undefined] })
    const swap = { field: 'b', expected: undefined, next: '3', expiresAt: { b: now + 90_000 }, existing: true }
    expect(await adapter.compareAndSet(key, swap)).toEqual({ ok: true })
    expect(await adapter.load(`missing${key}`, ['a'])).toBeUndefined() // the LOAD script, routed by its key
  }
  // Across slots (REPLACE, then DELETE) and within one owner's slot (MOVE).
  const one = (await adapter.readAll('{o}one'))!
  expect(one).toEqual({
    fields: { a: '1', b: '3' },
    expiresAt: { a: now + 60_000, b: now + 90_000 },
    createdAt: expect.any(Number),
  })
  await adapter.move('{o}one', '{q}moved', one)
  expect(await adapter.readAll('{q}moved')).toEqual(one)
  await adapter.move('{p}two', '{p}three', (await adapter.readAll('{p}two'))!)
  expect(await adapter.ownerKeys!('p')).toEqual(['{p}three'])
  expect(await adapter.ownerKeys!('o')).toEqual([])
  await adapter.close()
})
