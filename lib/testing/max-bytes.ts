/**
 * The `maxBytes` group of the adapter contract.
 * @module
 */
import {
  type AdapterAccessor,
  type AdapterFactory,
  byteSize,
  type ContractOptions,
  equal,
  expectStashError,
  fieldsOf,
  inSeconds,
  later,
  randomKey,
  setting,
  sleepUntil,
  type TestApi,
  useAdapter,
  valuesOf,
} from './helpers.js'

/**
 * Registers the `maxBytes` group: a write that would make the record larger than `maxBytes`
 * (UTF-8 bytes of the names plus values of its live fields) rejects with `ERR_STASH_TOO_LARGE`
 * and writes nothing.
 *
 * @param api - The test functions to register with (see {@link TestApi}).
 * @param name - The adapter's label in test names.
 * @param factory - Creates the adapter under test (once for the group; the group closes it).
 * @param options - `ttlSlack` lengthens the wait for a field to expire.
 */
export function maxBytesContract(api: TestApi, name: string, factory: AdapterFactory, options?: ContractOptions): void {
  api.describe(`${name} adapter contract: maxBytes`, () => {
    const adapter = useAdapter(api, factory)
    recordLimitTests(api, adapter)
    shrinkAndUtf8Tests(api, adapter)
    liveFieldTests(api, adapter, options?.ttlSlack ?? 0)
  })
}

/** A record of exactly `maxBytes`, one over it, and a write growing a record past it. */
function recordLimitTests(api: TestApi, adapter: AdapterAccessor): void {
  api.test('a record of exactly maxBytes is accepted; one byte more is refused and nothing is written', async () => {
    const key = randomKey()
    equal(byteSize({ a: '123456789' }), 10)
    await adapter().write(key, { ...setting({ a: '123456789' }, later()), maxBytes: 10 })
    await expectStashError(adapter().write(key, { ...setting({ b: '' }, later()), maxBytes: 10 }), 'ERR_STASH_TOO_LARGE')
    equal(await fieldsOf(adapter(), key), { a: '123456789' })
  })

  api.test('a new record over the limit is not created', async () => {
    const key = randomKey()
    await expectStashError(
      adapter().write(key, { ...setting({ a: 'x'.repeat(50) }, later()), maxBytes: 20 }),
      'ERR_STASH_TOO_LARGE',
    )
    equal(await valuesOf(adapter(), key, ['a']), undefined)
    equal(await adapter().readAll(key), undefined)
  })

  api.test('a write that grows an existing record past the limit leaves it exactly as before', async () => {
    const key = randomKey()
    const before = { a: '1111', b: '2222' } // 10 bytes
    await adapter().write(key, { ...setting(before, later()), maxBytes: 20 })
    // Replacing a value with a longer one; the `del` of the same change must not be applied either.
    await expectStashError(
      adapter().write(key, { ...setting({ a: 'x'.repeat(20) }, later()), del: ['b'], maxBytes: 20 }),
      'ERR_STASH_TOO_LARGE',
    )
    equal(await fieldsOf(adapter(), key), before)
    // Adding a field: 10 + 11 bytes.
    await expectStashError(
      adapter().write(key, { ...setting({ c: 'x'.repeat(10) }, later()), maxBytes: 20 }),
      'ERR_STASH_TOO_LARGE',
    )
    equal(await fieldsOf(adapter(), key), before)
    // The record is still usable up to the limit: 10 + 10 bytes.
    await adapter().write(key, { ...setting({ c: 'x'.repeat(9) }, later()), maxBytes: 20 })
    equal(await fieldsOf(adapter(), key), { ...before, c: 'x'.repeat(9) })
  })
}

/** A write shrinking a record within the limit, and the count in UTF-8 bytes of names and values. */
function shrinkAndUtf8Tests(api: TestApi, adapter: AdapterAccessor): void {
  api.test('a write that shrinks the record within the limit succeeds', async () => {
    const key = randomKey()
    await adapter().write(key, { ...setting({ a: 'x'.repeat(15) }, later()), maxBytes: 20 }) // 16 bytes
    // 2 + 11 = 13 bytes once `a` is replaced (adding without subtracting would be 29).
    await adapter().write(key, { ...setting({ a: 'y', b: 'z'.repeat(10) }, later()), maxBytes: 20 })
    equal(await fieldsOf(adapter(), key), { a: 'y', b: 'z'.repeat(10) })

    const big = randomKey()
    await adapter().write(big, setting({ big: 'x'.repeat(100), small: 's' }, later())) // no limit
    await expectStashError(adapter().write(big, { ...setting({ small: 't' }, later()), maxBytes: 20 }), 'ERR_STASH_TOO_LARGE')
    await adapter().write(big, { ...setting({ small: 't' }, later()), del: ['big'], maxBytes: 20 })
    equal(await fieldsOf(adapter(), big), { small: 't' })
  })

  api.test('maxBytes counts UTF-8 bytes of field names and values', async () => {
    const euro = randomKey()
    equal(byteSize({ k: '€€€' }), 10) // 4 UTF-16 code units
    await adapter().write(euro, { ...setting({ k: '€€€' }, later()), maxBytes: 10 })
    await expectStashError(adapter().write(euro, { ...setting({ k: '€€€€' }, later()), maxBytes: 12 }), 'ERR_STASH_TOO_LARGE')
    equal(await fieldsOf(adapter(), euro), { k: '€€€' })

    const emoji = randomKey()
    equal(byteSize({ '😀': '😀' }), 8) // 4 UTF-16 code units, 2 code points
    await expectStashError(adapter().write(emoji, { ...setting({ '😀': '😀' }, later()), maxBytes: 7 }), 'ERR_STASH_TOO_LARGE')
    equal(await adapter().readAll(emoji), undefined)
    await adapter().write(emoji, { ...setting({ '😀': '😀' }, later()), maxBytes: 8 })
    equal(await fieldsOf(adapter(), emoji), { '😀': '😀' })

    const names = randomKey()
    await expectStashError(
      adapter().write(names, { ...setting({ abcdefgh: 'xyz' }, later()), maxBytes: 10 }),
      'ERR_STASH_TOO_LARGE',
    )
    await adapter().write(names, { ...setting({ abcdefgh: 'xyz' }, later()), maxBytes: 11 })
    equal(await fieldsOf(adapter(), names), { abcdefgh: 'xyz' })
  })
}

/** Expired fields take no room: `maxBytes` counts live fields only (a real one-second expiry). */
function liveFieldTests(api: TestApi, adapter: AdapterAccessor, slack: number): void {
  api.test('maxBytes counts live fields only: an expired field takes no room', async () => {
    const key = randomKey()
    const soon = inSeconds(1)
    await adapter().write(key, { set: { big: 'x'.repeat(100), small: 's' }, del: [], expiresAt: { big: soon, small: later() } })
    await expectStashError(adapter().write(key, { ...setting({ small: 't' }, later()), maxBytes: 20 }), 'ERR_STASH_TOO_LARGE')
    await sleepUntil(soon + 100 + slack)
    await adapter().write(key, { ...setting({ small: 't' }, later()), maxBytes: 20 }) // 6 bytes once `big` has expired
    const swap = { field: 'c', expected: undefined, next: 'x'.repeat(10), expiresAt: { c: later() }, maxBytes: 20 }
    equal(await adapter().compareAndSet(key, swap), { ok: true }) // 6 + 11 bytes
    equal(await fieldsOf(adapter(), key), { small: 't', c: 'x'.repeat(10) })
  })
}
