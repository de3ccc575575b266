import type { ServerResponse } from 'node:http'
import '../support/stash-data.js'
import request from 'supertest'
import type { StashAdapter } from '../../lib/index.js'
import { recordKeyOf } from '../../lib/values/ids.js'
import { failingAdapter } from '../support/adapters.js'
import { sendJson, streamJson, type Framework } from '../support/frameworks.js'
import { cookiePair, idOf, noStashCookie, setCookie, sleep, stashError } from '../support/http.js'
import { appFactory, counter, show } from './core-suite.js'

/**
 * `save`, `reset`, `rotate`, `update`, commit timing with streamed and explicit-header
 * responses, `version`, `maxBytes`, and store failures, through real requests.
 */
export function runLifecycleSuite(framework: Framework, makeAdapter: () => StashAdapter): void {
  describe(`stash lifecycle (${framework.name})`, () => {
    const setup = appFactory(framework, makeAdapter)

    it('commits before a streamed response finishes: write chunks, then end', async () => {
      const { app, agent } = setup({ storedKeys: ['count'] })
      app.route('GET', '/count', counter)
      app.route('GET', '/stream', (req, res) => {
        req.stash.count = (req.stash.count ?? 0) + 100
        res.setHeader('Content-Type', 'text/plain')
        res.write('a')
        setTimeout(() => {
          res.write('b')
          res.end('c')
        }, 5)
      })
      const client = agent()
      const first = await client.get('/stream').expect(200, 'abc')
      expect(setCookie(first)).toBeDefined() // issued when the headers went out
      await client.get('/count').expect(200, { count: 101 })
    })

    it('commits with an explicit writeHead, and when end() is called twice', async () => {
      const { app, agent } = setup({ storedKeys: ['count'] })
      app.route('GET', '/count', counter)
      app.route('GET', '/head', (req, res) => {
        req.stash.count = 7
        res.writeHead(201, { 'Content-Type': 'text/plain', 'Set-Cookie': 'app=1; Path=/' })
        res.end('done')
        res.end('ignored')
      })
      const client = agent()
      const res = await client.get('/head').expect(201, 'done')
      expect(res.headers['set-cookie']).toEqual(expect.arrayContaining(['app=1; Path=/', expect.stringMatching(/^stash=/)]))
      await client.get('/count').expect(200, { count: 8 })
    })

    it('save() persists before a long stream; a new ID after the headers is reported, not lost silently', async () => {
      const errors: unknown[] = []
      const { app, stash, agent } = setup({ storedKeys: ['count'] })
      stash.on('error', (err) => errors.push(err))
      app.route('GET', '/count', counter)
      app.route('GET', '/saved', async (req, res) => {
        req.stash.count = 41
        await req.stash.save()
        res.write('streaming')
        res.end()
      })
      app.route('GET', '/late', (req, res) => {
        res.write('headers gone')
        req.stash.count = 1
        res.end()
      })
      const client = agent()
      await client.get('/saved').expect(200, 'streaming')
      await client.get('/count').expect(200, { count: 42 })
      await request(app.listener).get('/late').expect(200, 'headers gone').expect(noStashCookie)
      await sleep(10)
      expect(errors).toEqual([expect.objectContaining({ code: 'ERR_STASH_HEADERS_SENT' })])
    })

    // A returning client's request hooks writeHead only once rotate() or reset() asks for a
    // cookie: both must reach it, also when the headers go out before the end.
    const responders: [string, (res: ServerResponse, body: unknown) => void][] = [
      ['sent whole', sendJson],
      ['headers sent early', streamJson],
    ]

    it.each(responders)('reset() deletes the stored state and clears the cookie (response %s)', async (_name, respond) => {
      const { app, agent } = setup({ storedKeys: ['count'] })
      app.route('GET', '/count', counter)
      app.route('GET', '/', show)
      app.route('POST', '/reset', async (req, res) => {
        await req.stash.reset()
        respond(res, { keys: Object.keys(req.stash) })
      })
      const client = agent()
      const first = await client.get('/count').expect(200)
      const reset = await client.post('/reset').expect(200, { keys: [] })
      expect(setCookie(reset)).toMatch(/^stash=; Path=\/; Expires=Thu, 01 Jan 1970/)
      await request(app.listener).get('/').set('Cookie', cookiePair(first)).expect(200, { keys: [], json: {} })
      await client.get('/count').expect(200, { count: 1 })
    })

    it.each(responders)('rotate() moves the data to a new ID and kills the old one (response %s)', async (_name, respond) => {
      const { app, agent } = setup({ storedKeys: ['count', 'user'] })
      app.route('GET', '/count', counter)
      app.route('GET', '/', show)
      app.route('POST', '/login', async (req, res) => {
        await req.stash.rotate()
        req.stash.user = 'ada'
        respond(res, {})
      })
      const client = agent()
      const first = await client.get('/count').expect(200)
      const login = await client.post('/login').expect(200)
      expect(idOf(cookiePair(login))).not.toBe(idOf(cookiePair(first)))
      await client.get('/').expect(200, { keys: ['count', 'user'], json: { count: 1, user: 'ada' } })
      await request(app.listener).get('/').set('Cookie', cookiePair(first)).expect(200, { keys: [], json: {} })
    })

    it('adds only req.stash: no own property on the response, whether it issues a cookie or not', async () => {
      // Express gives each request and response a hidden class of their own, so every property
      // added to them copies that class on each request: the response hooks live elsewhere.
      const added: string[][] = []
      const before = new WeakMap<object, PropertyKey[]>()
      const newKeys = (target: object) =>
        Reflect.ownKeys(target)
          .filter((key) => !before.get(target)!.includes(key))
          .map(String)
      const { app, agent } = setup({ storedKeys: ['count'] }, (app, stash) => {
        app.use(
          (req, res, next) => {
            before.set(req, Reflect.ownKeys(req)).set(res, Reflect.ownKeys(res))
            next()
          },
          stash,
          (req, res, next) => {
            added.push([...newKeys(req), ...newKeys(res)])
            next()
          },
        )
      })
      app.route('GET', '/count', counter)
      const client = agent()
      expect(setCookie(await client.get('/count').expect(200, { count: 1 }))).toBeDefined() // a new stash
      await client.get('/count').expect(200, { count: 2 }) // a returning client
      await request(app.listener).get('/count').set('Cookie', 'stash=s:forged.mac').expect(200, { count: 1 })
      expect(added).toEqual([['stash'], ['stash'], ['stash']])
    })

    it('commits and sets its cookie through a response whose end() and writeHead() another middleware wrapped first', async () => {
      const calls: string[] = []
      const { app, agent } = setup({ storedKeys: ['count'] }, (app, stash) => {
        app.use((_req, res, next) => {
          const { end, writeHead } = res as unknown as Record<'end' | 'writeHead', (...a: unknown[]) => ServerResponse>
          res.end = function wrappedEnd(this: ServerResponse, ...args: unknown[]) {
            calls.push(`end ${String(args[0])}`)
            return end.apply(this, args)
          } as ServerResponse['end']
          res.writeHead = function wrappedWriteHead(this: ServerResponse, ...args: unknown[]) {
            calls.push('writeHead')
            return writeHead.apply(this, args)
          }
          next()
        }, stash)
      })
      app.route('GET', '/count', counter)
      const client = agent()
      expect(setCookie(await client.get('/count').expect(200, { count: 1 }))).toBeDefined()
      await client.get('/count').expect(200, { count: 2 })
      expect(calls).toEqual(['end {"count":1}', 'writeHead', 'end {"count":2}', 'writeHead'])
    })

    it('update() is atomic: concurrent increments of one client all count', async () => {
      const { app, agent } = setup({ storedKeys: ['hits', 'count'] })
      app.route('GET', '/count', counter)
      app.route('POST', '/hit', async (req, res) => {
        const hits = await req.stash.update('hits', (n) => (n ?? 0) + 1)
        sendJson(res, { hits })
      })
      app.route('GET', '/', show)
      app.route('POST', '/undeclared', async (req, res) => {
        const error = await req.stash.update('other', () => 1).catch((err: Error) => err.message)
        sendJson(res, { error })
      })
      const client = agent()
      await client.get('/count').expect(200)
      const cookie = (await client.get('/count')).request.cookies
      const results = await Promise.all(
        Array.from({ length: 40 }, () => request(app.listener).post('/hit').set('Cookie', cookie)),
      )
      expect(results.map((r) => r.body.hits).sort((a, b) => a - b)).toEqual(Array.from({ length: 40 }, (_, i) => i + 1))
      await client.get('/').expect(200, { keys: ['hits', 'count'], json: { hits: 40, count: 2 } })
      const undeclared = await client.post('/undeclared').expect(200)
      expect(undeclared.body.error).toContain('"other" is not one')
    })

    it('discards and deletes state stored under another version', async () => {
      const adapter = makeAdapter()
      const v1 = setup({ storedKeys: ['count'], version: 1, adapter })
      v1.app.route('GET', '/count', counter)
      const v2 = setup({ storedKeys: ['count'], version: 2, adapter })
      v2.app.route('GET', '/count', counter)
      const first = await v1.http().get('/count').expect(200, { count: 1 })
      const upgraded = await v2.http().get('/count').set('Cookie', cookiePair(first)).expect(200, { count: 1 })
      expect(setCookie(upgraded)).toBeDefined() // a fresh ID for the fresh state
      await v1.http().get('/count').set('Cookie', cookiePair(first)).expect(200, { count: 1 }) // the old record is gone
    })

    it('refuses a stash over maxBytes with a clear error and keeps the previous state', async () => {
      const { app, agent } = setup({ storedKeys: ['blob'], maxBytes: 2000 })
      app.route('POST', '/small', (req, res) => {
        req.stash.blob = 'x'.repeat(100)
        sendJson(res, {})
      })
      app.route('POST', '/big', (req, res) => {
        req.stash.blob = 'x'.repeat(5000)
        sendJson(res, {})
      })
      app.route('GET', '/', (req, res) => sendJson(res, { length: req.stash.blob?.length }))
      const client = agent()
      await client.post('/small').expect(200)
      await client.post('/big').expect(stashError(500, 'ERR_STASH_TOO_LARGE', 'maxBytes (2000)'))
      await client.get('/').expect(200, { length: 100 })
    })

    it('turns a failed write into an error response, or an error event once headers are sent', async () => {
      const adapter = failingAdapter(makeAdapter())
      const errors: unknown[] = []
      const { app, stash, agent } = setup({ storedKeys: ['count'], adapter })
      stash.on('error', (err) => errors.push(err))
      app.route('GET', '/count', counter)
      app.route('GET', '/stream', (req, res) => {
        req.stash.count = 99
        res.write('x')
        res.end()
      })
      const client = agent()
      await client.get('/count').expect(200, { count: 1 })
      adapter.failing.add('write')
      await client.get('/count').expect(stashError(503, 'ERR_STASH_WRITE', 'store down'))
      await client.get('/stream').expect(200, 'x')
      await sleep(10)
      expect(errors).toEqual([expect.objectContaining({ code: 'ERR_STASH_WRITE' })])
      adapter.failing.clear()
      await client.get('/count').expect(200, { count: 2 })
    })

    it('answers 503 when the store cannot load, or continues with an unavailable stash', async () => {
      const adapter = failingAdapter(makeAdapter())
      const strict = setup({ storedKeys: ['count'], adapter })
      strict.app.route('GET', '/count', counter)
      const lenient = setup({ storedKeys: ['count'], adapter, onUnavailable: 'continue' })
      const errors: unknown[] = []
      lenient.stash.on('error', (err) => errors.push(err))
      lenient.app.route('GET', '/count', (req, res) => {
        req.stash.count = 1000
        sendJson(res, { available: req.stash.available })
      })
      const first = await strict.http().get('/count').expect(200, { count: 1 })
      adapter.failing.add('load')
      await strict
        .http()
        .get('/count')
        .set('Cookie', cookiePair(first))
        .expect(stashError(503, 'ERR_STASH_UNAVAILABLE', 'store down'))
      // The failure opened the circuit breaker: for its first pause (50 ms) calls fail at once.
      await strict
        .http()
        .get('/count')
        .set('Cookie', cookiePair(first))
        .expect(stashError(503, 'ERR_STASH_UNAVAILABLE', 'next try'))
      // Refused by the breaker, or its probe failing (which doubles the pause): unavailable either way.
      await lenient.http().get('/count').set('Cookie', cookiePair(first)).expect(200, { available: false }).expect(noStashCookie)
      await sleep(10)
      expect(errors).toEqual([expect.objectContaining({ code: 'ERR_STASH_UNAVAILABLE' })])
      adapter.failing.clear()
      await sleep(120) // past a pause doubled once
      await strict.http().get('/count').set('Cookie', cookiePair(first)).expect(200, { count: 2 })
    })

    it('ignores, removes and reports a stored value written behind its back', async () => {
      const errors: { code?: string }[] = []
      const { app, stash, adapter, agent } = setup({ storedKeys: ['count', 'role'] })
      stash.on('error', (err) => errors.push(err))
      app.route('GET', '/count', counter)
      app.route('GET', '/', show)
      const client = agent()
      const first = await client.get('/count').expect(200)
      const record = recordKeyOf(idOf(cookiePair(first)), undefined)
      // A forged value, and an authentic-looking one copied from another key.
      const count = (await adapter.readAll(record))!.fields.count!
      await adapter.write(record, {
        set: { role: '"admin"', count: count.replace('1', '9') },
        del: [],
        expiresAt: { role: Date.now() + 60_000, count: Date.now() + 60_000 },
      })
      await client.get('/').expect(200, { keys: [], json: {} })
      expect(errors.map((e) => e.code)).toEqual(['ERR_STASH_CORRUPT', 'ERR_STASH_CORRUPT'])
      expect(await adapter.readAll(record)).toBeUndefined() // both removed by that request
      await client.get('/count').expect(200, { count: 1 })
    })

    it('binds the stash to sessionKey: no value is an anonymous stash, another session sees nothing', async () => {
      const { app, http } = setup({ storedKeys: ['count'], sessionKey: (req) => req.headers['x-user'] as string | undefined })
      app.route('GET', '/count', counter)
      const anonymous = await http().get('/count').expect(200, { count: 1 })
      await http().get('/count').set('Cookie', cookiePair(anonymous)).expect(200, { count: 2 })
      // The anonymous stash is bound only by rotate() (at login); a bound request does not see it.
      await http().get('/count').set('X-User', 'ada').set('Cookie', cookiePair(anonymous)).expect(200, { count: 1 })
      const ada = await http().get('/count').set('X-User', 'ada').expect(200, { count: 1 })
      await http().get('/count').set('X-User', 'ada').set('Cookie', cookiePair(ada)).expect(200, { count: 2 })
      await http().get('/count').set('X-User', 'eve').set('Cookie', cookiePair(ada)).expect(200, { count: 1 })
      await http().get('/count').set('X-User', 'ada').set('Cookie', cookiePair(ada)).expect(200, { count: 3 })
    })
  })
}
