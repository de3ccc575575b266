import { redisAdapter, type RecordChange, type RedisAdapter } from '../../../lib/index.js'
import { sleep } from '../../support/redis-process.js'
import { commandCounter, useRedis } from '../../support/redis-client.js'

// The write's fast path on a real Redis: an adapter works a write out from the marker it last saw
// (its marker memo) and the script applies it while that marker is still the one stored; any other
// marker (another node wrote, a change behind the adapter's back) takes the full path, with the
// same result. Which path wrote a marker shows in it: the full path encodes it with Lua's cjson,
// which escapes "/" in the field name "x/y", the fast path with JSON.stringify, which does not.
const redis = useRedis()
const client = () => redis().client
const commandsDuring = commandCounter(client)
const MINUTE = 60_000
const FIELD = 'x/y'

/** Two adapters on one Redis, each with a memo of its own: two nodes of one app. */
let node: RedisAdapter
let other: RedisAdapter
beforeAll(() => {
  node = redisAdapter({ client: client(), prefix: 'fast:' })
  other = redisAdapter({ client: client(), prefix: 'fast:' })
})
afterAll(async () => {
  await node.close()
  await other.close()
})

/** The raw marker of a record. */
const rawMarker = async (key: string): Promise<string> => (await client().hGet(`fast:${key}`, ''))!
/** Which path wrote the record's marker. */
const pathOf = async (key: string): Promise<'fast' | 'full'> => ((await rawMarker(key)).includes('x\\/y') ? 'full' : 'fast')
/** The record as stored: its fields and the parsed marker without createdAt. */
async function storedState(key: string): Promise<{ fields: Record<string, string>; v: unknown; f: unknown }> {
  const { '': marker, ...fields } = await client().hGetAll(`fast:${key}`)
  const { v, f } = JSON.parse(marker!) as { v: unknown; f: unknown }
  return { fields, v, f }
}
const setting = (fields: Record<string, string>, at: number, more: Partial<RecordChange> = {}): RecordChange => ({
  set: fields,
  del: [],
  expiresAt: Object.fromEntries(Object.keys(fields).map((k) => [k, at])),
  ...more,
})

it('applies a write worked out on the client when the marker it read is still stored: no other command', async () => {
  const at = Date.now() + MINUTE
  await node.write('counter', setting({ [FIELD]: '0' }, at)) // a new record: the full path
  expect(await pathOf('counter')).toBe('full')
  await node.load('counter', [FIELD])
  const commands = await commandsDuring(async () =>
    expect(await node.write('counter', setting({ [FIELD]: '1' }, at, { existing: true }))).toBeUndefined(),
  )
  expect(commands).toEqual({ evalsha: 1, hget: 1, hset: 1, pexpire: 1 })
  expect(await pathOf('counter')).toBe('fast')
  // The memo knows what it wrote: the next write needs no load to take the fast path.
  await node.write('counter', { set: { b: '22' }, del: [FIELD], expiresAt: { b: at } })
  expect(await pathOf('counter')).toBe('fast')
  expect(await storedState('counter')).toEqual({ fields: { b: '22' }, v: 3, f: { b: [at, 3] } })
  expect(await node.load('counter', [FIELD, 'b'])).toMatchObject({ values: [undefined, '22'], version: 3 })
  expect(Number(await client().pTTL('fast:counter'))).toBeGreaterThan(MINUTE - 1000)
})

it('takes the full path after another node wrote, keeping both writes', async () => {
  const at = Date.now() + MINUTE
  await node.write('shared', setting({ [FIELD]: '1' }, at))
  await node.load('shared', [FIELD])
  await other.write('shared', setting({ b: '2' }, at, { existing: true }))
  expect(await node.write('shared', setting({ c: '3' }, at, { existing: true }))).toBeUndefined()
  expect(await pathOf('shared')).toBe('full')
  expect(await storedState('shared')).toEqual({
    fields: { [FIELD]: '1', b: '2', c: '3' },
    v: 3,
    f: { [FIELD]: [at, 4], b: [at, 2], c: [at, 2] },
  })
  // The full path's answer refreshed the memo: the next write is fast again.
  await node.write('shared', setting({ c: '4' }, at, { existing: true }))
  expect(await pathOf('shared')).toBe('fast')
  expect((await storedState('shared')).fields).toEqual({ [FIELD]: '1', b: '2', c: '4' })
})

it('never recreates a record deleted behind its back', async () => {
  const at = Date.now() + MINUTE
  await node.write('deleted', setting({ [FIELD]: '1' }, at))
  await node.load('deleted', [FIELD])
  await client().del('fast:deleted')
  expect(await node.write('deleted', setting({ [FIELD]: '2' }, at, { existing: true }))).toBe('gone')
  expect(await client().exists('fast:deleted')).toBe(0)
  const swap = { field: FIELD, expected: undefined, next: '2', expiresAt: { [FIELD]: at }, existing: true }
  await node.write('deleted2', setting({ [FIELD]: '1' }, at))
  await client().del('fast:deleted2')
  expect(await node.compareAndSet('deleted2', swap)).toEqual({ ok: false, current: undefined, gone: true })
  expect(await client().exists('fast:deleted2')).toBe(0)
})

it('rejects a write that the memo says fits but the record changed behind its back no longer does', async () => {
  const at = Date.now() + MINUTE
  await node.write('grown', setting({ [FIELD]: '1' }, at))
  await node.load('grown', [FIELD])
  await other.write('grown', setting({ big: 'x'.repeat(60) }, at))
  const before = await client().hGetAll('fast:grown')
  await expect(node.write('grown', setting({ c: 'y'.repeat(20) }, at, { maxBytes: 80 }))).rejects.toMatchObject({
    code: 'ERR_STASH_TOO_LARGE',
  })
  const swap = { field: 'c', expected: undefined, next: 'y'.repeat(20), expiresAt: { c: at }, maxBytes: 80 }
  await expect(node.compareAndSet('grown', swap)).rejects.toMatchObject({ code: 'ERR_STASH_TOO_LARGE' })
  expect(await client().hGetAll('fast:grown')).toEqual(before)
})

it('converts garbage under the marker and a record of an earlier layout, as without a memo', async () => {
  const at = Date.now() + MINUTE
  await node.write('garbage', setting({ [FIELD]: '1', b: '2' }, at))
  await node.load('garbage', [FIELD])
  await client().hSet('fast:garbage', '', '{not json')
  expect(await node.write('garbage', setting({ c: '3' }, at, { existing: true }))).toBeUndefined()
  const converted = await storedState('garbage')
  expect(converted).toMatchObject({ fields: { [FIELD]: '1', b: '2', c: '3' }, v: 1 })
  expect(converted.f).toMatchObject({ b: [expect.any(Number), 2], c: [at, 2] })
  // The size of the previous layout, written by an older version, and no memo entry at all.
  await client().hSet('fast:older', { '': '14', a: '12345' })
  await client().pExpire('fast:older', MINUTE)
  expect(await node.write('older', setting({ c: '3' }, at, { existing: true }))).toBeUndefined()
  expect((await storedState('older')).fields).toEqual({ a: '12345', c: '3' })
  await node.write('older', setting({ [FIELD]: '4' }, at, { existing: true }))
  expect(await pathOf('older')).toBe('fast')
  expect(await storedState('older')).toMatchObject({ fields: { a: '12345', c: '3', [FIELD]: '4' }, v: 2 })
})

it('compares and sets by the fast path too: the marker and the field, nothing more', async () => {
  const at = Date.now() + MINUTE
  await node.write('swap', setting({ [FIELD]: '1', b: '2' }, at))
  await node.load('swap', [FIELD])
  const swap = { field: FIELD, expected: '1', next: '3', expiresAt: { [FIELD]: at, b: at + 1 } }
  const commands = await commandsDuring(async () => expect(await node.compareAndSet('swap', swap)).toEqual({ ok: true }))
  expect(commands).toEqual({ evalsha: 1, hget: 2, hset: 1, pexpire: 1 })
  expect(await pathOf('swap')).toBe('fast')
  expect(await storedState('swap')).toEqual({ fields: { [FIELD]: '3', b: '2' }, v: 2, f: { [FIELD]: [at, 4], b: [at + 1, 2] } })
  expect(await node.compareAndSet('swap', swap)).toEqual({ ok: false, current: '3' })
  // Another node swapped meanwhile: the full path compares with what is stored.
  await other.compareAndSet('swap', { ...swap, expected: '3', next: '4' })
  expect(await node.compareAndSet('swap', { ...swap, expected: '3', next: '5' })).toEqual({ ok: false, current: '4' })
  expect(await node.compareAndSet('swap', { ...swap, expected: '4', next: undefined })).toEqual({ ok: true })
  expect(await storedState('swap')).toEqual({ fields: { b: '2' }, v: 4, f: { b: [at + 1, 2] } })
})

it('keeps the owner index on the fast path', async () => {
  const at = Date.now() + MINUTE
  await node.write('{owner}rec', setting({ [FIELD]: '1' }, at))
  const commands = await commandsDuring(() => node.write('{owner}rec', setting({ [FIELD]: '2' }, at + MINUTE)))
  expect(commands).toEqual({ evalsha: 1, hget: 1, hset: 1, pexpire: 2, sadd: 1, pttl: 1 })
  expect(await pathOf('{owner}rec')).toBe('fast')
  expect(await node.ownerKeys!('owner')).toEqual(['{owner}rec'])
  expect(Number(await client().pTTL('fast:{owner}'))).toBeGreaterThan(2 * MINUTE - 1000)
})

it('works out each write exactly as the full path does: expired fields, deletes, sets, slides, sizes', async () => {
  const now = Date.now()
  const soon = now + 40
  const steps: RecordChange[] = [
    setting({ [FIELD]: '1', short: 'gone soon', 'é€': '€uro' }, now + MINUTE, {
      expiresAt: { [FIELD]: now + MINUTE, short: soon, 'é€': now + 2 * MINUTE },
    }),
    { set: { b: '2' }, del: [], expiresAt: { b: now + MINUTE, [FIELD]: now + 3 * MINUTE, missing: now + MINUTE } },
    { set: {}, del: ['b', 'never'], expiresAt: { 'é€': now + 30 * MINUTE } },
    { set: { [FIELD]: '🙂' }, del: [], expiresAt: { [FIELD]: now + MINUTE, 'é€': now - 1 }, maxBytes: 100 },
    { set: {}, del: [], expiresAt: {}, existing: true },
    { set: { c: 'c'.repeat(10) }, del: [], expiresAt: { c: now + MINUTE }, maxBytes: 15 },
  ]
  // "node" keeps its memo (the fast path); a new adapter for each step has none (the full path).
  for (const [i, change] of steps.entries()) {
    if (i === 1) await sleep(60) // "short" has expired: the next writes drop it
    const fresh = redisAdapter({ client: client(), prefix: 'fast:' })
    const [fast, full] = await Promise.allSettled([node.write('twin-a', change), fresh.write('twin-b', change)])
    await fresh.close()
    expect(fast).toEqual(full)
    expect(await storedState('twin-a')).toEqual(await storedState('twin-b'))
    const [left, right] = [Number(await client().pTTL('fast:twin-a')), Number(await client().pTTL('fast:twin-b'))]
    expect(Math.abs(left - right)).toBeLessThan(1000)
    if (i > 0 && fast.status === 'fulfilled') expect(await pathOf('twin-a')).toBe('fast')
  }
  expect((await storedState('twin-a')).fields).toEqual({ [FIELD]: '🙂' })
})

it('keeps every one of many concurrent writes of one node to one record', async () => {
  const at = Date.now() + MINUTE
  await node.write('busy', setting({ [FIELD]: '0' }, at))
  await Promise.all(
    Array.from({ length: 20 }, (_, i) => node.write('busy', setting({ [`k${i}`]: String(i) }, at, { existing: true }))),
  )
  const { fields, v } = await storedState('busy')
  expect(Object.keys(fields)).toHaveLength(21)
  expect(v).toBe(21)
  expect(await pathOf('busy')).toBe('fast')
})

it('is not set back by the answer of a load sent before a write', async () => {
  const at = Date.now() + MINUTE
  await node.write('interleaved', setting({ [FIELD]: '0' }, at))
  // The load's answer (the record before the write) arrives after the write was sent.
  const [loaded] = await Promise.all([node.load('interleaved', [FIELD]), node.write('interleaved', setting({ b: '1' }, at))])
  expect(loaded).toMatchObject({ version: 1 })
  await node.write('interleaved', setting({ c: '2' }, at))
  expect(await pathOf('interleaved')).toBe('fast')
  expect(await storedState('interleaved')).toMatchObject({ fields: { [FIELD]: '0', b: '1', c: '2' }, v: 3 })
})
