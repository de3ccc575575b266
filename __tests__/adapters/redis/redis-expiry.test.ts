import { redisAdapter, type NodeRedisCluster, type RedisAdapter } from '../../../lib/index.js'
import { sleep } from '../../support/redis-process.js'
import { useRedis } from '../../support/redis-client.js'

// Per-field expiry on a real Redis without HPEXPIRE (7.0 in CI): the marker keeps each field's
// expiry, the key expires exactly with its last field, and the owner index only grows.
const redis = useRedis()
const client = () => redis().client
const MINUTE = 60_000

let adapter: RedisAdapter
beforeAll(() => {
  adapter = redisAdapter({ client: client(), prefix: 'exp:' })
})
afterAll(() => adapter.close())

/** Milliseconds the key has left. */
const left = async (key: string): Promise<number> => Number(await client().pTTL(`exp:${key}`))
/** The record's marker, parsed. */
const markerOf = async (key: string): Promise<{ c: number; f: Record<string, [number, number]> }> =>
  JSON.parse((await client().hGet(`exp:${key}`, ''))!) as { c: number; f: Record<string, [number, number]> }
/** Whether `expected` ms are left, give or take the test's own time. */
const about = (ms: number, expected: number): boolean => ms <= expected && ms > expected - 1000

it('expires the key exactly with its last field, later or earlier than before', async () => {
  const now = Date.now()
  await adapter.write('exact', { set: { a: '1' }, del: [], expiresAt: { a: now + MINUTE } })
  expect(about(await left('exact'), MINUTE)).toBe(true)
  await adapter.write('exact', { set: {}, del: [], expiresAt: { a: now + 5_000 }, existing: true })
  expect(about(await left('exact'), 5_000)).toBe(true) // shrunk
  await adapter.write('exact', { set: { b: '2' }, del: [], expiresAt: { b: now + 30_000 } })
  expect(about(await left('exact'), 30_000)).toBe(true)
  await adapter.write('exact', { set: {}, del: ['b'], expiresAt: {} })
  expect(about(await left('exact'), 5_000)).toBe(true)
  // An expiry already past removes the field; the last one takes the record.
  await adapter.write('exact', { set: {}, del: [], expiresAt: { a: now - 1 } })
  expect(await client().exists('exp:exact')).toBe(0)
})

it('treats an expired field as absent, and the next write removes it for good', async () => {
  const now = Date.now()
  await adapter.write('fields', { set: { a: '1', b: '2' }, del: [], expiresAt: { a: now + 50, b: now + MINUTE } })
  await sleep(80)
  expect(await adapter.load('fields', ['a', 'b'])).toMatchObject({
    values: [undefined, '2'],
    expiresAt: [undefined, now + MINUTE],
  })
  expect((await adapter.readAll('fields'))?.fields).toEqual({ b: '2' })
  expect(Number(await client().hExists('exp:fields', 'a'))).toBe(1) // a load changes nothing
  await adapter.write('fields', { set: {}, del: [], expiresAt: {}, existing: true })
  expect(Number(await client().hExists('exp:fields', 'a'))).toBe(0)
  expect(Object.keys((await markerOf('fields')).f)).toEqual(['b'])
})

it('slides live fields only: an expiry never brings back a field that is absent or expired', async () => {
  const now = Date.now()
  await adapter.write('slide', { set: { a: '1', b: '2' }, del: [], expiresAt: { a: now + MINUTE, b: now + 50 } })
  await sleep(80)
  await adapter.write('slide', {
    set: {},
    del: [],
    expiresAt: { a: now + 2 * MINUTE, b: now + MINUTE, zz: now + MINUTE },
    existing: true,
  })
  expect((await markerOf('slide')).f).toEqual({ a: [now + 2 * MINUTE, 2] })
  expect(await adapter.load('slide', ['a', 'b', 'zz'])).toMatchObject({ values: ['1', undefined, undefined] })
  expect(about(await left('slide'), 2 * MINUTE)).toBe(true)
})

it('an empty change with `existing` checks that the record exists, and changes nothing', async () => {
  const now = Date.now()
  await adapter.write('check', { set: { a: '1' }, del: [], expiresAt: { a: now + MINUTE } })
  const before = await client().hGetAll('exp:check')
  await client().sendCommand(['CONFIG', 'RESETSTAT'])
  expect(await adapter.write('check', { set: {}, del: [], expiresAt: {}, existing: true })).toBeUndefined()
  const stats = String(await client().sendCommand<string>(['INFO', 'commandstats']))
  expect([...stats.matchAll(/^cmdstat_(\w+):/gm)].map((m) => m[1]).sort()).toEqual(['evalsha', 'hget'])
  expect(await client().hGetAll('exp:check')).toEqual(before)
  expect(await adapter.write('nothing', { set: {}, del: [], expiresAt: {}, existing: true })).toBe('gone')
  expect(await adapter.write('nothing', { set: {}, del: [], expiresAt: {} })).toBeUndefined()
  expect(await client().exists('exp:nothing')).toBe(0)
})

it('a record whose every field expired does not exist, even while its key lingers', async () => {
  // The key outlives its fields when an older version slid it (PEXPIRE GT), or across clocks.
  const now = Date.now()
  // A second of life, so that a loaded machine still reads the marker before the key goes.
  await adapter.write('lingers', { set: { a: '1' }, del: [], expiresAt: { a: now + 1000 } })
  await client().pExpire('exp:lingers', MINUTE)
  const { c } = await markerOf('lingers')
  await sleep(now + 1050 - Date.now())
  expect(await adapter.load('lingers', ['a'])).toBeUndefined()
  expect(await adapter.readAll('lingers')).toBeUndefined()
  expect(await adapter.write('lingers', { set: { b: '2' }, del: [], expiresAt: { b: now + MINUTE }, existing: true })).toBe(
    'gone',
  )
  const swap = { field: 'b', expected: undefined, next: '2', expiresAt: { b: now + MINUTE }, existing: true }
  expect(await adapter.compareAndSet('lingers', swap)).toEqual({ ok: false, current: undefined, gone: true })
  expect(await adapter.move('lingers', 'elsewhere', { fields: { a: '1' }, expiresAt: { a: now + MINUTE }, createdAt: c })).toBe(
    'gone',
  )
  expect(await client().exists('exp:elsewhere')).toBe(0)
  // A write that may create it starts a new record: the expired field is gone, createdAt is new.
  await sleep(2)
  await adapter.write('lingers', { set: { b: '2' }, del: [], expiresAt: { b: now + MINUTE } })
  const meta = await markerOf('lingers')
  expect(Object.keys(meta.f)).toEqual(['b'])
  expect(meta.c).toBeGreaterThan(c)
  expect(Number(await client().hExists('exp:lingers', 'a'))).toBe(0)
})

it('compareAndSet: an expired field is absent for `expected`; its expiry and the slides apply on success only', async () => {
  const now = Date.now()
  await adapter.write('cas', { set: { a: '1', b: '2' }, del: [], expiresAt: { a: now + 50, b: now + MINUTE } })
  await sleep(80)
  const slides = { a: now + MINUTE, b: now + 2 * MINUTE }
  expect(await adapter.compareAndSet('cas', { field: 'a', expected: '1', next: '3', expiresAt: slides })).toEqual({
    ok: false,
    current: undefined,
  })
  expect((await markerOf('cas')).f.b).toEqual([now + MINUTE, 2]) // the mismatch slid nothing
  expect(await adapter.compareAndSet('cas', { field: 'a', expected: undefined, next: '3', expiresAt: slides })).toEqual({
    ok: true,
  })
  expect((await markerOf('cas')).f).toEqual({ a: [now + MINUTE, 2], b: [now + 2 * MINUTE, 2] })
  expect(about(await left('cas'), 2 * MINUTE)).toBe(true)
  await expect(
    adapter.compareAndSet('cas', { field: 'a', expected: '3', next: 'x'.repeat(100), expiresAt: slides, maxBytes: 50 }),
  ).rejects.toMatchObject({ code: 'ERR_STASH_TOO_LARGE' })
})

it('keeps createdAt from the write that creates the record; move writes the one it is given, or now', async () => {
  const now = Date.now()
  await adapter.write('born', { set: { a: '1' }, del: [], expiresAt: { a: now + MINUTE } })
  const { c } = await markerOf('born')
  expect(c).toBeGreaterThanOrEqual(now)
  await sleep(2)
  await adapter.write('born', { set: { b: '2' }, del: ['a'], expiresAt: { b: now + MINUTE } })
  await adapter.compareAndSet('born', { field: 'b', expected: '2', next: '3', expiresAt: { b: now + MINUTE } })
  expect((await adapter.load('born', ['b']))?.createdAt).toBe(c)
  const record = (await adapter.readAll('born'))!
  expect(record).toEqual({ fields: { b: '3' }, expiresAt: { b: now + MINUTE }, createdAt: c })
  await adapter.move('born', 'moved', { ...record, createdAt: now - 5_000 })
  expect(await adapter.readAll('moved')).toEqual({ fields: { b: '3' }, expiresAt: { b: now + MINUTE }, createdAt: now - 5_000 })
  await adapter.move('moved', 'again', { ...record, createdAt: undefined })
  expect((await adapter.readAll('again'))?.createdAt).toBeGreaterThanOrEqual(now)
})

it('move writes each field with its own expiry and leaves out those already past', async () => {
  const now = Date.now()
  await adapter.write('from', { set: { a: '1' }, del: [], expiresAt: { a: now + MINUTE } })
  const record = {
    fields: { a: '1', b: '2', c: '3' },
    expiresAt: { a: now + MINUTE, b: now + 2 * MINUTE, c: now - 1 },
    createdAt: now,
  }
  expect(await adapter.move('from', 'to', record)).toBeUndefined()
  expect(await client().exists('exp:from')).toBe(0)
  expect(await adapter.readAll('to')).toEqual({
    fields: { a: '1', b: '2' },
    expiresAt: { a: now + MINUTE, b: now + 2 * MINUTE },
    createdAt: now,
  })
  expect(about(await left('to'), 2 * MINUTE)).toBe(true)
})

it('keeps an owner index at least as long as its longest-lived record, and never shortens it', async () => {
  const now = Date.now()
  await adapter.write('{u}a', { set: { a: '1' }, del: [], expiresAt: { a: now + MINUTE } })
  expect(about(await left('{u}'), MINUTE)).toBe(true)
  await adapter.write('{u}a', { set: {}, del: [], expiresAt: { a: now + 5_000 }, existing: true })
  expect(about(await left('{u}a'), 5_000)).toBe(true)
  expect(about(await left('{u}'), MINUTE)).toBe(true) // the index only grows
  await adapter.write('{u}b', { set: { b: '1' }, del: [], expiresAt: { b: now + 2 * MINUTE } })
  expect(about(await left('{u}'), 2 * MINUTE)).toBe(true)
  expect((await adapter.ownerKeys!('u')).sort()).toEqual(['{u}a', '{u}b'])
  await adapter.write('{u}a', { set: {}, del: ['a'], expiresAt: {} })
  expect(await client().sMembers('exp:{u}')).toEqual(['exp:{u}b'])
  // A move to another owner, across hash slots on a cluster (here a node-redis cluster's shape).
  const cluster: NodeRedisCluster = { sendCommand: (_key, _readonly, args) => client().sendCommand(args), masters: [] }
  const clustered = redisAdapter({ client: cluster, prefix: 'exp:' })
  const record = (await clustered.readAll('{u}b'))!
  expect(await clustered.move('{u}b', '{v}b', record)).toBeUndefined()
  expect(await clustered.readAll('{v}b')).toEqual(record)
  expect(about(await left('{v}'), 2 * MINUTE)).toBe(true)
  expect(await client().exists('exp:{u}b')).toBe(0)
  expect(await clustered.move('{u}b', '{v}c', record)).toBe('gone')
  expect(await client().exists('exp:{v}c')).toBe(0)
  await clustered.close()
})
