/**
 * The `records` group of the adapter contract: reading and writing fields, deleting fields and
 * records, `readAll`, `move`, `delete` and `close`.
 * @module
 */
import { randomBytes } from 'node:crypto'
import { randomKey, useAdapter, type AdapterFactory, type ContractOptions } from './contract-helpers.js'

const TTL = 60

/**
 * Registers the `records` group: the basic record operations every adapter must support.
 *
 * @param name - The adapter's label in test names.
 * @param factory - Creates the adapter under test (once for the group; the group closes it).
 * @param _options - Unused by this group; accepted so every group has the same signature.
 */
export function recordContract(name: string, factory: AdapterFactory, _options?: ContractOptions): void {
  describe(`${name} adapter contract: records`, () => {
    const adapter = useAdapter(factory)

    test('a missing record: load and readAll resolve undefined, touch resolves false', async () => {
      const key = randomKey()
      await expect(adapter().load(key, ['a', 'b'])).resolves.toBeUndefined()
      await expect(adapter().load(key, ['a'], TTL)).resolves.toBeUndefined()
      await expect(adapter().readAll(key)).resolves.toBeUndefined()
      await expect(adapter().touch(key, TTL)).resolves.toBe(false)
      // None of the reads above may have created the record.
      await expect(adapter().readAll(key)).resolves.toBeUndefined()
    })

    test('load returns values in the order of `fields`, undefined for missing fields', async () => {
      const key = randomKey()
      await adapter().write(key, { set: { a: '1', b: '2', c: '3' }, del: [], ttl: TTL })
      await expect(adapter().load(key, ['c', 'missing', 'a', 'b'])).resolves.toEqual(['3', undefined, '1', '2'])
      await expect(adapter().load(key, ['b'])).resolves.toEqual(['2'])
      await expect(adapter().load(key, ['nope', 'nada'])).resolves.toEqual([undefined, undefined])
    })

    test('a write merges into the record: new fields are added, existing ones replaced', async () => {
      const key = randomKey()
      await adapter().write(key, { set: { a: '1', b: '2' }, del: [], ttl: TTL })
      await adapter().write(key, { set: { b: 'two', c: '3' }, del: [], ttl: TTL })
      await expect(adapter().readAll(key)).resolves.toEqual({ a: '1', b: 'two', c: '3' })
    })

    test('the empty string is a value, not a missing field', async () => {
      const key = randomKey()
      await adapter().write(key, { set: { empty: '' }, del: [], ttl: TTL })
      await expect(adapter().load(key, ['empty', 'other'])).resolves.toEqual(['', undefined])
      await expect(adapter().readAll(key)).resolves.toEqual({ empty: '' })
    })

    test('records are isolated by key', async () => {
      const one = randomKey()
      const two = randomKey()
      await adapter().write(one, { set: { f: 'one' }, del: [], ttl: TTL })
      await adapter().write(two, { set: { f: 'two' }, del: [], ttl: TTL })
      await adapter().delete(one)
      await expect(adapter().load(one, ['f'])).resolves.toBeUndefined()
      await expect(adapter().load(two, ['f'])).resolves.toEqual(['two'])
    })

    test('unicode field names and values round-trip exactly', async () => {
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
      await expect(adapter().load(key, fields)).resolves.toEqual(Object.values(values))
      const all = await adapter().readAll(key)
      expect(all).toEqual(values)
      for (const field of fields) expect(Buffer.from(all![field]!)).toEqual(Buffer.from(values[field]!))
    })

    test('100 KB values round-trip byte-exact', async () => {
      const key = randomKey()
      const ascii = randomBytes(75 * 1024).toString('base64') // 100 KB
      const multiByte = '€😀ü字'.repeat(10 * 1024) // 120 KB of UTF-8, 50 K UTF-16 code units
      expect(ascii.length).toBe(100 * 1024)
      await adapter().write(key, { set: { ascii, multiByte }, del: [], ttl: TTL })
      const [gotAscii, gotMulti] = (await adapter().load(key, ['ascii', 'multiByte']))!
      expect(gotAscii === ascii).toBe(true)
      expect(gotMulti === multiByte).toBe(true)
      expect(Buffer.byteLength(gotMulti!)).toBe(Buffer.byteLength(multiByte))
    })

    test('a record with many fields', async () => {
      const key = randomKey()
      const set: Record<string, string> = {}
      for (let i = 0; i < 1000; i++) set[`field-${i}`] = `value-${i}-${'x'.repeat(i % 50)}`
      await adapter().write(key, { set, del: [], ttl: TTL })
      const fields = Object.keys(set).reverse()
      await expect(adapter().load(key, fields)).resolves.toEqual(fields.map((field) => set[field]))
      await expect(adapter().readAll(key)).resolves.toEqual(set)
    })

    test('a write with `del` removes those fields and keeps the others', async () => {
      const key = randomKey()
      await adapter().write(key, { set: { a: '1', b: '2', c: '3' }, del: [], ttl: TTL })
      await adapter().write(key, { set: { d: '4' }, del: ['b', 'never-set'], ttl: TTL })
      await expect(adapter().load(key, ['a', 'b', 'c', 'd'])).resolves.toEqual(['1', undefined, '3', '4'])
      await expect(adapter().readAll(key)).resolves.toEqual({ a: '1', c: '3', d: '4' })
    })

    test('deleting the last field deletes the record', async () => {
      const key = randomKey()
      await adapter().write(key, { set: { a: '1', b: '2' }, del: [], ttl: TTL })
      await adapter().write(key, { set: {}, del: ['a'], ttl: TTL })
      await expect(adapter().readAll(key)).resolves.toEqual({ b: '2' })
      await adapter().write(key, { set: {}, del: ['b'], ttl: TTL })
      await expect(adapter().load(key, ['a', 'b'])).resolves.toBeUndefined()
      await expect(adapter().readAll(key)).resolves.toBeUndefined()
      await expect(adapter().touch(key, TTL)).resolves.toBe(false)
      // A later write starts a new record: the deleted fields do not come back.
      await adapter().write(key, { set: { c: '3' }, del: [], ttl: TTL })
      await expect(adapter().readAll(key)).resolves.toEqual({ c: '3' })
    })

    test('a write that only deletes does not create a missing record', async () => {
      const key = randomKey()
      await adapter().write(key, { set: {}, del: ['a'], ttl: TTL })
      await adapter().write(key, { set: {}, del: [], ttl: TTL })
      await expect(adapter().load(key, ['a'])).resolves.toBeUndefined()
      await expect(adapter().touch(key, TTL)).resolves.toBe(false)
    })

    test('readAll returns every field, as a copy', async () => {
      const key = randomKey()
      const set = { a: '1', 'b c': '2', ü: '3', 'd.e:f': '' }
      await adapter().write(key, { set, del: [], ttl: TTL })
      const all = await adapter().readAll(key)
      expect(all).toEqual(set)
      all!.a = 'mutated'
      delete all!['b c']
      await expect(adapter().readAll(key)).resolves.toEqual(set)
    })

    test('move writes the fields as the whole new record and deletes the old one', async () => {
      const from = randomKey()
      const to = randomKey()
      await adapter().write(from, { set: { a: '1', b: '2' }, del: [], ttl: TTL })
      await adapter().write(to, { set: { stale: 'x' }, del: [], ttl: TTL })
      await adapter().move(from, to, { a: 'A', c: 'C' }, TTL)
      await expect(adapter().readAll(from)).resolves.toBeUndefined()
      await expect(adapter().load(from, ['a'])).resolves.toBeUndefined()
      await expect(adapter().readAll(to)).resolves.toEqual({ a: 'A', c: 'C' })
      await expect(adapter().touch(to, TTL)).resolves.toBe(true)
    })

    test('move from a missing record still writes the new one', async () => {
      const from = randomKey()
      const to = randomKey()
      await adapter().move(from, to, { a: '1' }, TTL)
      await expect(adapter().readAll(to)).resolves.toEqual({ a: '1' })
      await expect(adapter().readAll(from)).resolves.toBeUndefined()
    })

    test('move with no fields deletes the old record and creates no new one', async () => {
      const from = randomKey()
      const to = randomKey()
      await adapter().write(from, { set: { a: '1' }, del: [], ttl: TTL })
      await adapter().move(from, to, {}, TTL)
      await expect(adapter().readAll(from)).resolves.toBeUndefined()
      await expect(adapter().readAll(to)).resolves.toBeUndefined()
      await expect(adapter().touch(to, TTL)).resolves.toBe(false)
    })

    test('delete removes a record; deleting a missing record is fine', async () => {
      const key = randomKey()
      await adapter().write(key, { set: { a: '1' }, del: [], ttl: TTL })
      await expect(adapter().delete(key)).resolves.toBeUndefined()
      await expect(adapter().readAll(key)).resolves.toBeUndefined()
      await expect(adapter().delete(key)).resolves.toBeUndefined()
      await expect(adapter().delete(randomKey())).resolves.toBeUndefined()
    })

    test('close() can be called twice', async () => {
      const own = await factory()
      const key = randomKey()
      await own.write(key, { set: { a: '1' }, del: [], ttl: TTL })
      await own.delete(key)
      await expect(own.close()).resolves.toBeUndefined()
      await expect(own.close()).resolves.toBeUndefined()
    })
  })
}
