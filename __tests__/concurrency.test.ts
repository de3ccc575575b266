import './support/stash-data.js'
import { randomBytes } from 'node:crypto'
import { get } from 'node:http'
import type { AddressInfo } from 'node:net'
import express from 'express'
import request from 'supertest'
import { createStash, memoryAdapter, redisAdapter, type StashAdapter, type StashMiddleware } from '../lib/index.js'
import { recordKeyOf } from '../lib/values/ids.js'
import { cookiePair, idOf, sleep } from './support/http.js'
import { useRedis } from './support/redis-client.js'

const redis = useRedis()

const ADAPTERS: [string, () => StashAdapter][] = [
  ['memory', () => memoryAdapter()],
  ['redis', () => redisAdapter({ client: redis().client, prefix: `conc:${randomBytes(6).toString('base64url')}:` })],
]

describe.each(ADAPTERS)('concurrent requests of one client on %s', (_name, makeAdapter) => {
  const opened: StashMiddleware[] = []
  afterAll(() => Promise.all(opened.map((stash) => stash.close())))

  function app(ttl = 60) {
    const adapter = makeAdapter()
    const stash = createStash({ secret: 's', storedKeys: ['a', 'b'], ttl, adapter })
    opened.push(stash)
    const web = express().use(stash)
    web.get('/', (req, res) => res.json(req.stash))
    web.post('/set/:key', (req, res) => res.json((req.stash[req.params.key] = req.params.key)))
    web.post('/delete/:key', (req, res) => res.json(delete req.stash[req.params.key]))
    // Reads the stash, then holds the response while others write: a slow read-only request.
    web.get('/slow', async (req, res) => {
      await sleep(150)
      res.json(req.stash)
    })
    web.post('/slow-set/:key', async (req, res) => {
      await sleep(100)
      res.json((req.stash[req.params.key] = `${req.params.key}2`))
    })
    // Server-sent events: the stream stays open until the client leaves.
    web.get('/events', (req, res) => {
      res.writeHead(200, { 'Content-Type': 'text/event-stream' })
      res.write(`data: ${JSON.stringify(req.stash)}\n\n`)
    })
    return { web, adapter }
  }

  it('never resurrects a deleted key, nor rewrites a newer value, from a slower request that only read it', async () => {
    const { web } = app()
    const cookie = cookiePair(await request(web).post('/set/a'))
    await request(web).post('/set/b').set('Cookie', cookie)
    const slow = request(web)
      .get('/slow')
      .set('Cookie', cookie)
      .then((res) => res) // sent now, not lazily
    await sleep(50) // the slow request has loaded { a, b }
    await request(web).post('/delete/a').set('Cookie', cookie).expect(200)
    await request(web).post('/set/b').set('Cookie', cookie).expect(200)
    expect((await slow).body).toEqual({ a: 'a', b: 'b' })
    await request(web).get('/').set('Cookie', cookie).expect(200, { b: 'b' })
  })

  it('keeps the writes of overlapping requests that change different keys', async () => {
    const { web } = app()
    const cookie = cookiePair(await request(web).post('/set/a'))
    // Both load the record before either writes; each then writes its own key.
    await Promise.all([
      request(web).post('/slow-set/a').set('Cookie', cookie),
      request(web).post('/slow-set/b').set('Cookie', cookie),
    ])
    await request(web).get('/').set('Cookie', cookie).expect(200, { a: 'a2', b: 'b2' })
  })

  it('keeps the stash alive while a response stays open, and lets it expire one ttl after it closes', async () => {
    const { web, adapter } = app(1) // ttl 1 s: the stream touches it every 250 ms
    const cookie = cookiePair(await request(web).post('/set/a'))
    const record = recordKeyOf(idOf(cookie), undefined)
    const listener = web.listen(0, '127.0.0.1')
    await new Promise((resolve) => listener.once('listening', resolve))
    const stream = await new Promise<import('node:http').IncomingMessage>((resolve) =>
      get({ port: (listener.address() as AddressInfo).port, path: '/events', headers: { Cookie: cookie } }, resolve),
    )
    const first = await new Promise<string>((resolve) => stream.once('data', (chunk: Buffer) => resolve(chunk.toString())))
    expect(first).toBe('data: {"a":"a"}\n\n')
    await sleep(2500) // 2.5 ttls with the stream open
    expect(await adapter.readAll(record)).toBeDefined()
    stream.destroy()
    await sleep(1600) // one ttl (and some) after the stream closed
    expect(await adapter.readAll(record)).toBeUndefined()
    await new Promise((resolve) => listener.close(resolve))
  })
})
