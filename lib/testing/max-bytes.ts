/**
 * The `maxBytes` group of the adapter contract.
 * @module
 */
import { deepStrictEqual as equal } from 'node:assert/strict'
import {
  byteSize,
  expectStashError,
  randomKey,
  useAdapter,
  type AdapterAccessor,
  type AdapterFactory,
  type TestApi,
  type ContractOptions,
} from './helpers.js'

const TTL = 60

/**
 * Registers the `maxBytes` group: a write that would make the record larger than `maxBytes`
 * (UTF-8 bytes of field names plus values) rejects with `ERR_STASH_TOO_LARGE` and writes nothing.
 *
 * @param api - The test functions to register with (see {@link TestApi}).
 * @param name - The adapter's label in test names.
 * @param factory - Creates the adapter under test (once for the group; the group closes it).
 * @param _options - Unused by this group; accepted so every group has the same signature.
 */
export function maxBytesContract(api: TestApi, name: string, factory: AdapterFactory, _options?: ContractOptions): void {
  api.describe(`${name} adapter contract: maxBytes`, () => {
    const adapter = useAdapter(api, factory)
    recordLimitTests(api, adapter)
    shrinkAndUtf8Tests(api, adapter)
  })
}

/** A record of exactly `maxBytes`, one over it, and a write growing a record past it. */
function recordLimitTests(api: TestApi, adapter: AdapterAccessor): void {
  api.test('a record of exactly maxBytes is accepted; one byte more is refused and nothing is written', async () => {
    const key = randomKey()
    equal(byteSize({ a: '123456789' }), 10)
    await adapter().write(key, { set: { a: '123456789' }, del: [], ttl: TTL, maxBytes: 10 })
    await expectStashError(adapter().write(key, { set: { b: '' }, del: [], ttl: TTL, maxBytes: 10 }), 'ERR_STASH_TOO_LARGE')
    equal(await adapter().readAll(key), { a: '123456789' })
  })

  api.test('a new record over the limit is not created', async () => {
    const key = randomKey()
    await expectStashError(
      adapter().write(key, { set: { a: 'x'.repeat(50) }, del: [], ttl: TTL, maxBytes: 20 }),
      'ERR_STASH_TOO_LARGE',
    )
    equal(await adapter().load(key, ['a']), undefined)
    equal(await adapter().touch(key, TTL), false)
  })

  api.test('a write that grows an existing record past the limit leaves it exactly as before', async () => {
    const key = randomKey()
    const before = { a: '1111', b: '2222' } // 10 bytes
    await adapter().write(key, { set: before, del: [], ttl: TTL, maxBytes: 20 })
    // Replacing a value with a longer one; the `del` of the same change must not be applied either.
    await expectStashError(
      adapter().write(key, { set: { a: 'x'.repeat(20) }, del: ['b'], ttl: TTL, maxBytes: 20 }),
      'ERR_STASH_TOO_LARGE',
    )
    equal(await adapter().readAll(key), before)
    // Adding a field: 10 + 11 bytes.
    await expectStashError(
      adapter().write(key, { set: { c: 'x'.repeat(10) }, del: [], ttl: TTL, maxBytes: 20 }),
      'ERR_STASH_TOO_LARGE',
    )
    equal(await adapter().readAll(key), before)
    // The record is still usable up to the limit: 10 + 10 bytes.
    await adapter().write(key, { set: { c: 'x'.repeat(9) }, del: [], ttl: TTL, maxBytes: 20 })
    equal(await adapter().readAll(key), { ...before, c: 'x'.repeat(9) })
  })
}

/** A write shrinking a record within the limit, and the count in UTF-8 bytes of names and values. */
function shrinkAndUtf8Tests(api: TestApi, adapter: AdapterAccessor): void {
  api.test('a write that shrinks the record within the limit succeeds', async () => {
    const key = randomKey()
    await adapter().write(key, { set: { a: 'x'.repeat(15) }, del: [], ttl: TTL, maxBytes: 20 }) // 16 bytes
    // 2 + 11 = 13 bytes once `a` is replaced (adding without subtracting would be 29).
    await adapter().write(key, { set: { a: 'y', b: 'z'.repeat(10) }, del: [], ttl: TTL, maxBytes: 20 })
    equal(await adapter().readAll(key), { a: 'y', b: 'z'.repeat(10) })

    const big = randomKey()
    await adapter().write(big, { set: { big: 'x'.repeat(100), small: 's' }, del: [], ttl: TTL }) // no limit
    await expectStashError(adapter().write(big, { set: { small: 't' }, del: [], ttl: TTL, maxBytes: 20 }), 'ERR_STASH_TOO_LARGE')
    await adapter().write(big, { set: { small: 't' }, del: ['big'], ttl: TTL, maxBytes: 20 })
    equal(await adapter().readAll(big), { small: 't' })
  })

  api.test('maxBytes counts UTF-8 bytes of field names and values', async () => {
    const euro = randomKey()
    equal(byteSize({ k: '€€€' }), 10) // 4 UTF-16 code units
    await adapter().write(euro, { set: { k: '€€€' }, del: [], ttl: TTL, maxBytes: 10 })
    await expectStashError(adapter().write(euro, { set: { k: '€€€€' }, del: [], ttl: TTL, maxBytes: 12 }), 'ERR_STASH_TOO_LARGE')
    equal(await adapter().readAll(euro), { k: '€€€' })

    const emoji = randomKey()
    equal(byteSize({ '😀': '😀' }), 8) // 4 UTF-16 code units, 2 code points
    await expectStashError(adapter().write(emoji, { set: { '😀': '😀' }, del: [], ttl: TTL, maxBytes: 7 }), 'ERR_STASH_TOO_LARGE')
    equal(await adapter().readAll(emoji), undefined)
    await adapter().write(emoji, { set: { '😀': '😀' }, del: [], ttl: TTL, maxBytes: 8 })
    equal(await adapter().readAll(emoji), { '😀': '😀' })

    const names = randomKey()
    await expectStashError(
      adapter().write(names, { set: { abcdefgh: 'xyz' }, del: [], ttl: TTL, maxBytes: 10 }),
      'ERR_STASH_TOO_LARGE',
    )
    await adapter().write(names, { set: { abcdefgh: 'xyz' }, del: [], ttl: TTL, maxBytes: 11 })
    equal(await adapter().readAll(names), { abcdefgh: 'xyz' })
  })
}
