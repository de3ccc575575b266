/**
 * The `expiry` group of the adapter contract, with real one- and two-second expiries (no fake
 * timers, so it also holds for stores that expire fields on their own clock).
 * @module
 */
import assert from 'node:assert/strict'
import {
  type AdapterAccessor,
  type AdapterFactory,
  type ContractOptions,
  equal,
  fieldsOf,
  inSeconds,
  randomKey,
  setting,
  sleep,
  sleepUntil,
  type TestApi,
  TTL,
  useAdapter,
  valuesOf,
  EMPTY,
} from './helpers.js'

/**
 * Registers the `expiry` group: each field expires on its own at the time it was given, and is
 * then absent for every call; a record with no live field does not exist; `write`,
 * `compareAndSet` and `move` set expiries exactly, later or earlier than before; an expiry never
 * brings back an absent or expired field; reads slide nothing.
 *
 * Expiries are absolute (milliseconds since the epoch), so the waits do not depend on how long
 * the calls take.
 *
 * @param api - The test functions to register with (see {@link TestApi}).
 * @param name - The adapter's label in test names.
 * @param factory - Creates the adapter under test (once for the group; the group closes it).
 * @param options - `ttlSlack` lengthens every wait for a field to be gone.
 */
export function expiryContract(api: TestApi, name: string, factory: AdapterFactory, options?: ContractOptions): void {
  const slack = options?.ttlSlack ?? 0
  const timing: ExpiryTiming = {
    expired: (expiresAt) => expiresAt + 100 + slack,
    slide: 2 + Math.ceil(slack / 1000),
  }
  api.describe(`${name} adapter contract: expiry`, () => {
    const adapter = useAdapter(api, factory)
    fieldExpiryTests(api, adapter, timing)
    exactExpiryTests(api, adapter, timing)
    revivalAndMoveTests(api, adapter, timing)
  })
}

/** The waits of the group, from the adapter's `ttlSlack`. */
interface ExpiryTiming {
  /** When a field that expires at `expiresAt` must be gone: plus margin and the adapter's slack. */
  expired(expiresAt: number): number
  /** Seconds of an expiry that outlives one of a second by enough to check between the two. */
  readonly slide: number
}

/** Fields expire one by one; a record with no live field does not exist. */
function fieldExpiryTests(api: TestApi, adapter: AdapterAccessor, { expired, slide }: ExpiryTiming): void {
  api.test('a field expires on its own while the others live; loads and readAll slide nothing', async () => {
    const key = randomKey()
    const [soon, long] = [inSeconds(1), inSeconds(TTL)]
    await adapter().write(key, { set: { a: '1', b: '2', c: '3' }, del: [], expiresAt: { a: soon, b: long, c: long } })
    const { createdAt } = (await adapter().readAll(key))!
    await sleep(500)
    equal(await valuesOf(adapter(), key, ['a', 'b']), ['1', '2'])
    equal(await fieldsOf(adapter(), key), { a: '1', b: '2', c: '3' })
    await sleepUntil(expired(soon))
    equal(await adapter().load(key, ['a', 'b']), { values: [undefined, '2'], expiresAt: [undefined, long], createdAt })
    equal(await adapter().readAll(key), { fields: { b: '2', c: '3' }, expiresAt: { b: long, c: long }, createdAt })
    equal(await adapter().write(key, { ...EMPTY, existing: true }), undefined) // the record lives
    // The expired field is absent for a compare-and-set too: its old value no longer matches ...
    const swap = { field: 'a', next: 'new', expiresAt: { a: long } }
    equal(await adapter().compareAndSet(key, { ...swap, expected: '1' }), { ok: false, current: undefined })
    // ... and `undefined` does.
    equal(await adapter().compareAndSet(key, { ...swap, expected: undefined, existing: true }), { ok: true })
    equal(await adapter().readAll(key), {
      fields: { a: 'new', b: '2', c: '3' },
      expiresAt: { a: long, b: long, c: long },
      createdAt,
    })
  })

  api.test('a record lives until its last field expires; then it does not exist, for reads and writes', async () => {
    const key = randomKey()
    const [first, last] = [inSeconds(1), inSeconds(slide)]
    await adapter().write(key, { set: { a: '1', b: '2' }, del: [], expiresAt: { a: first, b: last } })
    const record = (await adapter().readAll(key))!
    await sleepUntil(expired(first))
    equal(await fieldsOf(adapter(), key), { b: '2' })
    await sleepUntil(expired(last))
    equal(await adapter().load(key, ['a', 'b']), undefined)
    equal(await adapter().readAll(key), undefined)
    // Nothing written with `existing` may bring it back.
    equal(await adapter().write(key, { ...setting({ c: '3' }, inSeconds(TTL)), existing: true }), 'gone')
    equal(await adapter().write(key, { ...EMPTY, existing: true }), 'gone')
    const swap = { field: 'b', next: 'x', expiresAt: { b: inSeconds(TTL) } }
    equal(await adapter().compareAndSet(key, { ...swap, expected: '2' }), { ok: false, current: undefined })
    equal(await adapter().compareAndSet(key, { ...swap, expected: undefined, existing: true }), {
      ok: false,
      current: undefined,
      gone: true,
    })
    const to = randomKey()
    equal(await adapter().move(key, to, { ...record, expiresAt: { a: inSeconds(TTL), b: inSeconds(TTL) } }), 'gone')
    equal(await adapter().readAll(to), undefined)
    equal(await adapter().readAll(key), undefined)
    // A write after expiry starts a new record: the expired fields do not come back, createdAt is new.
    const rewritten = Date.now()
    await adapter().write(key, setting({ c: '3' }, inSeconds(TTL)))
    const fresh = (await adapter().readAll(key))!
    equal(fresh.fields, { c: '3' })
    assert.ok(fresh.createdAt! >= rewritten, `createdAt ${fresh.createdAt} >= ${rewritten}: a new record`)
  })
}

/** Expiries are set exactly as asked, later or earlier than before, by write and compareAndSet. */
function exactExpiryTests(api: TestApi, adapter: AdapterAccessor, { expired, slide }: ExpiryTiming): void {
  api.test('a write sets each expiry exactly, later or earlier than before, with or without a new value', async () => {
    const owner = randomKey()
    const key = `{${owner}}${randomKey()}` // owned: the owner index is kept as well
    const [first, long] = [inSeconds(1), inSeconds(3600)]
    const set = { a: '1', b: '2', c: '3', d: '4' }
    await adapter().write(key, { set, del: [], expiresAt: { a: first, b: first, c: long, d: long } })
    const [soon, later] = [inSeconds(1), inSeconds(slide)]
    // a and c only slide (later, earlier); b and d get a new value (later, earlier).
    await adapter().write(key, { set: { b: 'B', d: 'D' }, del: [], expiresAt: { a: later, b: later, c: soon, d: soon } })
    const loaded = await adapter().load(key, ['a', 'b', 'c', 'd'])
    equal(loaded?.values, ['1', 'B', '3', 'D'])
    equal(loaded?.expiresAt, [later, later, soon, soon])
    await sleepUntil(expired(soon)) // past the first expiries and the shortened ones
    equal(await fieldsOf(adapter(), key), { a: '1', b: 'B' })
    await sleepUntil(expired(later))
    equal(await adapter().readAll(key), undefined)
    if (adapter().ownerKeys) equal(await adapter().ownerKeys!(owner), [])
  })

  api.test("compareAndSet sets the field's expiry exactly and slides the others it names, only when it swaps", async () => {
    const key = randomKey()
    const [first, long] = [inSeconds(1), inSeconds(3600)]
    await adapter().write(key, { set: { a: '1', b: '2', c: '3' }, del: [], expiresAt: { a: long, b: first, c: long } })
    const [soon, later] = [inSeconds(1), inSeconds(slide)]
    equal(await adapter().compareAndSet(key, { field: 'a', expected: '0', next: 'x', expiresAt: { a: later, b: later } }), {
      ok: false,
      current: '1',
    })
    equal((await adapter().load(key, ['a', 'b', 'c']))?.expiresAt, [long, first, long]) // a mismatch slides nothing
    const expiresAt = { a: soon, b: later, c: soon }
    equal(await adapter().compareAndSet(key, { field: 'a', expected: '1', next: 'A', expiresAt }), { ok: true })
    equal((await adapter().load(key, ['a', 'b', 'c']))?.expiresAt, [soon, later, soon])
    await sleepUntil(expired(soon)) // past b's first expiry and the shortened a and c
    equal(await fieldsOf(adapter(), key), { b: '2' })
  })
}

/** An expiry never revives a field; `move` keeps each field's expiry. */
function revivalAndMoveTests(api: TestApi, adapter: AdapterAccessor, { expired }: ExpiryTiming): void {
  api.test('an expiry for an absent or expired field never brings it back', async () => {
    const key = randomKey()
    const soon = inSeconds(1)
    await adapter().write(key, { set: { a: '1', b: '2' }, del: [], expiresAt: { a: soon, b: inSeconds(TTL) } })
    await sleepUntil(expired(soon))
    const long = inSeconds(TTL)
    await adapter().write(key, { set: {}, del: [], expiresAt: { a: long, never: long } })
    equal(
      await adapter().compareAndSet(key, { field: 'b', expected: '2', next: '3', expiresAt: { a: long, b: long, never: long } }),
      {
        ok: true,
      },
    )
    equal(await valuesOf(adapter(), key, ['a', 'b', 'never']), [undefined, '3', undefined])
    equal(await fieldsOf(adapter(), key), { b: '3' })
  })

  api.test('move writes each field with its own expiry', async () => {
    const from = randomKey()
    const to = randomKey()
    await adapter().write(from, setting({ a: '1', b: '2' }, inSeconds(TTL)))
    const record = (await adapter().readAll(from))!
    const [soon, long] = [inSeconds(1), inSeconds(TTL)]
    await adapter().move(from, to, { ...record, expiresAt: { a: soon, b: long } })
    equal(await adapter().load(to, ['a', 'b']), { values: ['1', '2'], expiresAt: [soon, long], createdAt: record.createdAt })
    equal(await adapter().load(from, ['a']), undefined)
    await sleepUntil(expired(soon))
    equal(await adapter().readAll(to), { fields: { b: '2' }, expiresAt: { b: long }, createdAt: record.createdAt })
  })
}
