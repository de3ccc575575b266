/**
 * The memory adapter's per-field expiry, on a clock the tests move: each field expires on its
 * own, a write sets, slides or shortens expiries exactly as asked (never bringing back an expired
 * field), the record lives until its last field expires, expired fields leave the byte budgets
 * with the next write, `createdAt` is kept, and a cross-node move keeps it all.
 */
import { randomBytes } from 'node:crypto'
import { memoryAdapter, type MemoryAdapter } from '../../../lib/index.js'
import { handOver, receive } from '../../../lib/adapters/memory/memory-moves.js'
import type { MemoryTable } from '../../../lib/adapters/memory/memory-table.js'
import { expectStashError, randomKey } from '../../../lib/testing/helpers.js'

const START = 1_700_000_000_000
let now = START
/** Moves the adapter's clock `ms` forward. */
const advance = (ms: number) => void (now += ms)
beforeEach(() => {
  now = START
  jest.spyOn(Date, 'now').mockImplementation(() => now)
})
afterEach(() => jest.restoreAllMocks())

const opened: MemoryAdapter[] = []
afterEach(async () => {
  await Promise.all(opened.map((adapter) => adapter.close()))
  opened.length = 0
})
/** A named adapter (so its table can be reached) that never sweeps on its own. */
function open(options: Parameters<typeof memoryAdapter>[0] = {}): { adapter: MemoryAdapter; table: MemoryTable } {
  const name = 'memory-expiry-' + randomBytes(6).toString('hex')
  const adapter = memoryAdapter({ name, cleanupInterval: 3_600_000, ...options })
  opened.push(adapter)
  const registry = (globalThis as Record<symbol, unknown>)[Symbol.for('express-stash.memory-tables')] as Map<string, MemoryTable>
  return { adapter, table: registry.get(name)! }
}
/** A change setting each field of `set` until `now` plus its ms in `ms`, and `slide` for others. */
const change = (set: Record<string, string>, ms: Record<string, number>, extra: { del?: string[]; maxBytes?: number } = {}) => ({
  set,
  del: extra.del ?? [],
  expiresAt: Object.fromEntries(Object.entries(ms).map(([field, after]) => [field, now + after])),
  ...(extra.maxBytes === undefined ? {} : { maxBytes: extra.maxBytes }),
})

describe('memoryAdapter: each field expires on its own', () => {
  test('a field expires while the others live: absent to load, readAll and compare-and-set', async () => {
    const { adapter } = open()
    const key = randomKey()
    await adapter.write(key, change({ short: 's', long: 'l' }, { short: 1000, long: 5000 }))
    await expect(adapter.load(key, ['short', 'long', 'none'])).resolves.toEqual({
      values: ['s', 'l', undefined],
      expiresAt: [START + 1000, START + 5000, undefined],
      createdAt: START,
    })
    advance(1000)
    await expect(adapter.load(key, ['short', 'long'])).resolves.toEqual({
      values: [undefined, 'l'],
      expiresAt: [undefined, START + 5000],
      createdAt: START,
    })
    await expect(adapter.readAll(key)).resolves.toEqual({
      fields: { long: 'l' },
      expiresAt: { long: START + 5000 },
      createdAt: START,
    })
    const swap = { field: 'short', next: 'new', expiresAt: { short: now + 1000 } }
    await expect(adapter.compareAndSet(key, { ...swap, expected: 's' })).resolves.toEqual({ ok: false, current: undefined })
    await expect(adapter.compareAndSet(key, { ...swap, expected: undefined })).resolves.toEqual({ ok: true })
    await expect(adapter.load(key, ['short'])).resolves.toMatchObject({ values: ['new'], expiresAt: [now + 1000] })
  })

  test('expiries are set exactly: a shorter one shortens a field, a load slides nothing', async () => {
    const { adapter } = open()
    const key = randomKey()
    await adapter.write(key, change({ f: 'v', g: 'w' }, { f: 10_000, g: 10_000 }))
    advance(500)
    await adapter.load(key, ['f', 'g'])
    await adapter.write(key, change({}, { f: 1000, g: 20_000 })) // no values: f shortened, g slid
    await expect(adapter.load(key, ['f', 'g'])).resolves.toMatchObject({
      values: ['v', 'w'],
      expiresAt: [now + 1000, now + 20_000],
    })
    await adapter.write(key, change({ f: 'v2' }, { f: 300 })) // a set shortens too
    await expect(adapter.load(key, ['f'])).resolves.toMatchObject({ expiresAt: [now + 300] })
    advance(300)
    await expect(adapter.load(key, ['f', 'g'])).resolves.toMatchObject({ values: [undefined, 'w'] })
  })

  test('an expiry already past removes the field; the record goes with its last live field', async () => {
    const { adapter } = open()
    const key = randomKey()
    await adapter.write(key, change({ f: 'v', g: 'w' }, { f: 1000, g: 1000 }))
    await adapter.write(key, change({}, { f: 0 }))
    await expect(adapter.readAll(key)).resolves.toMatchObject({ fields: { g: 'w' } })
    await adapter.write(key, change({}, { g: -1 }))
    await expect(adapter.readAll(key)).resolves.toBeUndefined()
    expect(adapter.size).toBe(0)
  })

  test('a slide never revives an expired, deleted or missing field', async () => {
    const { adapter } = open()
    const key = randomKey()
    await adapter.write(key, change({ expired: 'e', deleted: 'd', kept: 'k' }, { expired: 1000, deleted: 5000, kept: 5000 }))
    advance(1000)
    await adapter.write(key, change({}, { expired: 5000, deleted: 5000, missing: 5000, kept: 5000 }, { del: ['deleted'] }))
    await expect(adapter.readAll(key)).resolves.toEqual({
      fields: { kept: 'k' },
      expiresAt: { kept: now + 5000 },
      createdAt: START,
    })
    await expect(adapter.load(key, ['expired', 'deleted', 'missing'])).resolves.toMatchObject({
      values: [undefined, undefined, undefined],
    })
  })

  test('the record lives until its last field expires: then existing writes are gone, and a sweep removes it', async () => {
    const { adapter } = open()
    const [key, other] = [randomKey(), randomKey()]
    await adapter.write(key, change({ f: 'v', g: 'w' }, { f: 1000, g: 2000 }))
    await adapter.write(other, change({ f: 'v' }, { f: 5000 }))
    advance(1999)
    await expect(adapter.sweep()).resolves.toBe(0)
    await expect(adapter.write(key, { set: {}, del: [], expiresAt: {}, existing: true })).resolves.toBeUndefined()
    advance(1)
    expect(adapter.size).toBe(2) // held until swept or accessed
    await expect(adapter.sweep()).resolves.toBe(1)
    expect(adapter.size).toBe(1)
    await expect(adapter.write(key, { set: {}, del: [], expiresAt: { f: now + 1000 }, existing: true })).resolves.toBe('gone')
    const cas = { field: 'f', expected: undefined, next: 'x', expiresAt: { f: now + 1000 }, existing: true }
    await expect(adapter.compareAndSet(key, cas)).resolves.toEqual({ ok: false, current: undefined, gone: true })
    await expect(adapter.load(key, ['f'])).resolves.toBeUndefined()
    expect(adapter.size).toBe(1)
  })
})

describe('memoryAdapter: expired fields and the byte budgets', () => {
  test('an expired field counts for neither maxBytes nor maxMemory once the next write removes it', async () => {
    const { adapter } = open({ maxMemory: 1000 })
    const evicted = jest.fn()
    adapter.onEvict(evicted)
    const [key, other] = [randomKey(), randomKey()]
    await adapter.write(key, change({ big: 'x'.repeat(597), g: 'y' }, { big: 1000, g: 60_000 })) // 600 + 2 bytes
    advance(1000)
    expect(adapter.bytes).toBe(602) // still held
    await adapter.write(key, change({ h: 'z'.repeat(499) }, { h: 60_000 }, { maxBytes: 502 })) // 2 + 500 live bytes
    expect(adapter.bytes).toBe(502)
    await expectStashError(adapter.write(key, change({ i: 'w' }, { i: 60_000 }, { maxBytes: 502 })), 'ERR_STASH_TOO_LARGE')
    await adapter.write(other, change({ f: 'v'.repeat(497) }, { f: 60_000 })) // 498: exactly the budget
    expect({ size: adapter.size, bytes: adapter.bytes }).toEqual({ size: 2, bytes: 1000 })
    expect(evicted).not.toHaveBeenCalled()
  })
})

describe('memoryAdapter: createdAt', () => {
  test('set by the write that creates the record, kept by later writes, written by move', async () => {
    const { adapter } = open()
    const [key, to, next] = [randomKey(), randomKey(), randomKey()]
    await adapter.write(key, change({ f: 'v' }, { f: 60_000 }))
    advance(1000)
    await adapter.write(key, change({ g: 'w' }, { g: 60_000 }, { del: ['f'] }))
    await adapter.compareAndSet(key, { field: 'g', expected: 'w', next: 'w2', expiresAt: { g: now + 60_000 } })
    await expect(adapter.load(key, [])).resolves.toEqual({ values: [], expiresAt: [], createdAt: START })
    await adapter.move(key, to, { fields: { g: 'w2' }, expiresAt: { g: now + 60_000 }, createdAt: START - 5000 })
    await expect(adapter.readAll(to)).resolves.toEqual({
      fields: { g: 'w2' },
      expiresAt: { g: now + 60_000 },
      createdAt: START - 5000,
    })
    await adapter.move(to, next, { fields: { g: 'w2' }, expiresAt: { g: now + 60_000 }, createdAt: undefined })
    await expect(adapter.readAll(next)).resolves.toMatchObject({ createdAt: now })
    await adapter.write(next, change({}, {}, { del: ['g'] })) // its last field: the record goes
    advance(1000)
    await adapter.write(next, change({ f: 'v' }, { f: 60_000 }))
    await expect(adapter.readAll(next)).resolves.toMatchObject({ createdAt: now }) // a new record
  })

  test('move writes each field with its own expiry, dropping those already past', async () => {
    const { adapter } = open()
    const [from, to] = [randomKey(), randomKey()]
    await adapter.write(from, change({ f: 'v' }, { f: 60_000 }))
    const fields = { f: 'v', g: 'w', old: 'o' }
    await adapter.move(from, to, { fields, expiresAt: { f: now + 1000, g: now + 2000, old: now }, createdAt: START })
    await expect(adapter.readAll(to)).resolves.toEqual({
      fields: { f: 'v', g: 'w' },
      expiresAt: { f: now + 1000, g: now + 2000 },
      createdAt: START,
    })
    await expect(adapter.readAll(from)).resolves.toBeUndefined()
  })
})

describe('memoryAdapter: a cross-node move', () => {
  test('keeps each field its time left and the record its age, whatever the two clocks say', async () => {
    const { adapter: a, table: there } = open()
    const { adapter: b, table: here } = open()
    const key = randomKey()
    await a.write(key, change({ f: 'v', g: 'w', gone: 'x' }, { f: 10_000, g: 60_000, gone: 1000 }))
    advance(2000)
    const moved = handOver(there, key, now)!
    expect(moved).toEqual({ fields: { f: 'v', g: 'w' }, ttlMs: 58_000, fieldTtlMs: { f: 8000, g: 58_000 }, ageMs: 2000 })
    await expect(a.readAll(key)).resolves.toBeUndefined()
    const skew = -3_600_000 // this node's clock is an hour behind
    receive(here, key, moved, now + skew)
    now += skew
    await expect(b.readAll(key)).resolves.toEqual({
      fields: { f: 'v', g: 'w' },
      expiresAt: { f: now + 8000, g: now + 58_000 },
      createdAt: now - 2000,
    })
    advance(8000)
    await expect(b.load(key, ['f', 'g'])).resolves.toMatchObject({ values: [undefined, 'w'] })
  })
})
