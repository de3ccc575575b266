/**
 * The `records` group of the adapter contract: reading and writing fields, deleting fields and
 * records, `readAll`, `move`, `delete` and `close`.
 * @module
 */
import { deepStrictEqual as equal } from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import {
  randomKey,
  useAdapter,
  type AdapterAccessor,
  type AdapterFactory,
  type TestApi,
  type ContractOptions,
} from './helpers.js'

const TTL = 60

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
    moveTests(api, adapter)
    deletionTests(api, adapter, factory)
  })
}

/** Missing records, field order, merging writes, the empty string, isolation by key. */
function readWriteTests(api: TestApi, adapter: AdapterAccessor): void {
  api.test('a missing record: load and readAll resolve undefined, touch resolves false', async () => {
    const key = randomKey()
    equal(await adapter().load(key, ['a', 'b']), undefined)
    equal(await adapter().load(key, ['a'], TTL), undefined)
    equal(await adapter().readAll(key), undefined)
    equal(await adapter().touch(key, TTL), false)
    // None of the reads above may have created the record.
    equal(await adapter().readAll(key), undefined)
  })

  api.test('load returns values in the order of `fields`, undefined for missing fields', async () => {
    const key = randomKey()
    await adapter().write(key, { set: { a: '1', b: '2', c: '3' }, del: [], ttl: TTL })
    equal(await adapter().load(key, ['c', 'missing', 'a', 'b']), ['3', undefined, '1', '2'])
    equal(await adapter().load(key, ['b']), ['2'])
    equal(await adapter().load(key, ['nope', 'nada']), [undefined, undefined])
  })

  api.test('a write merges into the record: new fields are added, existing ones replaced', async () => {
    const key = randomKey()
    await adapter().write(key, { set: { a: '1', b: '2' }, del: [], ttl: TTL })
    await adapter().write(key, { set: { b: 'two', c: '3' }, del: [], ttl: TTL })
    equal(await adapter().readAll(key), { a: '1', b: 'two', c: '3' })
  })

  api.test('the empty string is a value, not a missing field', async () => {
    const key = randomKey()
    await adapter().write(key, { set: { empty: '' }, del: [], ttl: TTL })
    equal(await adapter().load(key, ['empty', 'other']), ['', undefined])
    equal(await adapter().readAll(key), { empty: '' })
  })

  api.test('records are isolated by key', async () => {
    const one = randomKey()
    const two = randomKey()
    await adapter().write(one, { set: { f: 'one' }, del: [], ttl: TTL })
    await adapter().write(two, { set: { f: 'two' }, del: [], ttl: TTL })
    await adapter().delete(one)
    equal(await adapter().load(one, ['f']), undefined)
    equal(await adapter().load(two, ['f']), ['two'])
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
    await adapter().write(key, { set: values, del: [], ttl: TTL })
    const fields = Object.keys(values)
    equal(await adapter().load(key, fields), Object.values(values))
    const all = await adapter().readAll(key)
    equal(all, values)
    for (const field of fields) equal(Buffer.from(all[field]!), Buffer.from(values[field]!))
  })

  api.test('100 KB values round-trip byte-exact', async () => {
    const key = randomKey()
    const ascii = randomBytes(75 * 1024).toString('base64') // 100 KB
    const multiByte = '€😀ü字'.repeat(10 * 1024) // 120 KB of UTF-8, 50 K UTF-16 code units
    equal(ascii.length, 100 * 1024)
    await adapter().write(key, { set: { ascii, multiByte }, del: [], ttl: TTL })
    const [gotAscii, gotMulti] = (await adapter().load(key, ['ascii', 'multiByte']))!
    equal(gotAscii === ascii, true)
    equal(gotMulti === multiByte, true)
    equal(Buffer.byteLength(gotMulti!), Buffer.byteLength(multiByte))
  })

  api.test('a record with many fields', async () => {
    const key = randomKey()
    const set: Record<string, string> = {}
    for (let i = 0; i < 1000; i++) set[`field-${i}`] = `value-${i}-${'x'.repeat(i % 50)}`
    await adapter().write(key, { set, del: [], ttl: TTL })
    const fields = Object.keys(set).reverse()
    equal(
      await adapter().load(key, fields),
      fields.map((field) => set[field]),
    )
    equal(await adapter().readAll(key), set)
  })
}

/** Deleting fields through `del`, and `readAll` returning a copy. */
function fieldDeletionTests(api: TestApi, adapter: AdapterAccessor): void {
  api.test('a write with `del` removes those fields and keeps the others', async () => {
    const key = randomKey()
    await adapter().write(key, { set: { a: '1', b: '2', c: '3' }, del: [], ttl: TTL })
    await adapter().write(key, { set: { d: '4' }, del: ['b', 'never-set'], ttl: TTL })
    equal(await adapter().load(key, ['a', 'b', 'c', 'd']), ['1', undefined, '3', '4'])
    equal(await adapter().readAll(key), { a: '1', c: '3', d: '4' })
  })

  api.test('deleting the last field deletes the record', async () => {
    const key = randomKey()
    await adapter().write(key, { set: { a: '1', b: '2' }, del: [], ttl: TTL })
    await adapter().write(key, { set: {}, del: ['a'], ttl: TTL })
    equal(await adapter().readAll(key), { b: '2' })
    await adapter().write(key, { set: {}, del: ['b'], ttl: TTL })
    equal(await adapter().load(key, ['a', 'b']), undefined)
    equal(await adapter().readAll(key), undefined)
    equal(await adapter().touch(key, TTL), false)
    // A later write starts a new record: the deleted fields do not come back.
    await adapter().write(key, { set: { c: '3' }, del: [], ttl: TTL })
    equal(await adapter().readAll(key), { c: '3' })
  })

  api.test('a write that only deletes does not create a missing record', async () => {
    const key = randomKey()
    await adapter().write(key, { set: {}, del: ['a'], ttl: TTL })
    await adapter().write(key, { set: {}, del: [], ttl: TTL })
    equal(await adapter().load(key, ['a']), undefined)
    equal(await adapter().touch(key, TTL), false)
  })

  api.test('readAll returns every field, as a copy', async () => {
    const key = randomKey()
    const set: Record<string, string> = { a: '1', 'b c': '2', ü: '3', 'd.e:f': '' }
    await adapter().write(key, { set, del: [], ttl: TTL })
    const all = await adapter().readAll(key)
    equal(all, set)
    all.a = 'mutated'
    delete all['b c']
    equal(await adapter().readAll(key), set)
  })
}

/** `move`, and writes with `existing` to a record deleted meanwhile. */
function moveTests(api: TestApi, adapter: AdapterAccessor): void {
  api.test('move writes the fields as the whole new record and deletes the old one', async () => {
    const from = randomKey()
    const to = randomKey()
    await adapter().write(from, { set: { a: '1', b: '2' }, del: [], ttl: TTL })
    await adapter().write(to, { set: { stale: 'x' }, del: [], ttl: TTL })
    await adapter().move(from, to, { a: 'A', c: 'C' }, TTL)
    equal(await adapter().readAll(from), undefined)
    equal(await adapter().load(from, ['a']), undefined)
    equal(await adapter().readAll(to), { a: 'A', c: 'C' })
    equal(await adapter().touch(to, TTL), true)
  })

  api.test("move from a record that is gone writes nothing and resolves 'gone'", async () => {
    const from = randomKey()
    const to = randomKey()
    await adapter().write(from, { set: { a: '1' }, del: [], ttl: TTL })
    await adapter().delete(from) // revoked between the caller's read and its move
    equal(await adapter().move(from, to, { a: '1' }, TTL), 'gone')
    equal(await adapter().readAll(to), undefined)
    equal(await adapter().readAll(from), undefined)
  })

  api.test("a write to an existing record never recreates it once deleted: it resolves 'gone'", async () => {
    const key = randomKey()
    await adapter().write(key, { set: { a: '1' }, del: [], ttl: TTL })
    equal(await adapter().write(key, { set: { a: '2' }, del: [], ttl: TTL, existing: true }), undefined)
    equal(await adapter().readAll(key), { a: '2' })
    await adapter().delete(key)
    equal(await adapter().write(key, { set: { a: '3' }, del: [], ttl: TTL, existing: true }), 'gone')
    equal(await adapter().write(key, { set: {}, del: ['a'], ttl: TTL, existing: true }), 'gone')
    equal(await adapter().readAll(key), undefined)
    // Without `existing`, a write creates the record as always.
    equal(await adapter().write(key, { set: { a: '4' }, del: [], ttl: TTL }), undefined)
    equal(await adapter().readAll(key), { a: '4' })
  })
}

/** `move` without fields, `delete`, and `close()` twice (on an adapter of its own from `factory`). */
function deletionTests(api: TestApi, adapter: AdapterAccessor, factory: AdapterFactory): void {
  api.test('move with no fields deletes the old record and creates no new one', async () => {
    const from = randomKey()
    const to = randomKey()
    await adapter().write(from, { set: { a: '1' }, del: [], ttl: TTL })
    await adapter().move(from, to, {}, TTL)
    equal(await adapter().readAll(from), undefined)
    equal(await adapter().readAll(to), undefined)
    equal(await adapter().touch(to, TTL), false)
  })

  api.test('delete removes a record; deleting a missing record is fine', async () => {
    const key = randomKey()
    await adapter().write(key, { set: { a: '1' }, del: [], ttl: TTL })
    equal(await adapter().delete(key), undefined)
    equal(await adapter().readAll(key), undefined)
    equal(await adapter().delete(key), undefined)
    equal(await adapter().delete(randomKey()), undefined)
  })

  api.test('close() can be called twice', async () => {
    const own = await factory()
    const key = randomKey()
    await own.write(key, { set: { a: '1' }, del: [], ttl: TTL })
    await own.delete(key)
    equal(await own.close(), undefined)
    equal(await own.close(), undefined)
  })
}
