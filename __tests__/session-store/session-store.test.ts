import { randomBytes } from 'node:crypto'
import express from 'express'
import { Store } from 'express-session'
import Redis from 'ioredis'
import request from 'supertest'
import { createStash, memoryAdapter, redisAdapter, StashUnavailableError, type StashAdapter } from '../../lib/index.js'
import { StashSessionStore } from '../../lib/session-store/session-store.js'
import { sessionRecordKey } from '../../lib/session-store/keys.js'
import { failingAdapter } from '../support/adapters.js'
import { useRedis } from '../support/redis-client.js'
import { startRedis } from '../support/redis-server.js'
import { runSessionExpiry } from './expiry-suite.js'
import { rawWrite, type SessionStoreTarget } from './helpers.js'
import { runSessionHttp } from './http-suite.js'
import { runSessionLifecycle } from './lifecycle-suite.js'

let ioredis: Redis
afterAll(() => ioredis?.quit()) // declared first, so it runs before useRedis stops the server
const redis = useRedis()
beforeAll(() => {
  ioredis = new Redis(redis().server.url).on('error', () => {})
})
const nodeRedis = () => redis().client

const prefix = () => `sessions:${randomBytes(6).toString('base64url')}:`
const recordKey = (adapter: StashAdapter, sid: string) => (adapter as { prefix?: string }).prefix + sessionRecordKey(sid)
const remainingTtl = async (adapter: StashAdapter, sid: string) =>
  Number(await nodeRedis().sendCommand(['TTL', recordKey(adapter, sid)]))
const remainingMs = async (adapter: StashAdapter, sid: string) =>
  Number(await nodeRedis().sendCommand(['PTTL', recordKey(adapter, sid)]))
const scanCalls = async () => {
  const stats = String(await nodeRedis().sendCommand<string>(['INFO', 'commandstats']))
  return Number(/cmdstat_scan:calls=(\d+)/.exec(stats)?.[1] ?? 0)
}

const targets: [string, SessionStoreTarget][] = [
  ['memory', { adapter: () => memoryAdapter() }],
  [
    'redis via node-redis (scanCount 10)',
    {
      adapter: () => redisAdapter({ client: nodeRedis(), prefix: prefix(), scanCount: 10 }),
      remainingTtl,
      remainingMs,
      scanCalls,
    },
  ],
  [
    'redis via ioredis (scanCount 10)',
    { adapter: () => redisAdapter({ client: ioredis, prefix: prefix(), scanCount: 10 }), remainingTtl, remainingMs, scanCalls },
  ],
]
for (const [name, target] of targets) {
  runSessionLifecycle(name, target)
  runSessionExpiry(name, target)
}
runSessionHttp('memory', targets[0]![1])
runSessionHttp('redis', targets[1]![1])

describe('StashSessionStore', () => {
  test('is an express-session Store: createSession, regenerate and load come from Store.prototype', async () => {
    const store = new StashSessionStore({ adapter: memoryAdapter() })
    expect(store).toBeInstanceOf(Store)
    expect(store.createSession).toBe(Store.prototype.createSession)
    await store.set('a', { cookie: { expires: null }, user: 'ann' } as never)
    const loaded = await new Promise((resolve, reject) => store.load('a', (err, s) => (err ? reject(err as Error) : resolve(s))))
    expect(loaded).toMatchObject({ user: 'ann' })
  })

  test('callbacks get the outcome as (err, value), and the promise resolves to the same', async () => {
    const store = new StashSessionStore({ adapter: memoryAdapter() })
    const call = <T>(fn: (cb: (err: unknown, value?: T) => void) => unknown) =>
      new Promise<[unknown, T | undefined]>((resolve) => fn((err, value) => resolve([err, value])))
    expect(await call((cb) => store.set('x', { n: 1 } as never, cb))).toEqual([null, undefined])
    expect(await call((cb) => store.get('x', cb))).toEqual([null, { n: 1 }])
    expect(await call((cb) => store.length(cb))).toEqual([null, 1])
    expect(await call((cb) => store.ids(cb))).toEqual([null, ['x']])
    expect(await call((cb) => store.destroy('x', cb))).toEqual([null, undefined])
    expect(await call((cb) => store.get('x', cb))).toEqual([null, null])
  })

  test('adapter errors reach the callback (and reject the promise) for every method', async () => {
    const inner = memoryAdapter()
    const adapter = failingAdapter(inner, () => new StashUnavailableError('store down'))
    for (const method of ['load', 'write', 'compareAndSet', 'delete'] as const) adapter.failing.add(method)
    Object.assign(adapter, { keys: () => inner.keys() })
    const store = new StashSessionStore({ adapter })
    await inner.write(sessionRecordKey('x'), rawWrite({ id: 'x', session: '{}' }, 60))
    const sess = { cookie: { expires: null } } as never
    const calls: [string, (cb: (err: unknown) => void) => Promise<unknown>][] = [
      ['get', (cb) => store.get('x', cb)],
      ['set', (cb) => store.set('x', sess, cb)],
      ['touch', (cb) => store.touch('x', sess, cb as () => void)],
      ['destroy', (cb) => store.destroy('x', cb)],
      ['ids', (cb) => store.ids(cb)],
      ['all', (cb) => store.all(cb)],
      ['clear', (cb) => store.clear(cb)],
    ]
    for (const [name, call] of calls) {
      let returned: Promise<unknown> | undefined
      const err = await new Promise((resolve) => {
        returned = call(resolve)
      })
      expect([name, err]).toEqual([name, expect.any(StashUnavailableError)])
      await expect(returned).rejects.toBe(err)
    }
  })

  test('a Redis that is down: callback(err) with StashUnavailableError, within the timeout', async () => {
    const down = await startRedis()
    const adapter = redisAdapter(down.url, { timeout: 300 })
    const store = new StashSessionStore({ adapter })
    await store.set('x', { n: 1 } as never)
    await down.stop()
    const err = await new Promise((resolve) => void store.get('x', resolve))
    expect(err).toBeInstanceOf(StashUnavailableError)
    await adapter.close()
  })

  test('with no adapter the store makes a memoryAdapter() of its own, and close() closes it', async () => {
    const store = new StashSessionStore()
    expect(store.adapter.kind).toBe('memory')
    await store.set('a', { n: 1 } as never)
    expect(await store.get('a')).toEqual({ n: 1 })
    const closed = await new Promise((resolve) => void store.close((err) => resolve(err)))
    expect(closed).toBeNull()
    await expect(store.get('a')).rejects.toMatchObject({ code: 'ERR_STASH_CLOSED' })
    await expect(store.close()).resolves.toBeUndefined() // twice is fine
  })

  test('close() leaves a given adapter open: it may be shared with a stash, whose close() ends it', async () => {
    const adapter = memoryAdapter()
    const stash = createStash({ secret: 's', adapter, storedKeys: ['n'] })
    const store = new StashSessionStore({ adapter })
    await store.set('a', { n: 1 } as never)
    await store.close()
    expect(await store.get('a')).toEqual({ n: 1 })
    expect(await new StashSessionStore({ adapter }).length()).toBe(1)
    await stash.close()
    await expect(store.get('a')).rejects.toMatchObject({ code: 'ERR_STASH_CLOSED' })
  })

  test('a serializer that returns no string fails set() with ERR_STASH_SERIALIZE', async () => {
    const store = new StashSessionStore({ serializer: { parse: JSON.parse, stringify: () => undefined as never } })
    await expect(store.set('u', { n: 1 } as never)).rejects.toMatchObject({ code: 'ERR_STASH_SERIALIZE' })
    expect(await store.length()).toBe(0)
  })

  test('a session that cannot be serialized fails with ERR_STASH_SERIALIZE and writes nothing', async () => {
    const store = new StashSessionStore({ adapter: memoryAdapter() })
    const circular: Record<string, unknown> = {}
    circular.self = circular
    await expect(store.set('c', circular as never)).rejects.toMatchObject({ code: 'ERR_STASH_SERIALIZE' })
    expect(await store.length()).toBe(0)
  })

  test('sessions and stashes share an adapter: admin calls of the store leave stash records alone', async () => {
    const adapter = memoryAdapter()
    const stash = createStash({ secret: 's', adapter, storedKeys: ['n'] })
    const app = express().use(stash)
    app.get('/', (req, res) => {
      req.stash.n = 1
      res.end()
    })
    await request(app).get('/').expect(200)
    const store = new StashSessionStore({ adapter })
    await store.set('a', { cookie: { expires: null } } as never)
    expect(await store.length()).toBe(1)
    expect(await store.clear()).toBe(1)
    const left: string[] = []
    for await (const batch of adapter.keys()) left.push(...batch)
    expect(left).toHaveLength(1)
    expect(left[0]).not.toMatch(/^sess:/)
  })

  test('records are keyed by a hash of the session ID, under the sess: namespace', async () => {
    const adapter = redisAdapter({ client: nodeRedis(), prefix: prefix() })
    const store = new StashSessionStore({ adapter })
    await store.set('my-session-id', { n: 1 } as never)
    const keys = (await nodeRedis().keys(adapter.prefix + '*')).map((k) => k.slice(adapter.prefix.length))
    expect(keys).toEqual([sessionRecordKey('my-session-id')])
    expect(keys[0]).toMatch(/^sess:[A-Za-z0-9_-]{43}$/)
    await store.clear()
  })

  test('disableTouch: touch() leaves the expiry alone', async () => {
    const adapter = redisAdapter({ client: nodeRedis(), prefix: prefix() })
    const store = new StashSessionStore({ adapter, disableTouch: true, ttl: (s) => ((s as { long?: boolean }).long ? 600 : 60) })
    await store.set('t', { cookie: { expires: null } } as never)
    expect(await remainingTtl(adapter, 't')).toBeLessThanOrEqual(60)
    await store.touch('t', { cookie: { expires: null }, long: true } as never)
    expect(await remainingTtl(adapter, 't')).toBeLessThanOrEqual(60)
    await store.set('t', { cookie: { expires: null }, long: true } as never)
    expect(await remainingTtl(adapter, 't')).toBeGreaterThan(60)
    await store.clear()
  })

  test.each([
    [null, /`StashSessionStore options` must be an object/],
    ['redis://localhost', /`StashSessionStore options` must be an object/],
    [{ adapter: null }, /`StashSessionStore.adapter` must be an express-stash adapter/],
    [{ adapter: {} }, /`StashSessionStore.adapter`/],
    [{ adapter: { ...memoryAdapter(), compareAndSet: undefined } }, /`StashSessionStore.adapter`/],
    [{ adapter: memoryAdapter(), ttl: 0 }, /`StashSessionStore.ttl` must be a positive integer/],
    [{ adapter: memoryAdapter(), ttl: '1d' }, /`StashSessionStore.ttl`/],
    [{ adapter: memoryAdapter(), disableTouch: 'yes' }, /`StashSessionStore.disableTouch` must be a boolean/],
    [{ adapter: memoryAdapter(), serializer: {} }, /`StashSessionStore.serializer`/],
    [{ adapter: memoryAdapter(), client: {} }, /unknown option `StashSessionStore.client`/],
  ])('refuses %p with a TypeError naming the option', (options, message) => {
    expect(() => new StashSessionStore(options as never)).toThrow(TypeError)
    expect(() => new StashSessionStore(options as never)).toThrow(message)
  })
})
