/**
 * The `expiry` group of the adapter contract, with real one- and two-second ttls (no fake
 * timers, so it also holds for stores that expire records on their own clock).
 * @module
 */
import assert, { deepStrictEqual as equal } from 'node:assert/strict'
import {
  randomKey,
  sleep,
  useAdapter,
  type AdapterAccessor,
  type AdapterFactory,
  type TestApi,
  type ContractOptions,
} from './helpers.js'

/** Sleeps until `Date.now()` reaches `deadline`. */
async function sleepUntil(deadline: number): Promise<void> {
  const ms = deadline - Date.now()
  if (ms > 0) await sleep(ms)
}

/**
 * Registers the `expiry` group: records expire after their ttl; `touch`, `load(…, ttl)`,
 * `write` and `compareAndSet` slide the expiry; a shorter ttl never shortens it, except a write
 * or compare-and-set with `exact`, which sets it to exactly the ttl; `move` sets it.
 *
 * Deadlines are measured from just after the call that set the expiry resolved (the latest the
 * store can have set it), so waits are safe however slow the round trip.
 *
 * @param api - The test functions to register with (see {@link TestApi}).
 * @param name - The adapter's label in test names.
 * @param factory - Creates the adapter under test (once for the group; the group closes it).
 * @param options - `ttlSlack` lengthens every wait for a record to be gone.
 */
export function expiryContract(api: TestApi, name: string, factory: AdapterFactory, options?: ContractOptions): void {
  const slack = options?.ttlSlack ?? 0
  const timing: ExpiryTiming = {
    expired: (since, ttl) => since + ttl * 1000 + 100 + slack,
    slide: 2 + Math.ceil(slack / 1000),
  }
  api.describe(`${name} adapter contract: expiry`, () => {
    const adapter = useAdapter(api, factory)
    expiryTests(api, adapter, timing)
    slidingTests(api, adapter, timing)
    exactAndMoveTests(api, adapter, timing)
  })
}

/** The waits of the group, from the adapter's `ttlSlack`. */
interface ExpiryTiming {
  /** Past an expiry set at `since` for `ttl` seconds, plus margin and the adapter's slack. */
  expired(since: number, ttl: number): number
  /** A ttl that outlives a ttl of 1 by enough to check between the two deadlines. */
  readonly slide: number
}

/** Records expire after their ttl; `touch` and `load(…, ttl)` slide the expiry. */
function expiryTests(api: TestApi, adapter: AdapterAccessor, { expired, slide }: ExpiryTiming): void {
  api.test('a record written with ttl 1 is gone after a second, and reads do not revive it', async () => {
    const key = randomKey()
    await adapter().write(key, { set: { a: '1' }, del: [], ttl: 1 })
    const written = Date.now()
    equal(await adapter().load(key, ['a']), ['1'])
    await sleep(500)
    equal(await adapter().load(key, ['a']), ['1'])
    await sleepUntil(expired(written, 1))
    equal(await adapter().load(key, ['a']), undefined)
    equal(await adapter().load(key, ['a'], 60), undefined)
    equal(await adapter().touch(key, 60), false)
    equal(await adapter().readAll(key), undefined)
    equal(await adapter().compareAndSet(key, { field: 'a', expected: '1', next: '2', ttl: 60 }), {
      ok: false,
      current: undefined,
    })
    // A write after expiry starts a new record: the expired field does not come back.
    await adapter().write(key, { set: { b: '2' }, del: [], ttl: 60 })
    equal(await adapter().readAll(key), { b: '2' })
  })

  api.test('touch slides the expiry', async () => {
    const key = randomKey()
    await adapter().write(key, { set: { a: '1' }, del: [], ttl: 1 })
    const written = Date.now()
    await sleep(600)
    equal(await adapter().touch(key, slide), true)
    const touched = Date.now()
    await sleepUntil(expired(written, 1)) // past the original deadline
    equal(await adapter().load(key, ['a']), ['1'])
    await sleepUntil(expired(touched, slide)) // past the new one
    equal(await adapter().load(key, ['a']), undefined)
  })

  api.test('load with a ttl slides the expiry', async () => {
    const key = randomKey()
    await adapter().write(key, { set: { a: '1' }, del: [], ttl: 1 })
    const written = Date.now()
    await sleep(600)
    equal(await adapter().load(key, ['a'], slide), ['1'])
    const loaded = Date.now()
    await sleepUntil(expired(written, 1))
    equal(await adapter().readAll(key), { a: '1' })
    await sleepUntil(expired(loaded, slide))
    equal(await adapter().readAll(key), undefined)
  })
}

/** Reads without a ttl do not slide the expiry, writes do, and a shorter ttl never shortens it. */
function slidingTests(api: TestApi, adapter: AdapterAccessor, { expired, slide }: ExpiryTiming): void {
  api.test('load without a ttl, and readAll, do not slide the expiry', async () => {
    const key = randomKey()
    await adapter().write(key, { set: { a: '1' }, del: [], ttl: 1 })
    const written = Date.now()
    await sleep(600)
    equal(await adapter().load(key, ['a']), ['1'])
    equal(await adapter().readAll(key), { a: '1' })
    await sleepUntil(expired(written, 1))
    equal(await adapter().load(key, ['a']), undefined)
  })

  api.test('write and compareAndSet slide the expiry', async () => {
    const written = randomKey()
    const swapped = randomKey()
    await adapter().write(written, { set: { a: '1' }, del: [], ttl: 1 })
    await adapter().write(swapped, { set: { a: '1' }, del: [], ttl: 1 })
    const created = Date.now()
    await sleep(600)
    await adapter().write(written, { set: { b: '2' }, del: [], ttl: slide })
    equal(await adapter().compareAndSet(swapped, { field: 'a', expected: '1', next: '2', ttl: slide }), {
      ok: true,
    })
    await sleepUntil(expired(created, 1))
    equal(await adapter().readAll(written), { a: '1', b: '2' })
    equal(await adapter().readAll(swapped), { a: '2' })
  })

  api.test('a shorter ttl never shortens a longer expiry', async () => {
    const key = randomKey()
    const long = slide + 1
    const before = Date.now()
    await adapter().write(key, { set: { a: '1' }, del: [], ttl: long })
    await adapter().write(key, { set: { b: '2' }, del: [], ttl: 1 })
    equal(await adapter().touch(key, 1), true)
    equal(await adapter().load(key, ['a'], 1), ['1'])
    equal(await adapter().compareAndSet(key, { field: 'c', expected: undefined, next: '3', ttl: 1 }), {
      ok: true,
    })
    await adapter().write(key, { set: {}, del: ['b'], ttl: 1 })
    const shortened = Date.now()
    await sleepUntil(expired(shortened, 1))
    assert.ok(Date.now() < before + long * 1000, `${Date.now()} < ${before + long * 1000}`) // still inside the long ttl
    equal(await adapter().readAll(key), { a: '1', c: '3' })
  })
}

/** `exact` sets the expiry to exactly the ttl; `move` sets it. */
function exactAndMoveTests(api: TestApi, adapter: AdapterAccessor, { expired, slide }: ExpiryTiming): void {
  api.test('exact: write and compareAndSet set the expiry to exactly ttl, shorter or longer', async () => {
    const owner = randomKey()
    const written = `{${owner}}${randomKey()}` // owned: the owner index is kept as well
    const swapped = randomKey()
    const lengthened = randomKey()
    await adapter().write(written, { set: { a: '1' }, del: [], ttl: 3600 })
    await adapter().write(swapped, { set: { a: '1' }, del: [], ttl: 3600 })
    await adapter().write(lengthened, { set: { a: '1' }, del: [], ttl: 1 })
    const created = Date.now()
    await adapter().write(written, { set: { b: '2' }, del: [], ttl: 1, exact: true })
    equal(await adapter().compareAndSet(swapped, { field: 'a', expected: '1', next: '2', ttl: 1, exact: true }), {
      ok: true,
    })
    await adapter().write(lengthened, { set: { b: '2' }, del: [], ttl: slide, exact: true })
    const shortened = Date.now()
    equal(await adapter().readAll(written), { a: '1', b: '2' })
    await sleepUntil(Math.max(expired(shortened, 1), expired(created, 1)))
    equal(await adapter().readAll(written), undefined)
    equal(await adapter().readAll(swapped), undefined)
    equal(await adapter().readAll(lengthened), { a: '1', b: '2' }) // past its first ttl, inside the exact one
    if (adapter().ownerKeys) equal(await adapter().ownerKeys!(owner), [])
  })

  api.test('move gives the new record the ttl', async () => {
    const from = randomKey()
    const to = randomKey()
    await adapter().write(from, { set: { a: '1' }, del: [], ttl: 60 })
    await adapter().move(from, to, { a: '1' }, 1)
    const moved = Date.now()
    equal(await adapter().load(to, ['a']), ['1'])
    equal(await adapter().load(from, ['a']), undefined)
    await sleepUntil(expired(moved, 1))
    equal(await adapter().load(to, ['a']), undefined)
    equal(await adapter().readAll(to), undefined)
  })
}
