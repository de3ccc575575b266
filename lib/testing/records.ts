/**
 * The `records` group of the adapter contract: reading and writing fields with their expiries,
 * deleting fields and records, `createdAt`, `readAll`, `move`, `delete` and `close`.
 * @module
 */
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import {
  type AdapterAccessor,
  type AdapterFactory,
  type ContractOptions,
  EMPTY,
  equal,
  fieldsOf,
  inSeconds,
  later,
  randomKey,
  setting,
  sleep,
  type TestApi,
  TTL,
  useAdapter,
  valuesOf,
} from './helpers.js'

/**
 * Registers the `records` group: the basic record operations every adapter must support.
 *
 * @param api - The test functions to register with (see {@link TestApi}).
 * @param name - The adapter's label in test names.
 * @param factory - Creates the adapter under test (once for the group; the group closes it).
 * @param _options - Unused by this group; accepted so every group has the same signature.
 */
export function recordContract(api: TestApi, name: string, factory: AdapterFactory, _options?: ContractOptions): void {
  api.describe(`${name} adapter contract: records`, () => {
    const adapter = useAdapter(api, factory)
    readWriteTests(api, adapter)
    valueTests(api, adapter)
    fieldDeletionTests(api, adapter)
    createdAtTests(api, adapter)
    moveTests(api, adapter)
    deletionTests(api, adapter, factory)
  })
}

/** Missing records, field order and expiries, merging writes, the empty string, isolation by key. */
function readWriteTests(api: TestApi, adapter: AdapterAccessor): void {
  api.test("a missing record: reads resolve undefined, `existing` resolves 'gone', no change creates it", async () => {
    const key = randomKey()
    equal(await adapter().load(key, ['a', 'b']), undefined)
    equal(await adapter().readAll(key), undefined)
    equal(await adapter().write(key, { ...EMPTY, existing: true }), 'gone')
    await adapter().write(key, { set: {}, del: ['a'], expiresAt: {} })
    await adapter().write(key, { set: {}, del: [], expiresAt: { a: later() } })
    await adapter().write(key, EMPTY)
    // None of the calls above may have created the record.
    equal(await adapter().load(key, ['a']), undefined)
    equal(await adapter().readAll(key), undefined)
  })

  api.test('load returns values and expiries in the order of `fields`, and createdAt, and changes nothing', async () => {
    const key = randomKey()
    const [a, b, c] = [inSeconds(TTL), inSeconds(TTL + 1), inSeconds(TTL + 2)]
    await adapter().write(key, { set: { a: '1', b: '2', c: '3' }, del: [], expiresAt: { a, b, c } })
    const { createdAt } = (await adapter().readAll(key))!
    equal(await adapter().load(key, ['c', 'missing', 'a', 'b']), {
      values: ['3', undefined, '1', '2'],
      expiresAt: [c, undefined, a, b],
      createdAt,
    })
    equal(await adapter().load(key, ['b']), { values: ['2'], expiresAt: [b], createdAt })
    equal(await valuesOf(adapter(), key, ['nope', 'nada']), [undefined, undefined])
    equal(await adapter().readAll(key), { fields: { a: '1', b: '2', c: '3' }, expiresAt: { a, b, c }, createdAt })
  })

  api.test('a write merges into the record: fields are added or replaced, the others keep their expiry', async () => {
    const key = randomKey()
    const [first, second] = [inSeconds(TTL), inSeconds(TTL + 1)]
    await adapter().write(key, setting({ a: '1', b: '2' }, first))
    const { createdAt } = (await adapter().readAll(key))!
    await adapter().write(key, setting({ b: 'two', c: '3' }, second))
    equal(await adapter().readAll(key), {
      fields: { a: '1', b: 'two', c: '3' },
      expiresAt: { a: first, b: second, c: second },
      createdAt,
    })
  })

  api.test('the empty string is a value, not a missing field', async () => {
    const key = randomKey()
    await adapter().write(key, setting({ empty: '' }, later()))
    equal(await valuesOf(adapter(), key, ['empty', 'other']), ['', undefined])
    equal(await fieldsOf(adapter(), key), { empty: '' })
  })

  api.test('records are isolated by key', async () => {
    const one = randomKey()
    const two = randomKey()
    await adapter().write(one, setting({ f: 'one' }, later()))
    await adapter().write(two, setting({ f: 'two' }, later()))
    await adapter().delete(one)
    equal(await valuesOf(adapter(), one, ['f']), undefined)
    equal(await valuesOf(adapter(), two, ['f']), ['two'])
  })
}

/** Values that must round-trip exactly: unicode, 100 KB, many fields. */
function valueTests(api: TestApi, adapter: AdapterAccessor): void {
  api.test('unicode field names and values round-trip exactly', async () => {
    const key = randomKey()
    const values: Record<string, string> = {
      'ключ-🔑': 'значение ✓',
      名前: '日本語のテキスト 🍣🍜',
      emoji: '👩🏽‍💻 family: 👨‍👩‍👧‍👦, flag: 🇫🇷',
      combining: 'e\u0301 vs \u00e9, Å vs A\u030a',
      controls: 'nul\u0000tab\tnewline\ncr\r"quotes" \\backslash\\ {"json":[1,2]}',
      rtl: 'עברית العربية',
    }
    await adapter().write(key, setting(values, later()))
    const fields = Object.keys(values)
    equal(await valuesOf(adapter(), key, fields), Object.values(values))
    const all = (await fieldsOf(adapter(), key))!
    equal(all, values)
    for (const field of fields) equal(Buffer.from(all[field]!), Buffer.from(values[field]!))
  })

  api.test('100 KB values round-trip byte-exact', async () => {
    const key = randomKey()
    const ascii = randomBytes(75 * 1024).toString('base64') // 100 KB
    const multiByte = '€😀ü字'.repeat(10 * 1024) // 120 KB of UTF-8, 50 K UTF-16 code units
    equal(ascii.length, 100 * 1024)
    await adapter().write(key, setting({ ascii, multiByte }, later()))
    const [gotAscii, gotMulti] = (await valuesOf(adapter(), key, ['ascii', 'multiByte']))!
    equal(gotAscii === ascii, true)
    equal(gotMulti === multiByte, true)
    equal(Buffer.byteLength(gotMulti!), Buffer.byteLength(multiByte))
  })

  api.test('a record with many fields, each with an expiry of its own', async () => {
    const key = randomKey()
    const base = later()
    const set: Record<string, string> = {}
    const expiresAt: Record<string, number> = {}
    for (let i = 0; i < 1000; i++) {
      set[`field-${i}`] = `value-${i}-${'x'.repeat(i % 50)}`
      expiresAt[`field-${i}`] = base + i
    }
    await adapter().write(key, { set, del: [], expiresAt })
    const fields = Object.keys(set).reverse()
    const loaded = (await adapter().load(key, fields))!
    equal(loaded, { values: fields.map((f) => set[f]), expiresAt: fields.map((f) => expiresAt[f]), createdAt: loaded.createdAt })
    equal(await adapter().readAll(key), { fields: set, expiresAt, createdAt: loaded.createdAt })
  })
}

/** Deleting fields through `del`, empty changes, and `readAll` returning a copy. */
function fieldDeletionTests(api: TestApi, adapter: AdapterAccessor): void {
  api.test('a write with `del` removes those fields and keeps the others', async () => {
    const key = randomKey()
    await adapter().write(key, setting({ a: '1', b: '2', c: '3' }, later()))
    await adapter().write(key, { ...setting({ d: '4' }, later()), del: ['b', 'never-set'] })
    equal(await valuesOf(adapter(), key, ['a', 'b', 'c', 'd']), ['1', undefined, '3', '4'])
    equal(await fieldsOf(adapter(), key), { a: '1', c: '3', d: '4' })
  })

  api.test('deleting the last field deletes the record', async () => {
    const key = randomKey()
    await adapter().write(key, setting({ a: '1', b: '2' }, later()))
    await adapter().write(key, { set: {}, del: ['a'], expiresAt: {} })
    equal(await fieldsOf(adapter(), key), { b: '2' })
    await adapter().write(key, { set: {}, del: ['b'], expiresAt: {} })
    equal(await adapter().load(key, ['a', 'b']), undefined)
    equal(await adapter().readAll(key), undefined)
    equal(await adapter().write(key, { ...EMPTY, existing: true }), 'gone')
    // A later write starts a new record: the deleted fields do not come back.
    await adapter().write(key, setting({ c: '3' }, later()))
    equal(await fieldsOf(adapter(), key), { c: '3' })
  })

  api.test('an empty change with existing checks that the record exists and changes nothing', async () => {
    const key = randomKey()
    await adapter().write(key, { set: { a: '1', b: '2' }, del: [], expiresAt: { a: inSeconds(TTL), b: inSeconds(TTL + 1) } })
    const before = await adapter().readAll(key)
    await sleep(5) // a change would show in the expiries or createdAt
    equal(await adapter().write(key, { ...EMPTY, existing: true }), undefined)
    equal(await adapter().write(key, EMPTY), undefined)
    equal(await adapter().readAll(key), before)
  })

  api.test('readAll returns every field with its expiry, as a copy', async () => {
    const key = randomKey()
    const set: Record<string, string> = { a: '1', 'b c': '2', ü: '3', 'd.e:f': '' }
    const change = setting(set, later())
    await adapter().write(key, change)
    const all = (await adapter().readAll(key))!
    const expected = { fields: set, expiresAt: change.expiresAt, createdAt: all.createdAt }
    equal(all, expected)
    const { fields, expiresAt } = all as { fields: Record<string, string>; expiresAt: Record<string, number> }
    fields.a = 'mutated'
    delete fields['b c']
    expiresAt.a = 0
    equal(await adapter().readAll(key), expected)
  })
}

/** `createdAt`: set by the write or compare-and-set that creates a record, kept by every later one. */
function createdAtTests(api: TestApi, adapter: AdapterAccessor): void {
  api.test('createdAt is set when a write or compareAndSet creates the record, and kept by every later write', async () => {
    const [written, swapped] = [randomKey(), randomKey()]
    const before = Date.now()
    await adapter().write(written, setting({ a: '1' }, later()))
    equal(await adapter().compareAndSet(swapped, { field: 'a', expected: undefined, next: '1', expiresAt: { a: later() } }), {
      ok: true,
    })
    const after = Date.now()
    for (const key of [written, swapped]) {
      const { createdAt } = (await adapter().readAll(key))!
      assert.ok(createdAt! >= before && createdAt! <= after, `createdAt ${createdAt} is between ${before} and ${after}`)
      await sleep(5) // so that a createdAt set again would differ
      await adapter().write(key, { ...setting({ b: '2' }, later()), del: ['a'], existing: true })
      await adapter().write(key, { set: {}, del: [], expiresAt: { b: inSeconds(TTL + 1) } })
      equal(await adapter().compareAndSet(key, { field: 'b', expected: '2', next: '3', expiresAt: { b: later() } }), { ok: true })
      equal((await adapter().load(key, ['b']))?.createdAt, createdAt)
    }
  })
}

/** `move`, and writes with `existing` to a record deleted meanwhile. */
function moveTests(api: TestApi, adapter: AdapterAccessor): void {
  api.test('move writes the fields, their expiries and createdAt (now when undefined) as the whole new record', async () => {
    const [from, to, next] = [randomKey(), randomKey(), randomKey()]
    await adapter().write(from, setting({ a: '1', b: '2' }, later()))
    await adapter().write(to, setting({ stale: 'x' }, later()))
    const record = { fields: { a: 'A', c: 'C' }, expiresAt: { a: later(), c: later() + 1 }, createdAt: Date.now() - 3_600_000 }
    equal(await adapter().move(from, to, record), undefined)
    equal(await adapter().load(from, ['a']), undefined) // the old record is deleted
    equal(await adapter().readAll(to), record)
    const before = Date.now()
    equal(await adapter().move(to, next, { ...record, createdAt: undefined }), undefined)
    const { createdAt } = (await adapter().readAll(next))!
    assert.ok(createdAt! >= before && createdAt! <= Date.now(), `createdAt ${createdAt} is now`)
  })

  api.test("move from a record that is gone writes nothing and resolves 'gone'", async () => {
    const from = randomKey()
    const to = randomKey()
    await adapter().write(from, setting({ a: '1' }, later()))
    const record = (await adapter().readAll(from))!
    await adapter().delete(from) // revoked between the caller's read and its move
    equal(await adapter().move(from, to, record), 'gone')
    equal(await adapter().readAll(to), undefined)
    equal(await adapter().readAll(from), undefined)
  })

  api.test("a write to an existing record never recreates it once deleted: it resolves 'gone'", async () => {
    const key = randomKey()
    await adapter().write(key, setting({ a: '1' }, later()))
    equal(await adapter().write(key, { ...setting({ a: '2' }, later()), existing: true }), undefined)
    equal(await fieldsOf(adapter(), key), { a: '2' })
    await adapter().delete(key)
    equal(await adapter().write(key, { ...setting({ a: '3' }, later()), existing: true }), 'gone')
    equal(await adapter().write(key, { set: {}, del: ['a'], expiresAt: {}, existing: true }), 'gone')
    equal(await adapter().readAll(key), undefined)
    // Without `existing`, a write creates the record as always.
    equal(await adapter().write(key, setting({ a: '4' }, later())), undefined)
    equal(await fieldsOf(adapter(), key), { a: '4' })
  })
}

/** `move` without fields, `delete`, and `close()` twice (on an adapter of its own from `factory`). */
function deletionTests(api: TestApi, adapter: AdapterAccessor, factory: AdapterFactory): void {
  api.test('move with no fields deletes the old record and creates no new one', async () => {
    const from = randomKey()
    const to = randomKey()
    await adapter().write(from, setting({ a: '1' }, later()))
    await adapter().move(from, to, { fields: {}, expiresAt: {}, createdAt: undefined })
    equal(await adapter().readAll(from), undefined)
    equal(await adapter().readAll(to), undefined)
    equal(await adapter().write(to, { ...EMPTY, existing: true }), 'gone')
  })

  api.test('delete removes a record; deleting a missing record is fine', async () => {
    const key = randomKey()
    await adapter().write(key, setting({ a: '1' }, later()))
    equal(await adapter().delete(key), undefined)
    equal(await adapter().readAll(key), undefined)
    equal(await adapter().delete(key), undefined)
    equal(await adapter().delete(randomKey()), undefined)
  })

  api.test('close() can be called twice', async () => {
    const own = await factory()
    const key = randomKey()
    await own.write(key, setting({ a: '1' }, later()))
    await own.delete(key)
    equal(await own.close(), undefined)
    equal(await own.close(), undefined)
  })
}
