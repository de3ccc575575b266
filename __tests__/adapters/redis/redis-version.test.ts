import { redisAdapter, type RedisAdapter } from '../../../lib/index.js'
import { useRedis } from '../../support/redis-client.js'

// The record version on a real Redis: the marker's "v", raised by every write that changes the
// record, returned by load, and (with the near cache, whose read-your-writes needs it) by write,
// compareAndSet and move; kept across move; markers without it count as 0.
const redis = useRedis()
const client = () => redis().client
const MINUTE = 60_000

let adapter: RedisAdapter
beforeAll(async () => {
  adapter = redisAdapter({ client: client(), prefix: 'ver:', cache: true })
  await adapter.ready!(2000)
})
afterAll(() => adapter.close())

it('without the near cache, loads give the version and writes resolve none: no cookie ever changes for it', async () => {
  const plain = redisAdapter({ client: client(), prefix: 'ver:' })
  const at = Date.now() + MINUTE
  expect(await plain.write('plain', { set: { a: '1' }, del: [], expiresAt: { a: at } })).toBeUndefined()
  expect(await plain.compareAndSet('plain', { field: 'a', expected: '1', next: '2', expiresAt: { a: at } })).toEqual({ ok: true })
  expect(await plain.move('plain', 'plain2', (await plain.readAll('plain'))!)).toBeUndefined()
  expect(await plain.load('plain2', ['a'])).toMatchObject({ values: ['2'], version: 3 })
  await plain.close()
})

/** The version the record's marker holds. */
const storedVersion = async (key: string): Promise<unknown> =>
  (JSON.parse((await client().hGet(`ver:${key}`, ''))!) as { v?: unknown }).v

it('starts at 1 and rises by one with every write that changes the record, whichever call makes it', async () => {
  const at = Date.now() + MINUTE
  expect(await adapter.write('count', { set: { a: '1' }, del: [], expiresAt: { a: at } })).toEqual({ version: 1 })
  expect(await adapter.load('count', ['a'])).toMatchObject({ values: ['1'], version: 1 })
  expect(await adapter.write('count', { set: { b: '2' }, del: [], expiresAt: { b: at } })).toEqual({ version: 2 })
  expect(await adapter.write('count', { set: {}, del: ['b'], expiresAt: {}, existing: true })).toEqual({ version: 3 })
  expect(await adapter.write('count', { set: {}, del: [], expiresAt: { a: at + 1 }, existing: true })).toEqual({ version: 4 })
  // A check that the record exists changes nothing: the version stays.
  const before = await client().hGet('ver:count', '')
  expect(await adapter.write('count', { set: {}, del: [], expiresAt: {}, existing: true })).toEqual({ version: 4 })
  expect(await client().hGet('ver:count', '')).toBe(before)
  expect(await adapter.compareAndSet('count', { field: 'a', expected: '1', next: '5', expiresAt: { a: at } })).toEqual({
    ok: true,
    version: 5,
  })
  // A mismatch changes nothing.
  expect(await adapter.compareAndSet('count', { field: 'a', expected: '1', next: '6', expiresAt: { a: at } })).toEqual({
    ok: false,
    current: '5',
  })
  expect(await adapter.load('count', ['a', 'b'])).toMatchObject({ values: ['5', undefined], version: 5 })
  expect(await storedVersion('count')).toBe(5)
})

it('counts on from the source when a move writes the record under another key', async () => {
  const at = Date.now() + MINUTE
  await adapter.write('from', { set: { a: '1' }, del: [], expiresAt: { a: at } })
  await adapter.write('from', { set: { a: '2' }, del: [], expiresAt: { a: at } })
  const record = (await adapter.readAll('from'))!
  await adapter.move('from', 'to', record)
  expect(await adapter.load('to', ['a'])).toMatchObject({ values: ['2'], version: 3 })
  expect(await storedVersion('to')).toBe(3)
  expect(await adapter.write('to', { set: { a: '3' }, del: [], expiresAt: { a: at } })).toEqual({ version: 4 })
})

it('reads a marker without a version as version 0, and its next write makes it 1', async () => {
  const at = Date.now() + MINUTE
  await client().hSet('ver:old', { '': JSON.stringify({ c: Date.now(), f: { a: [at, 2] } }), a: '1' })
  await client().pExpire('ver:old', MINUTE)
  expect(await adapter.load('old', ['a'])).toMatchObject({ values: ['1'], version: 0 })
  expect(await adapter.write('old', { set: { b: '2' }, del: [], expiresAt: { b: at }, existing: true })).toEqual({ version: 1 })
  expect(await storedVersion('old')).toBe(1)
  expect(await adapter.load('old', ['a', 'b'])).toMatchObject({ values: ['1', '2'], version: 1 })
})

it('starts a record deleted and written again at 1', async () => {
  const at = Date.now() + MINUTE
  await adapter.write('again', { set: { a: '1' }, del: [], expiresAt: { a: at } })
  await adapter.write('again', { set: { a: '2' }, del: [], expiresAt: { a: at } })
  await adapter.delete('again')
  expect(await adapter.write('again', { set: { a: '3' }, del: [], expiresAt: { a: at } })).toEqual({ version: 1 })
  expect(await adapter.compareAndSet('again', { field: 'b', expected: undefined, next: '1', expiresAt: { b: at } })).toEqual({
    ok: true,
    version: 2,
  })
})
