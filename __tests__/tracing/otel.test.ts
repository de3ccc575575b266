import { context as otelContext, SpanStatusCode, trace } from '@opentelemetry/api'
import type { ReadableSpan } from '@opentelemetry/sdk-trace-base'
import express from 'express'
import request from 'supertest'
import { memoryAdapter, type StashMiddleware, type StashOptions } from 'express-stash'
import { failingAdapter } from '../support/adapters.js'
import { cookiePair, idOf } from '../support/http.js'
import { tracing } from './otel.js'
import { counterApp } from './support.js'

// OpenTelemetry spans made from the tracing channels by the README's subscriber, for requests
// over HTTP: each nests under the span of its request, as under an APM agent's HTTP span.
const opened: StashMiddleware[] = []
let otel: ReturnType<typeof tracing>
beforeAll(() => (otel = tracing()))
afterAll(async () => {
  await otel.stop()
  await Promise.all(opened.map((stash) => stash.close()))
})
beforeEach(() => otel.exporter.reset())

/** The counter app behind a middleware that opens a span per request, as HTTP instrumentation does. */
function tracedApp(options: StashOptions = {}) {
  const { app, stash } = counterApp(options, opened)
  const outer = express()
  outer.use((req, res, next) => {
    const span = otel.tracer.startSpan(`${req.method} ${req.path}`)
    res.on('finish', () => span.end())
    otelContext.with(trace.setSpan(otelContext.active(), span), next)
  })
  outer.use(app)
  return { app: outer, stash }
}

const spans = (): ReadableSpan[] => otel.exporter.getFinishedSpans()
const named = (name: string): ReadableSpan[] => spans().filter((span) => span.name === name)

/** The spans of one request: its own span, and the load and commit spans under it. */
function requestSpans(path: string) {
  const root = spans().find((span) => span.name === `GET ${path}` || span.name === `POST ${path}`)!
  const children = spans().filter((span) => span.parentSpanContext?.spanId === root.spanContext().spanId)
  return { root, children: Object.fromEntries(children.map((span) => [span.name, span])) }
}

it('makes a load span and a commit span per request, under its span, with what they did', async () => {
  const { app, stash } = tracedApp()
  const cookie = cookiePair(await request(app).get('/count').expect(200, { count: 1 }))
  expect(spans().map((span) => span.name)).toEqual(['express-stash commit', 'GET /count']) // a new stash: nothing to load
  const label = (await stash.ids())[0]!.slice(-8)
  otel.exporter.reset()

  await request(app).get('/count').set('Cookie', cookie).expect(200, { count: 2 })
  const { children } = requestSpans('/count')
  expect(Object.keys(children).sort()).toEqual(['express-stash commit', 'express-stash load'])
  expect(children['express-stash load']!.attributes).toEqual({
    'express_stash.record': label,
    'express_stash.adapter': 'memory',
    'express_stash.keys': ['count'],
    'express_stash.outcome': 'hit',
  })
  expect(children['express-stash commit']!.attributes).toEqual({
    'express_stash.record': label,
    'express_stash.adapter': 'memory',
    'express_stash.operation': 'write',
    'express_stash.written': ['count'],
    'express_stash.removed': [],
    'express_stash.outcome': 'written',
  })
  expect(spans().every((span) => span.status.code !== SpanStatusCode.ERROR)).toBe(true)

  otel.exporter.reset()
  await request(app).get('/peek').set('Cookie', cookie).expect(200, { count: 2, available: true })
  expect(Object.keys(requestSpans('/peek').children)).toEqual(['express-stash load']) // nothing written
})

it('makes error spans when the store fails a load or a write', async () => {
  const adapter = failingAdapter(memoryAdapter())
  const { app } = tracedApp({ adapter })
  const cookie = cookiePair(await request(app).get('/count').expect(200, { count: 1 }))

  adapter.failing.add('write')
  otel.exporter.reset()
  await request(app).get('/count').set('Cookie', cookie).expect(503, { code: 'ERR_STASH_WRITE' })
  const [commit] = named('express-stash commit')
  expect(commit!.attributes['express_stash.outcome']).toBe('error')
  expect(commit!.status).toEqual({ code: SpanStatusCode.ERROR, message: expect.stringContaining('failed a write: store down') })
  expect(commit!.events.map((event) => [event.name, event.attributes?.['exception.type']])).toEqual([
    ['exception', 'ERR_STASH_WRITE'],
  ]) // OpenTelemetry takes an error's code as its type
  expect(named('express-stash load')[0]!.attributes['express_stash.outcome']).toBe('hit')

  adapter.failing.add('load')
  otel.exporter.reset()
  await request(app).get('/peek').set('Cookie', cookie).expect(503, { code: 'ERR_STASH_UNAVAILABLE' })
  const [load] = named('express-stash load')
  expect(load!.attributes['express_stash.outcome']).toBe('error')
  expect(load!.status.code).toBe(SpanStatusCode.ERROR)
  expect(load!.events[0]!.attributes?.['exception.type']).toBe('ERR_STASH_UNAVAILABLE')
  expect(named('express-stash commit')).toEqual([])
})

it('puts no ID and no cookie in any span', async () => {
  const adapter = failingAdapter(memoryAdapter())
  const { app } = tracedApp({ adapter, ttl: 1 })
  const cookie = cookiePair(await request(app).get('/count').expect(200))
  await request(app).post('/update').set('Cookie', cookie).expect(200, { count: 2 })
  await request(app).post('/drop').set('Cookie', cookie).expect(200)
  adapter.failing.add('write')
  await request(app).get('/count').set('Cookie', cookie).expect(503)
  const exported = spans().filter((span) => span.name.startsWith('express-stash'))
  expect(exported.length).toBeGreaterThanOrEqual(7)
  const text = JSON.stringify(exported.map((span) => ({ name: span.name, attributes: span.attributes, events: span.events })))
  expect(text).toContain('exception.stacktrace')
  for (const secret of [idOf(cookie), cookie.slice(cookie.indexOf('=') + 1), decodeURIComponent(cookie)]) {
    expect(text).not.toContain(secret)
  }
})
