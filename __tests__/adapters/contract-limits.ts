/**
 * The `maxBytes` and `compareAndSet` groups of the adapter contract.
 * @module
 */
import {
  byteSize,
  expectStashError,
  randomKey,
  useAdapter,
  type AdapterFactory,
  type ContractOptions,
} from './contract-helpers.js'

const TTL = 60

/**
 * Registers the `maxBytes` group: a write that would make the record larger than `maxBytes`
 * (UTF-8 bytes of field names plus values) rejects with `ERR_STASH_TOO_LARGE` and writes nothing.
 *
 * @param name - The adapter's label in test names.
 * @param factory - Creates the adapter under test (once for the group; the group closes it).
 * @param _options - Unused by this group; accepted so every group has the same signature.
 */
export function maxBytesContract(name: string, factory: AdapterFactory, _options?: ContractOptions): void {
  describe(`${name} adapter contract: maxBytes`, () => {
    const adapter = useAdapter(factory)

    test('a record of exactly maxBytes is accepted; one byte more is refused and nothing is written', async () => {
      const key = randomKey()
      expect(byteSize({ a: '123456789' })).toBe(10)
      await adapter().write(key, { set: { a: '123456789' }, del: [], ttl: TTL, maxBytes: 10 })
      await expectStashError(adapter().write(key, { set: { b: '' }, del: [], ttl: TTL, maxBytes: 10 }), 'ERR_STASH_TOO_LARGE')
      await expect(adapter().readAll(key)).resolves.toEqual({ a: '123456789' })
    })

    test('a new record over the limit is not created', async () => {
      const key = randomKey()
      await expectStashError(
        adapter().write(key, { set: { a: 'x'.repeat(50) }, del: [], ttl: TTL, maxBytes: 20 }),
        'ERR_STASH_TOO_LARGE',
      )
      await expect(adapter().load(key, ['a'])).resolves.toBeUndefined()
      await expect(adapter().touch(key, TTL)).resolves.toBe(false)
    })

    test('a write that grows an existing record past the limit leaves it exactly as before', async () => {
      const key = randomKey()
      const before = { a: '1111', b: '2222' } // 10 bytes
      await adapter().write(key, { set: before, del: [], ttl: TTL, maxBytes: 20 })
      // Replacing a value with a longer one; the `del` of the same change must not be applied either.
      await expectStashError(
        adapter().write(key, { set: { a: 'x'.repeat(20) }, del: ['b'], ttl: TTL, maxBytes: 20 }),
        'ERR_STASH_TOO_LARGE',
      )
      await expect(adapter().readAll(key)).resolves.toEqual(before)
      // Adding a field: 10 + 11 bytes.
      await expectStashError(
        adapter().write(key, { set: { c: 'x'.repeat(10) }, del: [], ttl: TTL, maxBytes: 20 }),
        'ERR_STASH_TOO_LARGE',
      )
      await expect(adapter().readAll(key)).resolves.toEqual(before)
      // The record is still usable up to the limit: 10 + 10 bytes.
      await adapter().write(key, { set: { c: 'x'.repeat(9) }, del: [], ttl: TTL, maxBytes: 20 })
      await expect(adapter().readAll(key)).resolves.toEqual({ ...before, c: 'x'.repeat(9) })
    })

    test('a write that shrinks the record within the limit succeeds', async () => {
      const key = randomKey()
      await adapter().write(key, { set: { a: 'x'.repeat(15) }, del: [], ttl: TTL, maxBytes: 20 }) // 16 bytes
      // 2 + 11 = 13 bytes once `a` is replaced (adding without subtracting would be 29).
      await adapter().write(key, { set: { a: 'y', b: 'z'.repeat(10) }, del: [], ttl: TTL, maxBytes: 20 })
      await expect(adapter().readAll(key)).resolves.toEqual({ a: 'y', b: 'z'.repeat(10) })

      const big = randomKey()
      await adapter().write(big, { set: { big: 'x'.repeat(100), small: 's' }, del: [], ttl: TTL }) // no limit
      await expectStashError(
        adapter().write(big, { set: { small: 't' }, del: [], ttl: TTL, maxBytes: 20 }),
        'ERR_STASH_TOO_LARGE',
      )
      await adapter().write(big, { set: { small: 't' }, del: ['big'], ttl: TTL, maxBytes: 20 })
      await expect(adapter().readAll(big)).resolves.toEqual({ small: 't' })
    })

    test('maxBytes counts UTF-8 bytes of field names and values', async () => {
      const euro = randomKey()
      expect(byteSize({ k: '€€€' })).toBe(10) // 4 UTF-16 code units
      await adapter().write(euro, { set: { k: '€€€' }, del: [], ttl: TTL, maxBytes: 10 })
      await expectStashError(
        adapter().write(euro, { set: { k: '€€€€' }, del: [], ttl: TTL, maxBytes: 12 }),
        'ERR_STASH_TOO_LARGE',
      )
      await expect(adapter().readAll(euro)).resolves.toEqual({ k: '€€€' })

      const emoji = randomKey()
      expect(byteSize({ '😀': '😀' })).toBe(8) // 4 UTF-16 code units, 2 code points
      await expectStashError(
        adapter().write(emoji, { set: { '😀': '😀' }, del: [], ttl: TTL, maxBytes: 7 }),
        'ERR_STASH_TOO_LARGE',
      )
      await expect(adapter().readAll(emoji)).resolves.toBeUndefined()
      await adapter().write(emoji, { set: { '😀': '😀' }, del: [], ttl: TTL, maxBytes: 8 })
      await expect(adapter().readAll(emoji)).resolves.toEqual({ '😀': '😀' })

      const names = randomKey()
      await expectStashError(
        adapter().write(names, { set: { abcdefgh: 'xyz' }, del: [], ttl: TTL, maxBytes: 10 }),
        'ERR_STASH_TOO_LARGE',
      )
      await adapter().write(names, { set: { abcdefgh: 'xyz' }, del: [], ttl: TTL, maxBytes: 11 })
      await expect(adapter().readAll(names)).resolves.toEqual({ abcdefgh: 'xyz' })
    })
  })
}

/**
 * Registers the `compareAndSet` group: atomic replacement of one field, with the current value
 * returned on a mismatch, deletion through `next: undefined`, `maxBytes`, and 100 concurrent
 * read-modify-write loops that must not lose an update.
 *
 * @param name - The adapter's label in test names.
 * @param factory - Creates the adapter under test (once for the group; the group closes it).
 * @param _options - Unused by this group; accepted so every group has the same signature.
 */
export function compareAndSetContract(name: string, factory: AdapterFactory, _options?: ContractOptions): void {
  describe(`${name} adapter contract: compareAndSet`, () => {
    const adapter = useAdapter(factory)

    test('expected undefined swaps an absent field, creating the record if needed', async () => {
      const key = randomKey()
      await expect(adapter().compareAndSet(key, { field: 'a', expected: undefined, next: '1', ttl: TTL })).resolves.toEqual({
        ok: true,
      })
      await expect(adapter().load(key, ['a'])).resolves.toEqual(['1'])
      await expect(adapter().compareAndSet(key, { field: 'b', expected: undefined, next: '2', ttl: TTL })).resolves.toEqual({
        ok: true,
      })
      await expect(adapter().readAll(key)).resolves.toEqual({ a: '1', b: '2' })
    })

    test('a matching expected value is replaced', async () => {
      const key = randomKey()
      await adapter().write(key, { set: { a: 'old', b: 'keep' }, del: [], ttl: TTL })
      await expect(adapter().compareAndSet(key, { field: 'a', expected: 'old', next: 'new', ttl: TTL })).resolves.toEqual({
        ok: true,
      })
      await expect(adapter().readAll(key)).resolves.toEqual({ a: 'new', b: 'keep' })
    })

    test('a wrong expected value fails with the current value and changes nothing', async () => {
      const key = randomKey()
      const before = { a: '1', b: '2' }
      await adapter().write(key, { set: before, del: [], ttl: TTL })
      await expect(adapter().compareAndSet(key, { field: 'a', expected: '0', next: '9', ttl: TTL })).resolves.toEqual({
        ok: false,
        current: '1',
      })
      await expect(adapter().compareAndSet(key, { field: 'a', expected: undefined, next: '9', ttl: TTL })).resolves.toEqual({
        ok: false,
        current: '1',
      })
      await expect(adapter().compareAndSet(key, { field: 'c', expected: '1', next: '9', ttl: TTL })).resolves.toEqual({
        ok: false,
        current: undefined,
      })
      await expect(adapter().compareAndSet(key, { field: 'b', expected: '2 ', next: undefined, ttl: TTL })).resolves.toEqual({
        ok: false,
        current: '2',
      })
      await expect(adapter().readAll(key)).resolves.toEqual(before)
    })

    test('an expected value on a missing record fails and creates nothing', async () => {
      const key = randomKey()
      await expect(adapter().compareAndSet(key, { field: 'a', expected: 'x', next: 'y', ttl: TTL })).resolves.toEqual({
        ok: false,
        current: undefined,
      })
      await expect(adapter().readAll(key)).resolves.toBeUndefined()
    })

    test('next undefined deletes the field; deleting the last field deletes the record', async () => {
      const key = randomKey()
      await adapter().write(key, { set: { a: '1', b: '2' }, del: [], ttl: TTL })
      await expect(adapter().compareAndSet(key, { field: 'b', expected: '2', next: undefined, ttl: TTL })).resolves.toEqual({
        ok: true,
      })
      await expect(adapter().load(key, ['a', 'b'])).resolves.toEqual(['1', undefined])
      await expect(adapter().compareAndSet(key, { field: 'a', expected: '1', next: undefined, ttl: TTL })).resolves.toEqual({
        ok: true,
      })
      await expect(adapter().load(key, ['a', 'b'])).resolves.toBeUndefined()
      await expect(adapter().readAll(key)).resolves.toBeUndefined()
      await expect(adapter().touch(key, TTL)).resolves.toBe(false)
      // Absent stays absent: the swap matches and still creates no record.
      await expect(adapter().compareAndSet(key, { field: 'a', expected: undefined, next: undefined, ttl: TTL })).resolves.toEqual(
        { ok: true },
      )
      await expect(adapter().readAll(key)).resolves.toBeUndefined()
    })

    test('honours maxBytes like write', async () => {
      const key = randomKey()
      await adapter().write(key, { set: { a: '12345', b: '1' }, del: [], ttl: TTL }) // 8 bytes
      await expectStashError(
        adapter().compareAndSet(key, { field: 'a', expected: '12345', next: '€€€', ttl: TTL, maxBytes: 11 }),
        'ERR_STASH_TOO_LARGE',
      )
      await expectStashError(
        adapter().compareAndSet(key, { field: 'c', expected: undefined, next: '12', ttl: TTL, maxBytes: 10 }),
        'ERR_STASH_TOO_LARGE',
      )
      await expect(adapter().readAll(key)).resolves.toEqual({ a: '12345', b: '1' })
      // 1 + 9 + 2 = 12 bytes: fits exactly.
      await expect(
        adapter().compareAndSet(key, { field: 'a', expected: '12345', next: '€€€', ttl: TTL, maxBytes: 12 }),
      ).resolves.toEqual({ ok: true })
      await expect(adapter().readAll(key)).resolves.toEqual({ a: '€€€', b: '1' })

      const fresh = randomKey()
      await expectStashError(
        adapter().compareAndSet(fresh, { field: 'a', expected: undefined, next: 'x'.repeat(10), ttl: TTL, maxBytes: 10 }),
        'ERR_STASH_TOO_LARGE',
      )
      await expect(adapter().readAll(fresh)).resolves.toBeUndefined()
    })

    test('100 concurrent read-modify-write loops lose no update', async () => {
      const key = randomKey()
      let attempts = 0
      const increment = async (): Promise<void> => {
        const loaded = await adapter().load(key, ['n'])
        let current = loaded?.[0]
        for (let tries = 0; tries < 1000; tries++) {
          attempts++
          const next = String(Number(current ?? '0') + 1)
          const result = await adapter().compareAndSet(key, { field: 'n', expected: current, next, ttl: TTL })
          if (result.ok) return
          current = result.current
        }
        throw new Error('compareAndSet never succeeded')
      }
      await Promise.all(Array.from({ length: 100 }, increment))
      await expect(adapter().load(key, ['n'])).resolves.toEqual(['100'])
      expect(attempts).toBeGreaterThan(100) // the loops really raced
    })
  })
}
