import { redisAdapter, type RedisAdapter } from '../../../lib/index.js'
import { commandCounter, useRedis } from '../../support/redis-client.js'

// The record layout on a real Redis (7.0 in CI, no HPEXPIRE): one hash, a field per stored key,
// and the marker field '' holding {"c": createdAt, "v": version, "f": {field: [expiresAt, bytes]}};
// the layouts of earlier versions (marker = the size, or no marker) are read and converted.
const redis = useRedis()
const client = () => redis().client
const commandsDuring = commandCounter(client)
const MINUTE = 60_000

/** The marker of a record, parsed. */
async function markerOf(key: string): Promise<{ c: number; v: number; f: Record<string, [number, number]> }> {
  return JSON.parse((await client().hGet(key, ''))!) as { c: number; v: number; f: Record<string, [number, number]> }
}

let adapter: RedisAdapter
beforeAll(() => {
  adapter = redisAdapter({ client: client(), prefix: 'layout:' })
})
afterAll(() => adapter.close())

it('stores one hash per record: a field per key, and the marker with createdAt and each field’s expiry and size', async () => {
  const now = Date.now()
  await adapter.write('rec', {
    set: { cart: '[1]', theme: '"dark"' },
    del: [],
    expiresAt: { cart: now + MINUTE, theme: now + 2 * MINUTE },
  })
  expect(await client().sendCommand(['TYPE', 'layout:rec'])).toBe('hash')
  const { '': marker, ...fields } = await client().hGetAll('layout:rec')
  expect(fields).toEqual({ cart: '[1]', theme: '"dark"' })
  // 'cart' + '[1]' and 'theme' + '"dark"' are 7 and 11 bytes; 13-digit times are kept exactly.
  const meta = JSON.parse(marker!) as { c: number; f: unknown }
  expect(meta).toEqual({ c: expect.any(Number), v: 1, f: { cart: [now + MINUTE, 7], theme: [now + 2 * MINUTE, 11] } })
  expect(meta.c).toBeGreaterThanOrEqual(now)
  // The key expires exactly when its last field does.
  const left = Number(await client().pTTL('layout:rec'))
  expect(left).toBeGreaterThan(2 * MINUTE - 1000)
  expect(left).toBeLessThanOrEqual(2 * MINUTE)
  expect(await adapter.load('rec', ['theme', 'none', 'cart'])).toEqual({
    values: ['"dark"', undefined, '[1]'],
    expiresAt: [now + 2 * MINUTE, undefined, now + MINUTE],
    createdAt: meta.c,
    version: 1,
  })
  // Deleting the last key deletes the record, marker and all.
  await adapter.write('rec', { set: {}, del: ['cart', 'theme'], expiresAt: {} })
  expect(await client().exists('layout:rec')).toBe(0)
  await adapter.compareAndSet('rec', { field: 'cart', expected: undefined, next: '[2]', expiresAt: { cart: now + MINUTE } })
  expect((await markerOf('layout:rec')).f).toEqual({ cart: [now + MINUTE, 7] })
  await adapter.compareAndSet('rec', { field: 'cart', expected: '[2]', next: undefined, expiresAt: {} })
  expect(await client().exists('layout:rec')).toBe(0)
})

it('keeps the sizes in the marker: a write reads no other field, and maxBytes counts live fields only', async () => {
  const now = Date.now()
  const big = Object.fromEntries(Array.from({ length: 50 }, (_, i) => [`k${i}`, 'x'.repeat(100)]))
  const expiresAt = Object.fromEntries(Object.keys(big).map((k) => [k, now + MINUTE]))
  await adapter.write('size', { set: big, del: [], expiresAt, maxBytes: 10_000 })
  const writing = await commandsDuring(() =>
    adapter.write('size', { set: { k0: 'y' }, del: ['k1'], expiresAt: { k0: now + MINUTE }, maxBytes: 10_000 }),
  )
  expect(writing).toEqual({ evalsha: 1, hget: 1, hdel: 1, hset: 1, pexpire: 1 })
  const sizes = Object.values((await markerOf('layout:size')).f).map(([, bytes]) => bytes)
  expect(sizes.reduce((a, b) => a + b, 0)).toBe(50 * 100 + Object.keys(big).join('').length - 2 * 102 + 3)
  await expect(
    adapter.write('size', { set: { k2: 'z'.repeat(5_500) }, del: [], expiresAt: { k2: now + MINUTE }, maxBytes: 10_000 }),
  ).rejects.toMatchObject({ code: 'ERR_STASH_TOO_LARGE' })
  expect(await client().hGet('layout:size', 'k2')).toBe('x'.repeat(100)) // nothing written
  // Expired fields count for nothing: 49 fields expire, and the big value fits.
  const soon = Object.fromEntries(Object.keys(big).map((k) => [k, Date.now() + 50]))
  await adapter.write('size', { set: {}, del: [], expiresAt: { ...soon, k0: now + MINUTE } })
  await new Promise((resolve) => setTimeout(resolve, 80))
  await adapter.write('size', { set: { k2: 'z'.repeat(5_500) }, del: [], expiresAt: { k2: now + MINUTE }, maxBytes: 10_000 })
  expect(Object.keys(await client().hGetAll('layout:size')).sort()).toEqual(['', 'k0', 'k2'])
})

it('sends a script the server does not know (a restart, SCRIPT FLUSH) whole once, then by its SHA-1', async () => {
  const now = Date.now()
  await client().sendCommand(['SCRIPT', 'FLUSH'])
  const write = () => adapter.write('flushed', { set: { a: '1' }, del: [], expiresAt: { a: now + MINUTE } })
  expect(await commandsDuring(write)).toMatchObject({ evalsha: 1, eval: 1 })
  expect(await commandsDuring(write)).not.toHaveProperty('eval')
  expect((await adapter.load('flushed', ['a']))?.values).toEqual(['1'])
})

describe('a load', () => {
  it('is one HMGET, no script, and changes nothing (not even the expiry)', async () => {
    const now = Date.now()
    await adapter.write('plain', { set: { a: '1' }, del: [], expiresAt: { a: now + MINUTE } })
    const before = Number(await client().pTTL('layout:plain'))
    const commands = await commandsDuring(async () =>
      expect((await adapter.load('plain', ['a', 'b']))?.values).toEqual(['1', undefined]),
    )
    expect(commands).toEqual({ hmget: 1 })
    expect(Number(await client().pTTL('layout:plain'))).toBeLessThanOrEqual(before)
  })

  it('of a missing record asks the script, which creates nothing', async () => {
    const commands = await commandsDuring(async () => expect(await adapter.load('missing', ['a'])).toBeUndefined())
    expect(commands).toMatchObject({ hmget: 1, evalsha: 1, pttl: 1 })
    expect(await client().exists('layout:missing')).toBe(0)
  })

  it('deletes a key of another type under a record key and reports it as ERR_STASH_CORRUPT', async () => {
    await client().set('layout:string', 'x')
    await expect(adapter.load('string', ['a'])).rejects.toMatchObject({ code: 'ERR_STASH_CORRUPT' })
    expect(await client().exists('layout:string')).toBe(0)
  })

  it('keeps field names such as __proto__ and constructor apart from the marker’s own properties', async () => {
    const now = Date.now()
    const set = Object.fromEntries([
      ['__proto__', '"p"'],
      ['constructor', '"c"'],
    ])
    const expiresAt = Object.fromEntries([
      ['__proto__', now + MINUTE],
      ['constructor', now + 2 * MINUTE],
    ])
    await adapter.write('proto', { set, del: [], expiresAt })
    const loaded = await commandsDuring(async () =>
      expect(await adapter.load('proto', ['__proto__', 'constructor', 'toString', 'hasOwnProperty'])).toMatchObject({
        values: ['"p"', '"c"', undefined, undefined],
        expiresAt: [now + MINUTE, now + 2 * MINUTE, undefined, undefined],
      }),
    )
    expect(loaded).toEqual({ hmget: 1 })
    const all = (await adapter.readAll('proto'))!
    expect(Object.entries(all.fields).sort()).toEqual([
      ['__proto__', '"p"'],
      ['constructor', '"c"'],
    ])
    expect(Object.hasOwn(all.expiresAt, '__proto__')).toBe(true)
    await adapter.move('proto', 'proto2', all)
    expect((await adapter.load('proto2', ['__proto__']))?.values).toEqual(['"p"'])
  })
})

describe('records of earlier layouts', () => {
  it.each([
    ['the previous one (marker = the size)', ['', '14']],
    ['the oldest (no marker)', []],
  ])('%s: read with the key’s expiry, converted on their first write', async (_name, marker) => {
    const key = `layout:old${marker.length}`
    await client().sendCommand(['HSET', key, ...marker, 'a', '12345', 'b', '678'])
    await client().sendCommand(['PEXPIRE', key, String(MINUTE)])
    const now = Date.now()
    const loaded = (await adapter.load(key.slice('layout:'.length), ['a', 'c']))!
    expect(loaded).toMatchObject({ values: ['12345', undefined], createdAt: undefined })
    expect(loaded.expiresAt[0]).toBeGreaterThan(now + MINUTE - 1000)
    expect(loaded.expiresAt[0]).toBeLessThanOrEqual(Date.now() + MINUTE)
    // A record that holds none of the keys asked for still exists.
    expect(await adapter.load(key.slice('layout:'.length), ['c'])).toEqual({
      values: [undefined],
      expiresAt: [undefined],
      createdAt: undefined,
      version: 0,
    })
    const all = (await adapter.readAll(key.slice('layout:'.length)))!
    expect(all).toMatchObject({ fields: { a: '12345', b: '678' }, createdAt: undefined })
    // The first write converts: the old fields keep the key's expiry, sized once.
    const writing = await commandsDuring(() =>
      adapter.write(key.slice('layout:'.length), { set: { c: '9' }, del: [], expiresAt: { c: now + 10_000 }, existing: true }),
    )
    expect(writing).toMatchObject({ hkeys: 1, hstrlen: 2, pttl: 1 })
    const meta = await markerOf(key)
    expect(meta.c).toBeGreaterThanOrEqual(now)
    expect(meta.v).toBe(1)
    expect(meta.f.c).toEqual([now + 10_000, 2])
    expect(meta.f.a![1]).toBe(6)
    expect(meta.f.b![1]).toBe(4)
    expect(meta.f.a![0]).toBeGreaterThan(now + MINUTE - 1000)
    expect(Number(await client().pTTL(key))).toBeGreaterThan(MINUTE - 1000) // the longest field's
    const after = await commandsDuring(async () =>
      expect((await adapter.load(key.slice('layout:'.length), ['a', 'c']))?.values).toEqual(['12345', '9']),
    )
    expect(after).toEqual({ hmget: 1 })
  })

  it('an old record with every field gone does not exist for a write that needs it', async () => {
    await client().sendCommand(['HSET', 'layout:persisted', '', '7', 'a', '123456'])
    // No expiry: no version of express-stash writes such a key; its fields count as expired.
    expect(await adapter.load('persisted', ['a'])).toBeUndefined()
    expect(await adapter.write('persisted', { set: {}, del: [], expiresAt: {}, existing: true })).toBe('gone')
  })

  it('a value without an entry in the marker (written behind the adapter’s back) lives as long as the key, until removed', async () => {
    const now = Date.now()
    await adapter.write('stray', { set: { a: '1' }, del: [], expiresAt: { a: now + MINUTE } })
    await client().hSet('layout:stray', 'b', 'garbage')
    const loaded = (await adapter.load('stray', ['a', 'b']))!
    expect(loaded.values).toEqual(['1', 'garbage'])
    expect(loaded.expiresAt[1]).toBeGreaterThan(now + MINUTE - 1000)
    expect((await adapter.readAll('stray'))?.fields).toEqual({ a: '1', b: 'garbage' })
    await adapter.write('stray', { set: {}, del: ['b'], expiresAt: {}, existing: true })
    expect(Number(await client().hExists('layout:stray', 'b'))).toBe(0)
    expect(await adapter.readAll('stray')).toMatchObject({ fields: { a: '1' } })
  })
})
