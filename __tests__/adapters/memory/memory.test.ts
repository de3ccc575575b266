import { spawnSync } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { existsSync } from 'node:fs'
import { resolve } from 'node:path'
import { memoryAdapter, type MemoryAdapter, type MemoryAdapterOptions } from '../../../lib/index.js'
import { runAdapterContract } from '../../../lib/testing/index.js'
import { expectStashError, randomKey, sleep } from '../../../lib/testing/helpers.js'

const jestGlobals = { describe, test, beforeAll, afterAll }

runAdapterContract(jestGlobals, 'memory', () => memoryAdapter())

const TTL = 60
const uniqueName = () => 'memory-test-' + randomBytes(6).toString('hex')
/** A change setting field `f` to `v` for `ttl` seconds. */
const value = (v: string, ttl = TTL) => ({ set: { f: v }, del: [], expiresAt: { f: Date.now() + ttl * 1000 } })
/** The values `load` gives, or undefined. */
const valuesOf = async (adapter: MemoryAdapter, key: string, fields = ['f']) => (await adapter.load(key, fields))?.values
/** The fields `readAll` gives, or undefined. */
const fieldsOf = async (adapter: MemoryAdapter, key: string) => (await adapter.readAll(key))?.fields

/** Polls `condition` every 5 ms; resolves to the milliseconds it took, or throws after `timeout`. */
async function waitFor(condition: () => boolean, timeout: number): Promise<number> {
  const start = Date.now()
  while (!condition()) {
    if (Date.now() - start > timeout) throw new Error(`condition not met within ${timeout} ms`)
    await sleep(5)
  }
  return Date.now() - start
}

describe('memoryAdapter: name sharing', () => {
  test('adapters with the same name share records; other names and unnamed adapters do not', async () => {
    const name = uniqueName()
    const a = memoryAdapter({ name })
    const b = memoryAdapter({ name, cleanupInterval: 60_000 }) // the default, spelled out: same options
    const other = memoryAdapter({ name: uniqueName() })
    const unnamed1 = memoryAdapter()
    const unnamed2 = memoryAdapter()
    const key = randomKey()
    try {
      await a.write(key, value('from a'))
      await expect(valuesOf(b, key)).resolves.toEqual(['from a'])
      await b.write(key, value('from b'))
      await expect(fieldsOf(a, key)).resolves.toEqual({ f: 'from b' })
      await expect(valuesOf(other, key)).resolves.toBeUndefined()
      await unnamed1.write(key, value('private'))
      await expect(valuesOf(unnamed2, key)).resolves.toBeUndefined()
      await expect(valuesOf(a, key)).resolves.toEqual(['from b'])
    } finally {
      await Promise.all([a, b, other, unnamed1, unnamed2].map((adapter) => adapter.close()))
    }
  })

  test('the same name with different options is a TypeError', async () => {
    const name = uniqueName()
    const a = memoryAdapter({ name, maxEntries: 10 })
    try {
      for (const options of [
        { name },
        { name, maxEntries: 11 },
        { name, maxEntries: 10, cleanupBatchSize: 7 },
        { name, maxEntries: 10, maxMemory: 1000 },
      ]) {
        expect(() => memoryAdapter(options)).toThrow(TypeError)
        expect(() => memoryAdapter(options)).toThrow(/^express-stash: .*memoryAdapter\.name/)
      }
      const same = memoryAdapter({ maxEntries: 10, name })
      await same.close()
    } finally {
      await a.close()
    }
  })

  test('closing one adapter keeps the others working; once all are closed the name starts empty', async () => {
    const name = uniqueName()
    const a = memoryAdapter({ name })
    const b = memoryAdapter({ name })
    const key = randomKey()
    await a.write(key, value('1'))
    await a.close()
    await a.close() // a second close must not release b's share
    await expectStashError(a.load(key, ['f']), 'ERR_STASH_CLOSED')
    await expect(valuesOf(b, key)).resolves.toEqual(['1'])
    await b.write(key, value('2'))
    await expect(fieldsOf(b, key)).resolves.toEqual({ f: '2' })
    const late = memoryAdapter({ name }) // joins b's records: the name is still in use
    await expect(fieldsOf(late, key)).resolves.toEqual({ f: '2' })
    await Promise.all([b.close(), late.close()])

    const c = memoryAdapter({ name, maxEntries: 5 }) // different options are fine: the old table is gone
    try {
      expect(c.size).toBe(0)
      await expect(valuesOf(c, key)).resolves.toBeUndefined()
    } finally {
      await c.close()
    }
  })
})

describe('memoryAdapter: maxEntries', () => {
  test('evicts the least recently used record; loads and writes count as use', async () => {
    const adapter = memoryAdapter({ maxEntries: 3 })
    const [k1, k2, k3, k4, k5] = Array.from({ length: 5 }, randomKey) as [string, string, string, string, string]
    try {
      await adapter.write(k1, value('1'))
      await adapter.write(k2, value('2'))
      await adapter.write(k3, value('3'))
      await expect(valuesOf(adapter, k1)).resolves.toEqual(['1']) // k2 is now the least recently used
      await adapter.write(k4, value('4'))
      expect(adapter.size).toBe(3)
      await expect(valuesOf(adapter, k2)).resolves.toBeUndefined()
      await expect(valuesOf(adapter, k3)).resolves.toEqual(['3'])
      await expect(valuesOf(adapter, k1)).resolves.toEqual(['1'])
      await expect(valuesOf(adapter, k4)).resolves.toEqual(['4'])
      // Order of use is now k3, k1, k4; updating k3 makes k1 the least recently used.
      await adapter.write(k3, value('3b'))
      await adapter.write(k5, value('5'))
      expect(adapter.size).toBe(3)
      await expect(valuesOf(adapter, k1)).resolves.toBeUndefined()
      for (const [key, v] of [
        [k4, '4'],
        [k3, '3b'],
        [k5, '5'],
      ] as const)
        await expect(valuesOf(adapter, key)).resolves.toEqual([v])
    } finally {
      await adapter.close()
    }
  })
})

describe('memoryAdapter: sweep', () => {
  test('sweep() removes expired records and resolves to their count', async () => {
    const adapter = memoryAdapter()
    try {
      for (let i = 0; i < 5; i++) await adapter.write(randomKey(), value('short', 1))
      const kept = [randomKey(), randomKey(), randomKey()]
      for (const key of kept) await adapter.write(key, value('long'))
      await sleep(1100)
      expect(adapter.size).toBe(8) // expired records are held until swept or accessed
      await expect(adapter.sweep()).resolves.toBe(5)
      expect(adapter.size).toBe(3)
      await expect(adapter.sweep()).resolves.toBe(0)
      for (const key of kept) await expect(valuesOf(adapter, key)).resolves.toEqual(['long'])
    } finally {
      await adapter.close()
    }
  })

  test('a sweep of 20,000 expired records yields to the event loop between batches', async () => {
    const adapter = memoryAdapter({ cleanupBatchSize: 100 })
    try {
      for (let i = 0; i < 20_000; i++) await adapter.write(`sweep-${i}`, value('x', 1))
      await sleep(1100)
      let turns = 0
      let sweeping = true
      const count = () => {
        if (!sweeping) return
        turns++
        setImmediate(count)
      }
      setImmediate(count)
      const removed = await adapter.sweep()
      sweeping = false
      expect(removed).toBe(20_000)
      expect(adapter.size).toBe(0)
      expect(turns).toBeGreaterThanOrEqual(150) // 200 batches: about one event-loop turn each
    } finally {
      await adapter.close()
    }
  })

  test('the periodic sweep runs every cleanupInterval', async () => {
    const adapter = memoryAdapter({ cleanupInterval: 50 })
    try {
      await adapter.write(randomKey(), value('x', 1))
      await adapter.write(randomKey(), value('x', 2))
      expect(adapter.size).toBe(2)
      // Nothing reads the records, so only the timer's sweep can shrink `size`.
      const first = await waitFor(() => adapter.size === 1, 3000)
      expect(first).toBeGreaterThanOrEqual(900)
      expect(first).toBeLessThan(1400)
      const second = first + (await waitFor(() => adapter.size === 0, 3000))
      expect(second).toBeGreaterThanOrEqual(1900)
      expect(second).toBeLessThan(2400)
    } finally {
      await adapter.close()
    }
  })

  test('its timers never keep the process alive', () => {
    const dist = resolve(__dirname, '../../../dist/cjs/index.js')
    expect(existsSync(dist)).toBe(true) // built by `npm test` (npm run build)
    const script = `
      const { memoryAdapter } = require(${JSON.stringify(dist)})
      memoryAdapter({ cleanupInterval: 60000 })
      memoryAdapter({ name: 'shared', cleanupInterval: 60000 })
      const adapter = memoryAdapter({ cleanupInterval: 60000, maxEntries: 10 })
      adapter.write('k', { set: { f: 'v' }, del: [], expiresAt: { f: Date.now() + 3600000 } })
        .then(() => adapter.load('k', ['f']))
        .then((loaded) => { if (loaded.values[0] !== 'v') process.exit(3); console.log('done') })`
    const started = Date.now()
    const child = spawnSync(process.execPath, ['-e', script], { timeout: 5000, encoding: 'utf8' })
    expect({ status: child.status, signal: child.signal, stderr: child.stderr, stdout: child.stdout.trim() }).toEqual({
      status: 0,
      signal: null,
      stderr: '',
      stdout: 'done',
    })
    expect(Date.now() - started).toBeLessThan(4000)
  })
})

describe('memoryAdapter: options', () => {
  const invalid: [string, unknown, string][] = [
    ['an unknown option', { cleanupIntervall: 100 }, 'memoryAdapter.cleanupIntervall'],
    ['a zero cleanupInterval', { cleanupInterval: 0 }, 'memoryAdapter.cleanupInterval'],
    ['a negative cleanupInterval', { cleanupInterval: -5 }, 'memoryAdapter.cleanupInterval'],
    ['a fractional cleanupInterval', { cleanupInterval: 1.5 }, 'memoryAdapter.cleanupInterval'],
    ['a NaN cleanupInterval', { cleanupInterval: NaN }, 'memoryAdapter.cleanupInterval'],
    ['an infinite cleanupInterval', { cleanupInterval: Infinity }, 'memoryAdapter.cleanupInterval'],
    ['a string cleanupInterval', { cleanupInterval: '100' }, 'memoryAdapter.cleanupInterval'],
    ['a zero cleanupBatchSize', { cleanupBatchSize: 0 }, 'memoryAdapter.cleanupBatchSize'],
    ['a fractional cleanupBatchSize', { cleanupBatchSize: 2.5 }, 'memoryAdapter.cleanupBatchSize'],
    ['a negative maxEntries', { maxEntries: -1 }, 'memoryAdapter.maxEntries'],
    ['a zero maxEntries', { maxEntries: 0 }, 'memoryAdapter.maxEntries'],
    ['a fractional maxEntries', { maxEntries: 0.5 }, 'memoryAdapter.maxEntries'],
    ['a zero maxMemory', { maxMemory: 0 }, 'memoryAdapter.maxMemory'],
    ['a negative maxMemory', { maxMemory: -1024 }, 'memoryAdapter.maxMemory'],
    ['a fractional maxMemory', { maxMemory: 1.5 }, 'memoryAdapter.maxMemory'],
    ['a string maxMemory', { maxMemory: '64mb' }, 'memoryAdapter.maxMemory'],
    ['an infinite maxMemory', { maxMemory: Infinity }, 'memoryAdapter.maxMemory'],
    ['an empty name', { name: '' }, 'memoryAdapter.name'],
    ['a non-string name', { name: 42 }, 'memoryAdapter.name'],
  ]

  test.each(invalid)('%s is a TypeError naming the option', (_label, options, option) => {
    const create = () => memoryAdapter(options as MemoryAdapterOptions)
    expect(create).toThrow(TypeError)
    let message = ''
    try {
      create()
    } catch (err) {
      message = (err as Error).message
    }
    expect(message.startsWith('express-stash:')).toBe(true)
    expect(message).toContain(option)
    if (option === 'memoryAdapter.maxMemory') expect(message).toContain('a positive integer of bytes')
  })

  test('valid options are accepted', async () => {
    const adapter = memoryAdapter({ name: uniqueName(), cleanupInterval: 1, cleanupBatchSize: 1, maxEntries: 1, maxMemory: 1024 })
    await adapter.write(randomKey(), value('1'))
    expect(adapter.size).toBe(1)
    await adapter.close()
  })
})

describe('memoryAdapter: close', () => {
  test('every later call rejects with ERR_STASH_CLOSED; close() stays safe', async () => {
    const adapter: MemoryAdapter = memoryAdapter()
    const key = randomKey()
    await adapter.write(key, value('1'))
    await adapter.close()
    const calls: (() => Promise<unknown>)[] = [
      () => adapter.load(key, ['f']),
      () => adapter.write(key, value('2')),
      () => adapter.write(key, { set: {}, del: [], expiresAt: {}, existing: true }),
      () => adapter.compareAndSet(key, { field: 'f', expected: '1', next: '2', expiresAt: value('2').expiresAt }),
      () => adapter.readAll(key),
      () => adapter.move(key, randomKey(), { fields: { f: '1' }, expiresAt: value('1').expiresAt, createdAt: undefined }),
      () => adapter.delete(key),
      () => adapter.sweep(),
    ]
    for (const call of calls) await expectStashError(call(), 'ERR_STASH_CLOSED')
    await expect(adapter.close()).resolves.toBeUndefined()
  })
})

describe('memoryAdapter: records of one field and of several', () => {
  test('a record that grows from one field to two and back keeps each value and expiry', async () => {
    const adapter = memoryAdapter()
    const key = randomKey()
    const soon = Date.now() + 60_000
    const later = Date.now() + 120_000
    await adapter.write(key, { set: { a: '1' }, del: [], expiresAt: { a: soon } })
    expect(await adapter.load(key, ['a', 'b'])).toMatchObject({ values: ['1', undefined], expiresAt: [soon, undefined] })
    expect(await adapter.compareAndSet(key, { field: 'a', expected: '0', next: '2', expiresAt: { a: soon } })).toEqual({
      ok: false,
      current: '1',
    })
    await adapter.write(key, { set: { b: '2' }, del: [], expiresAt: { b: later } })
    expect(await fieldsOf(adapter, key)).toEqual({ a: '1', b: '2' })
    await adapter.write(key, { set: {}, del: ['a'], expiresAt: {} })
    expect(await adapter.load(key, ['a', 'b'])).toMatchObject({ values: [undefined, '2'], expiresAt: [undefined, later] })
    expect(await adapter.compareAndSet(key, { field: 'b', expected: '2', next: '3', expiresAt: { b: later } })).toEqual({
      ok: true,
    })
    expect(await adapter.readAll(key)).toMatchObject({ fields: { b: '3' }, expiresAt: { b: later } })
    await adapter.write(key, { set: {}, del: [], expiresAt: { b: Date.now() + 40 } }) // the only field, cut short
    await sleep(60)
    expect(await adapter.load(key, ['b'])).toBeUndefined()
    await adapter.close()
  })
})
