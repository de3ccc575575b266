/**
 * The `compareAndSet` group of the adapter contract.
 * @module
 */
import assert from 'node:assert/strict'
import {
  type AdapterAccessor,
  type AdapterFactory,
  type ContractOptions,
  equal,
  expectStashError,
  fieldsOf,
  later,
  randomKey,
  setting,
  type TestApi,
  useAdapter,
  valuesOf,
  EMPTY,
} from './helpers.js'

/**
 * Registers the `compareAndSet` group: atomic replacement of one field, with the current value
 * returned on a mismatch, deletion through `next: undefined`, `maxBytes`, and 100 concurrent
 * read-modify-write loops that must not lose an update.
 *
 * @param api - The test functions to register with (see {@link TestApi}).
 * @param name - The adapter's label in test names.
 * @param factory - Creates the adapter under test (once for the group; the group closes it).
 * @param _options - Unused by this group; accepted so every group has the same signature.
 */
export function compareAndSetContract(api: TestApi, name: string, factory: AdapterFactory, _options?: ContractOptions): void {
  api.describe(`${name} adapter contract: compareAndSet`, () => {
    const adapter = useAdapter(api, factory)
    swapTests(api, adapter)
    absenceTests(api, adapter)
    limitAndRaceTests(api, adapter)
  })
}

/** Swapping an absent field, a matching value, and a wrong one. */
function swapTests(api: TestApi, adapter: AdapterAccessor): void {
  api.test('expected undefined swaps an absent field, creating the record if needed', async () => {
    const key = randomKey()
    equal(await adapter().compareAndSet(key, { field: 'a', expected: undefined, next: '1', expiresAt: { a: later() } }), {
      ok: true,
    })
    equal(await valuesOf(adapter(), key, ['a']), ['1'])
    equal(await adapter().compareAndSet(key, { field: 'b', expected: undefined, next: '2', expiresAt: { b: later() } }), {
      ok: true,
    })
    equal(await fieldsOf(adapter(), key), { a: '1', b: '2' })
  })

  api.test('a matching expected value is replaced', async () => {
    const key = randomKey()
    await adapter().write(key, setting({ a: 'old', b: 'keep' }, later()))
    equal(await adapter().compareAndSet(key, { field: 'a', expected: 'old', next: 'new', expiresAt: { a: later() } }), {
      ok: true,
    })
    equal(await fieldsOf(adapter(), key), { a: 'new', b: 'keep' })
  })

  api.test('a wrong expected value fails with the current value and changes nothing', async () => {
    const key = randomKey()
    const before = { a: '1', b: '2' }
    await adapter().write(key, setting(before, later()))
    equal(await adapter().compareAndSet(key, { field: 'a', expected: '0', next: '9', expiresAt: { a: later() } }), {
      ok: false,
      current: '1',
    })
    equal(await adapter().compareAndSet(key, { field: 'a', expected: undefined, next: '9', expiresAt: { a: later() } }), {
      ok: false,
      current: '1',
    })
    equal(await adapter().compareAndSet(key, { field: 'c', expected: '1', next: '9', expiresAt: { c: later() } }), {
      ok: false,
      current: undefined,
    })
    equal(await adapter().compareAndSet(key, { field: 'b', expected: '2 ', next: undefined, expiresAt: {} }), {
      ok: false,
      current: '2',
    })
    equal(await fieldsOf(adapter(), key), before)
  })
}

/** A missing record, one deleted meanwhile (`existing`), and deletion through `next: undefined`. */
function absenceTests(api: TestApi, adapter: AdapterAccessor): void {
  api.test('an expected value on a missing record fails and creates nothing', async () => {
    const key = randomKey()
    equal(await adapter().compareAndSet(key, { field: 'a', expected: 'x', next: 'y', expiresAt: { a: later() } }), {
      ok: false,
      current: undefined,
    })
    equal(await adapter().readAll(key), undefined)
  })

  api.test('existing: a record deleted meanwhile is not recreated, whatever the expected value', async () => {
    const key = randomKey()
    await adapter().write(key, setting({ n: '1' }, later()))
    equal(
      await adapter().compareAndSet(key, { field: 'n', expected: '1', next: '2', expiresAt: { n: later() }, existing: true }),
      { ok: true },
    )
    await adapter().delete(key)
    for (const expected of [undefined, '2']) {
      equal(await adapter().compareAndSet(key, { field: 'n', expected, next: '3', expiresAt: { n: later() }, existing: true }), {
        ok: false,
        current: undefined,
        gone: true,
      })
    }
    equal(await adapter().readAll(key), undefined)
  })

  api.test('next undefined deletes the field; deleting the last field deletes the record', async () => {
    const key = randomKey()
    await adapter().write(key, setting({ a: '1', b: '2' }, later()))
    equal(await adapter().compareAndSet(key, { field: 'b', expected: '2', next: undefined, expiresAt: {} }), {
      ok: true,
    })
    equal(await valuesOf(adapter(), key, ['a', 'b']), ['1', undefined])
    equal(await adapter().compareAndSet(key, { field: 'a', expected: '1', next: undefined, expiresAt: {} }), {
      ok: true,
    })
    equal(await adapter().load(key, ['a', 'b']), undefined)
    equal(await adapter().readAll(key), undefined)
    equal(await adapter().write(key, { ...EMPTY, existing: true }), 'gone')
    // Absent stays absent: the swap matches and still creates no record.
    equal(await adapter().compareAndSet(key, { field: 'a', expected: undefined, next: undefined, expiresAt: {} }), { ok: true })
    equal(await adapter().readAll(key), undefined)
  })
}

/** `maxBytes`, and 100 concurrent read-modify-write loops. */
function limitAndRaceTests(api: TestApi, adapter: AdapterAccessor): void {
  api.test('honours maxBytes like write', async () => {
    const key = randomKey()
    await adapter().write(key, setting({ a: '12345', b: '1' }, later())) // 8 bytes
    await expectStashError(
      adapter().compareAndSet(key, { field: 'a', expected: '12345', next: '€€€', expiresAt: { a: later() }, maxBytes: 11 }),
      'ERR_STASH_TOO_LARGE',
    )
    await expectStashError(
      adapter().compareAndSet(key, { field: 'c', expected: undefined, next: '12', expiresAt: { c: later() }, maxBytes: 10 }),
      'ERR_STASH_TOO_LARGE',
    )
    equal(await fieldsOf(adapter(), key), { a: '12345', b: '1' })
    // 1 + 9 + 2 = 12 bytes: fits exactly.
    equal(
      await adapter().compareAndSet(key, { field: 'a', expected: '12345', next: '€€€', expiresAt: { a: later() }, maxBytes: 12 }),
      {
        ok: true,
      },
    )
    equal(await fieldsOf(adapter(), key), { a: '€€€', b: '1' })

    const fresh = randomKey()
    await expectStashError(
      adapter().compareAndSet(fresh, {
        field: 'a',
        expected: undefined,
        next: 'x'.repeat(10),
        expiresAt: { a: later() },
        maxBytes: 10,
      }),
      'ERR_STASH_TOO_LARGE',
    )
    equal(await adapter().readAll(fresh), undefined)
  })

  api.test('100 concurrent read-modify-write loops lose no update', async () => {
    const key = randomKey()
    let attempts = 0
    const increment = async (): Promise<void> => {
      const loaded = await adapter().load(key, ['n'])
      let current = loaded?.values[0]
      for (let tries = 0; tries < 1000; tries++) {
        attempts++
        const next = String(Number(current ?? '0') + 1)
        const result = await adapter().compareAndSet(key, { field: 'n', expected: current, next, expiresAt: { n: later() } })
        if (result.ok) return
        current = result.current
      }
      throw new Error('compareAndSet never succeeded')
    }
    await Promise.all(Array.from({ length: 100 }, increment))
    equal(await valuesOf(adapter(), key, ['n']), ['100'])
    assert.ok(attempts > 100, `${attempts} > ${100}`) // the loops really raced
  })
}
