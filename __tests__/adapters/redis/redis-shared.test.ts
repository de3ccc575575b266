import '../../support/stash-data.js'
import express from 'express'
import request from 'supertest'
import { createStash, redisAdapter, type StashMiddleware } from '../../../lib/index.js'
import { recordKeyOf } from '../../../lib/values/ids.js'
import { cookiePair, idOf } from '../../support/http.js'
import { startRedis, type RedisServer } from '../../support/redis-server.js'

// Separate app instances, each with its own stash and its own Redis client created from the
// URL, as separate processes or deploys would have them.
let server: RedisServer
const running: StashMiddleware[] = []

beforeAll(async () => {
  server = await startRedis()
})

afterAll(async () => {
  await Promise.all(running.map((stash) => stash.close()))
  await server?.stop()
})

function instance(): { app: express.Express; stash: StashMiddleware } {
  const stash = createStash({ secret: ['current', 'old'], storedKeys: ['count', 'hits'], adapter: redisAdapter(server.url) })
  running.push(stash)
  const app = express()
  app.use(stash)
  app.get('/count', (req, res) => {
    req.stash.count = (req.stash.count ?? 0) + 1
    res.json({ count: req.stash.count })
  })
  app.post('/hit', async (req, res) => res.json({ hits: await req.stash.update('hits', (n) => (n ?? 0) + 1) }))
  app.get('/', (req, res) => res.json(req.stash))
  return { app, stash }
}

it('shares state between instances, and keeps it across a restart of the app', async () => {
  const a = instance()
  const b = instance()
  const first = await request(a.app).get('/count').expect(200, { count: 1 })
  const cookie = cookiePair(first)
  await request(b.app).get('/count').set('Cookie', cookie).expect(200, { count: 2 })
  await request(a.app).get('/count').set('Cookie', cookie).expect(200, { count: 3 })
  await Promise.all([a.stash.close(), b.stash.close()])
  const restarted = instance()
  await request(restarted.app).get('/count').set('Cookie', cookie).expect(200, { count: 4 })
})

it('counts 100 concurrent update() increments from two instances exactly', async () => {
  const a = instance()
  const b = instance()
  const cookie = cookiePair(await request(a.app).get('/count'))
  const hits = await Promise.all(
    Array.from({ length: 100 }, (_, i) =>
      request((i % 2 === 0 ? a : b).app)
        .post('/hit')
        .set('Cookie', cookie)
        .expect(200),
    ),
  )
  expect(hits.map((r) => r.body.hits as number).sort((x, y) => x - y)).toEqual(Array.from({ length: 100 }, (_, i) => i + 1))
  await request(b.app).get('/').set('Cookie', cookie).expect(200, { count: 1, hits: 100 })
})

it('never stores the raw stash ID in Redis', async () => {
  const { app } = instance()
  const id = idOf(cookiePair(await request(app).get('/count')))
  const dump = await server.cli('--scan')
  expect(dump).toMatch(/^stash:/m)
  expect(dump).not.toContain(id)
  for (const key of dump.split('\n')) expect(await server.cli('HGETALL', key)).not.toContain(id)
})

it('ignores, removes and reports values written into a live record behind its back', async () => {
  const { app, stash } = instance()
  const errors: { code?: string }[] = []
  stash.on('error', (err) => errors.push(err))
  const cookie = cookiePair(await request(app).get('/count'))
  const key = 'stash:' + recordKeyOf(idOf(cookie), undefined)
  expect(await server.cli('HEXISTS', key, 'count')).toBe('1')
  await server.cli('HSET', key, 'count', '999', 'hits', 'garbage')
  await request(app).get('/').set('Cookie', cookie).expect(200, {})
  expect(errors.map((e) => e.code)).toEqual(['ERR_STASH_CORRUPT', 'ERR_STASH_CORRUPT'])
  expect(await server.cli('EXISTS', key)).toBe('0') // both fields removed, so the record is gone
})
