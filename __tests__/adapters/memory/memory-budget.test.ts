import { randomBytes } from 'node:crypto'
import { memoryAdapter, type MemoryAdapter, type StashEviction } from '../../../lib/index.js'
import { handOver, receive } from '../../../lib/adapters/memory/memory-moves.js'
import type { MemoryTable } from '../../../lib/adapters/memory/memory-table.js'
import { byteSize, expectStashError, randomKey, sleep } from '../../../lib/testing/helpers.js'

const TTL = 60
const HOUR = 3_600_000
const uniqueName = () => 'memory-budget-' + randomBytes(6).toString('hex')
/** The moment `ttl` seconds from now. */
const until = (ttl = TTL) => Date.now() + ttl * 1000
/** A one-field record of exactly `bytes` stored bytes (`f` plus the value). */
const sized = (bytes: number, ttl = TTL) => ({ set: { f: 'x'.repeat(bytes - 1) }, del: [], expiresAt: { f: until(ttl) } })
/** A change setting `set` (each field for `ttl` seconds) and deleting `del`. */
const change = (set: Record<string, string>, del: string[] = [], ttl = TTL) => ({
  set,
  del,
  expiresAt: Object.fromEntries(Object.keys(set).map((field) => [field, until(ttl)])),
})
/** A compare-and-set of `field` from `expected` to `next`. */
const swap = (field: string, expected: string | undefined, next: string | undefined) => ({
  field,
  expected,
  next,
  expiresAt: { [field]: until() },
})
/** A whole record of `fields`, as `move` takes it. */
const stored = (fields: Record<string, string>) => ({ fields, expiresAt: change(fields).expiresAt, createdAt: undefined })
/** The fields `readAll` gives, or undefined. */
const fieldsOf = async (adapter: MemoryAdapter, key: string) => (await adapter.readAll(key))?.fields

/** The table behind a named adapter (white box: the registry is shared through globalThis). */
function tableOf(name: string): MemoryTable {
  const registry = (globalThis as Record<symbol, unknown>)[Symbol.for('express-stash.memory-tables')] as Map<string, MemoryTable>
  return registry.get(name)!
}

/** Recomputes every record's size from its fields; the table's total must equal their sum. */
function expectExactTotal(adapter: MemoryAdapter, table: MemoryTable): void {
  let total = 0
  for (const [key, record] of table.records) {
    const bytes = byteSize(Object.fromEntries([...record.fields].map(([field, { value }]) => [field, value])))
    expect({ key, bytes: record.bytes }).toEqual({ key, bytes })
    total += bytes
  }
  expect(adapter.bytes).toBe(total)
}

const opened: MemoryAdapter[] = []
afterEach(async () => {
  await Promise.all(opened.map((adapter) => adapter.close()))
  opened.length = 0
})
const open = (options: Parameters<typeof memoryAdapter>[0]) => {
  const adapter = memoryAdapter({ cleanupInterval: HOUR, ...options })
  opened.push(adapter)
  return adapter
}

describe('memoryAdapter: the stored-bytes total', () => {
  test('stays exact through writes, swaps, moves, deletes, expiry, sweeps, hand-overs, evictions and clears', async () => {
    const name = uniqueName()
    const adapter = open({ name, maxMemory: 4000 })
    const table = tableOf(name)
    const check = () => expectExactTotal(adapter, table)
    const [a, b, c, d, e] = Array.from({ length: 5 }, randomKey) as [string, string, string, string, string]

    expect(adapter.bytes).toBe(0)
    await adapter.write(a, change({ f: 'one', g: 'two' }))
    await adapter.write(b, change({ f: 'été' })) // multi-byte UTF-8
    await adapter.write(c, change({ f: 'x' }))
    check()
    await adapter.write(a, change({ f: 'a longer value', h: '€' }, ['g']))
    check()
    await adapter.write(c, change({}, ['f'])) // its last field: the record goes
    expect(adapter.size).toBe(2)
    check()
    await adapter.compareAndSet(a, swap('f', 'a longer value', 'short'))
    await adapter.compareAndSet(a, swap('h', '€', undefined))
    await adapter.compareAndSet(a, swap('f', 'stale', 'lost')) // a lost race
    check()
    await adapter.move(a, d, stored({ f: 'moved', g: 'along' }))
    await expect(adapter.move(a, e, stored({ f: 'x' }))).resolves.toBe('gone')
    check()
    await adapter.delete(b)
    await adapter.delete(randomKey()) // nothing to delete
    check()

    await adapter.write(a, change({ f: 'brief' }, [], 1))
    await adapter.write(b, change({ f: 'brief' }, [], 1))
    await sleep(1100)
    await expect(adapter.load(a, ['f'])).resolves.toBeUndefined() // dropped on access
    check()
    await expect(adapter.sweep()).resolves.toBe(1) // b
    check()

    const moved = handOver(table, d, Date.now())! // to another node, leaving a tombstone
    check()
    receive(table, e, moved, Date.now()) // from another node
    check()

    const recent = Array.from({ length: 12 }, randomKey)
    for (const key of recent) await adapter.write(key, sized(500)) // past 4000: evictions
    expect(adapter.bytes).toBeLessThanOrEqual(4000)
    check()
    await expectStashError(adapter.write(randomKey(), sized(4001)), 'ERR_STASH_TOO_LARGE')
    check()

    const keep = recent.at(-1)
    await adapter.clear((key) => key !== keep)
    expect(adapter.size).toBe(1)
    check()
    await adapter.clear()
    expect(adapter.bytes).toBe(0)
    check()
  })
})

describe('memoryAdapter: maxMemory', () => {
  test('evicts the least recently used records by stored bytes; near the budget a read counts as use', async () => {
    const adapter = open({ maxMemory: 10_000 })
    const keys = Array.from({ length: 11 }, randomKey)
    for (const key of keys.slice(0, 9)) await adapter.write(key, sized(1000)) // 90 % of the budget
    await expect(adapter.load(keys[0]!, ['f'])).resolves.toMatchObject({ values: ['x'.repeat(999)] }) // keys[1] is now the oldest
    await adapter.write(keys[9]!, sized(1000)) // exactly the budget: nothing goes
    expect(adapter.size).toBe(10)
    await adapter.write(keys[10]!, sized(1000))
    expect({ size: adapter.size, bytes: adapter.bytes }).toEqual({ size: 10, bytes: 10_000 })
    await expect(adapter.readAll(keys[1]!)).resolves.toBeUndefined()
    for (const key of [keys[0]!, ...keys.slice(2)]) await expect(adapter.load(key, [])).resolves.toMatchObject({ values: [] })
  })

  test('below 80 % of the budget a read leaves the order as it is (it costs a lookup, no Map move)', async () => {
    const adapter = open({ maxMemory: 10_000 })
    const keys = Array.from({ length: 11 }, randomKey)
    for (const key of keys.slice(0, 7)) await adapter.write(key, sized(1000)) // 70 %
    await adapter.load(keys[0]!, ['f'])
    for (const key of keys.slice(7)) await adapter.write(key, sized(1000))
    await expect(adapter.readAll(keys[0]!)).resolves.toBeUndefined() // its read was below the mark: the oldest write went
    await expect(fieldsOf(adapter, keys[1]!)).resolves.toEqual({ f: 'x'.repeat(999) })
  })

  test('one write may evict several records, announced as one eviction of all of them', async () => {
    const adapter = open({ maxMemory: 5000 })
    const evictions: StashEviction[] = []
    adapter.onEvict((eviction) => evictions.push(eviction))
    for (let i = 0; i < 5; i++) await adapter.write(randomKey(), sized(1000))
    await adapter.write(randomKey(), sized(3500))
    expect(evictions).toEqual([{ records: 4, bytes: 4000 }])
    expect({ size: adapter.size, bytes: adapter.bytes }).toEqual({ size: 2, bytes: 4500 })
  })

  test('a record larger than the whole budget is refused (ERR_STASH_TOO_LARGE) and evicts nothing', async () => {
    const adapter = open({ maxMemory: 1000 })
    const evicted = jest.fn()
    adapter.onEvict(evicted)
    const [kept, big, moved] = [randomKey(), randomKey(), randomKey()]
    await adapter.write(kept, sized(600))
    await expectStashError(adapter.write(big, sized(1001)), 'ERR_STASH_TOO_LARGE')
    await expect(adapter.write(big, sized(1001))).rejects.toThrow(/maxMemory \(1000\)/)
    await expectStashError(adapter.compareAndSet(kept, swap('g', undefined, 'y'.repeat(500))), 'ERR_STASH_TOO_LARGE')
    await expectStashError(adapter.move(kept, moved, stored({ f: 'z'.repeat(1000) })), 'ERR_STASH_TOO_LARGE')
    // maxBytes below the budget is checked first and named in the error.
    await expect(adapter.write(big, { ...sized(800), maxBytes: 500 })).rejects.toThrow(/maxBytes \(500\)/)
    await expect(fieldsOf(adapter, kept)).resolves.toEqual({ f: 'x'.repeat(599) })
    expect({ size: adapter.size, bytes: adapter.bytes }).toEqual({ size: 1, bytes: 600 })
    expect(evicted).not.toHaveBeenCalled()
  })

  test('maxEntries and maxMemory both hold: whichever is reached first evicts', async () => {
    const adapter = open({ maxMemory: 3000, maxEntries: 4 })
    for (let i = 0; i < 6; i++) await adapter.write(randomKey(), sized(100))
    expect(adapter.size).toBe(4)
    await adapter.write(randomKey(), sized(2900))
    expect({ size: adapter.size, bytes: adapter.bytes }).toEqual({ size: 2, bytes: 3000 })
  })

  test('records that expired before the eviction reached them are not counted as evictions', async () => {
    const adapter = open({ maxMemory: 2000 })
    const evictions: StashEviction[] = []
    adapter.onEvict((eviction) => evictions.push(eviction))
    await adapter.write(randomKey(), sized(1000, 1))
    await sleep(1100)
    await adapter.write(randomKey(), sized(1000))
    await adapter.write(randomKey(), sized(1000)) // the expired one goes: no eviction
    expect(evictions).toEqual([])
    await adapter.write(randomKey(), sized(1000))
    expect(evictions).toEqual([{ records: 1, bytes: 1000 }])
  })

  test('64 MiB by default', async () => {
    const adapter = open({})
    await adapter.write(randomKey(), sized(64 * 1024 * 1024))
    await expectStashError(adapter.write(randomKey(), sized(64 * 1024 * 1024 + 1)), 'ERR_STASH_TOO_LARGE')
    expect(adapter.bytes).toBe(64 * 1024 * 1024)
  })
})

describe('memoryAdapter: onEvict', () => {
  test('every adapter sharing a table through `name` hears every eviction; unsubscribing and close() stop it', async () => {
    const name = uniqueName()
    const [a, b, c] = [open({ name, maxMemory: 2000 }), open({ name, maxMemory: 2000 }), open({ name, maxMemory: 2000 })]
    const heard = { a: [] as StashEviction[], b: [] as StashEviction[], c: [] as StashEviction[] }
    const stopA = a.onEvict((eviction) => heard.a.push(eviction))
    b.onEvict((eviction) => heard.b.push(eviction))
    c.onEvict((eviction) => heard.c.push(eviction))
    for (let i = 0; i < 3; i++) await a.write(randomKey(), sized(1000)) // the third evicts the first
    await c.write(randomKey(), sized(1000)) // through another adapter
    const two = [
      { records: 1, bytes: 1000 },
      { records: 1, bytes: 1000 },
    ]
    expect(heard).toEqual({ a: two, b: two, c: two })
    stopA()
    stopA() // twice is harmless
    await b.close()
    await c.write(randomKey(), sized(1000))
    expect([heard.a.length, heard.b.length, heard.c.length]).toEqual([2, 2, 3])
  })

  test('a listener that throws fails neither the write nor the other listeners; its error is thrown on its own', async () => {
    const adapter = open({ maxMemory: 1000 })
    const later: (() => void)[] = []
    const queue = jest.spyOn(globalThis, 'queueMicrotask').mockImplementation((fn) => void later.push(fn))
    const heard = jest.fn()
    try {
      adapter.onEvict(() => {
        throw new Error('listener failed')
      })
      adapter.onEvict(heard)
      const key = randomKey()
      await adapter.write(randomKey(), sized(1000))
      await adapter.write(key, sized(1000))
      await expect(fieldsOf(adapter, key)).resolves.toEqual({ f: 'x'.repeat(999) })
    } finally {
      queue.mockRestore()
    }
    expect(heard).toHaveBeenCalledWith({ records: 1, bytes: 1000 })
    expect(later).toHaveLength(1)
    expect(() => later[0]!()).toThrow('listener failed')
  })
})
