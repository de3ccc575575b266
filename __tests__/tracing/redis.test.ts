import { randomBytes } from 'node:crypto'
import { SpanStatusCode } from '@opentelemetry/api'
import request from 'supertest'
import { redisAdapter, type StashMiddleware } from 'express-stash'
import { cookiePair, idOf } from '../support/http.js'
import { useRedis } from '../support/redis-client.js'
import { startRedis } from '../support/redis-server.js'
import { tracing } from './otel.js'
import { counterApp, namesOf, recordEvents } from './support.js'

// The tracing channels on a real redis-server: every load waits for Redis, so it publishes the
// asynchronous events too; a stopped server gives error spans.
const redis = useRedis()
const opened: StashMiddleware[] = []
let otel: ReturnType<typeof tracing>
beforeAll(() => (otel = tracing()))
afterAll(async () => {
  await otel.stop()
  await Promise.all(opened.map((stash) => stash.close()))
})
beforeEach(() => otel.exporter.reset())

const spans = () => otel.exporter.getFinishedSpans().filter((span) => span.name.startsWith('express-stash'))
const attributes = () => spans().map((span) => [span.name, span.attributes])

it('publishes the loads and commits of a Redis stash, each load and each write a span', async () => {
  const prefix = `tracing:${randomBytes(6).toString('base64url')}:`
  const { app, stash } = counterApp({ adapter: redisAdapter({ client: redis().client, prefix }) }, opened)
  const recorder = recordEvents()
  try {
    const cookie = cookiePair(await request(app).get('/count').expect(200, { count: 1 }))
    await request(app).get('/count').set('Cookie', cookie).expect(200, { count: 2 })
    await request(app).post('/update').set('Cookie', cookie).expect(200, { count: 3 })
    await request(app).get('/peek').set('Cookie', cookie).expect(200, { count: 3, available: true })
    const label = (await stash.ids())[0]!.slice(-8)
    const load = { 'express_stash.record': label, 'express_stash.adapter': 'redis', 'express_stash.keys': ['count'] }
    const write = { 'express_stash.record': label, 'express_stash.adapter': 'redis', 'express_stash.removed': [] }
    expect(attributes()).toEqual([
      [
        'express-stash commit',
        { ...write, 'express_stash.operation': 'write', 'express_stash.written': ['count'], 'express_stash.outcome': 'written' },
      ],
      ['express-stash load', { ...load, 'express_stash.outcome': 'hit' }],
      [
        'express-stash commit',
        { ...write, 'express_stash.operation': 'write', 'express_stash.written': ['count'], 'express_stash.outcome': 'written' },
      ],
      ['express-stash load', { ...load, 'express_stash.outcome': 'hit' }],
      [
        'express-stash commit',
        { ...write, 'express_stash.operation': 'update', 'express_stash.written': ['count'], 'express_stash.outcome': 'written' },
      ],
      ['express-stash load', { ...load, 'express_stash.outcome': 'hit' }],
    ])
    // A load from Redis waits: it publishes asyncStart and asyncEnd, its outcome known only then.
    const loads = recorder.operations('load')
    expect(loads.map(namesOf)).toEqual(Array(3).fill(['start', 'end', 'asyncStart', 'asyncEnd']))
    expect(loads.map((events) => events[1]!.seen.outcome)).toEqual([undefined, undefined, undefined])
    expect(JSON.stringify(recorder.events.map((one) => one.seen))).not.toContain(idOf(cookie))
  } finally {
    recorder.stop()
  }
})

it('makes an error span when the redis-server is stopped, and the request gets the error', async () => {
  const server = await startRedis()
  try {
    const { app } = counterApp({ adapter: redisAdapter(server.url, { timeout: 500 }) }, opened)
    const cookie = cookiePair(await request(app).get('/count').expect(200, { count: 1 }))
    await server.stop()
    otel.exporter.reset()
    await request(app).get('/count').set('Cookie', cookie).expect(503, { code: 'ERR_STASH_UNAVAILABLE' })
    const [load, ...others] = spans()
    expect(others).toEqual([]) // no commit: the request never reached its handler
    expect(load!.name).toBe('express-stash load')
    expect(load!.attributes).toMatchObject({ 'express_stash.adapter': 'redis', 'express_stash.outcome': 'error' })
    expect(load!.status).toEqual({ code: SpanStatusCode.ERROR, message: expect.stringContaining('ECONNREFUSED') })
    expect(load!.events.map((event) => event.name)).toEqual(['exception'])
  } finally {
    await server.stop()
  }
})
