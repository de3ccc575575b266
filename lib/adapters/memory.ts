import type { CompareAndSetResult, RecordChange, StashAdapter, StashEviction } from '../adapter.js'
import { optionError, StashError, tooLargeError } from '../errors.js'
import { assertNotMoved } from './memory-moves.js'
import { resolvePeers, type MemoryPeers } from './memory-peer-options.js'
import { createPeerRecovery, type PeerRecovery } from './memory-peers.js'
import { MemoryTable, type MemoryRecord, type TableSettings } from './memory-table.js'
import type { PeerHandler } from './peer-http.js'

/** Options of {@link memoryAdapter}. Timers are in milliseconds. */
export interface MemoryAdapterOptions {
  /** Adapters with the same name in one process share their records. @default none: private records */
  name?: string
  /** Milliseconds between sweeps of expired records. @default 60000 */
  cleanupInterval?: number
  /** Records examined per sweep step; the sweep yields to the event loop between steps. @default 100 */
  cleanupBatchSize?: number
  /** Most records kept; beyond it the least recently used record is evicted. @default no limit */
  maxEntries?: number
  /**
   * Most stored bytes kept (UTF-8 field names and values, as `maxBytes` counts them, summed over
   * every record); beyond it the least recently used records are evicted, reported by the
   * stash's `'evicted'` event and `stats().evictions`. A write that would make one record larger
   * than this fails with `ERR_STASH_TOO_LARGE`. Per-record overhead (keys, maps) is not counted.
   * @default 67108864 (64 MiB)
   */
  maxMemory?: number
  /**
   * Cross-node recovery: the other nodes a missed record is moved from. `'cluster'` in workers of
   * `node:cluster` (with `clusterPrimary()` in the primary), or `{ self, urls }`: the peer endpoint
   * URLs of independent processes or hosts (serve `adapter.peerHandler` at `self`).
   * @default none: records stay on the node that wrote them
   */
  peers?: MemoryPeers
  /** Milliseconds a miss may spend asking the peers (with `peers`). @default 500 */
  peerTimeout?: number
}

const REGISTRY_KEY = Symbol.for('express-stash.memory-tables')
// Shared through globalThis so that CommonJS and ESM copies of the package see one registry.
const registry: Map<string, MemoryTable> =
  ((globalThis as Record<symbol, unknown>)[REGISTRY_KEY] as Map<string, MemoryTable>) ??
  ((globalThis as Record<symbol, unknown>)[REGISTRY_KEY] = new Map<string, MemoryTable>())

/** The memory adapter: also exposes `sweep()` (run a sweep now), `size` (records held) and `bytes`. */
export interface MemoryAdapter extends StashAdapter {
  /** Records currently held, expired ones not yet swept included. */
  readonly size: number
  /** Stored bytes currently held (what `maxMemory` limits), expired records not yet swept included. */
  readonly bytes: number
  /** Runs a sweep now (or joins the one running); resolves to the number of expired records removed. */
  sweep(): Promise<number>
  /** {@link StashAdapter.keys}, always implemented. */
  keys(match?: (recordKey: string) => boolean): AsyncIterable<string[]>
  /** {@link StashAdapter.clear}, always implemented. */
  clear(match?: (recordKey: string) => boolean): Promise<number>
  /** {@link StashAdapter.onEvict}: every eviction of the table, whichever adapter sharing it (`name`) wrote. */
  onEvict(listener: (eviction: StashEviction) => void): () => void
  /** Cross-node recovery, with `peers`. */
  readonly recovery?: PeerRecovery
  /**
   * With HTTP `peers`: the endpoint answering the other nodes' move requests, to serve at
   * `peers.self` (`app.use(path, adapter.peerHandler)` or `http.createServer(adapter.peerHandler)`).
   */
  readonly peerHandler?: PeerHandler
}

/**
 * The default adapter: records in this process's memory (the ETS analogue). Values are kept
 * serialized, so restored data is always a copy. Expired records are removed lazily on access
 * and by a periodic sweep that yields to the event loop; timers never keep the process alive.
 * Past `maxMemory` (64 MiB) of stored bytes, the least recently used records are evicted.
 *
 * @example
 * createStash({ adapter: memoryAdapter({ maxMemory: 256 * 1024 * 1024 }) })
 */
export function memoryAdapter(options: MemoryAdapterOptions = {}): MemoryAdapter {
  const settings = resolve(options)
  const peering = resolvePeers(options.peers, options.peerTimeout)
  const name = options.name
  let table = name === undefined ? undefined : registry.get(name)
  if (table !== undefined && JSON.stringify(table.settings) !== JSON.stringify(settings)) {
    throw optionError(
      'memoryAdapter.name',
      `unique, or used with the same options: "${name}" exists with ${JSON.stringify(table.settings)}`,
    )
  }
  if (table === undefined) {
    table = new MemoryTable(settings)
    if (name !== undefined) registry.set(name, table)
  }
  table.users++
  const records = table
  const recovery = peering === undefined ? undefined : createPeerRecovery(records, peering.link, peering.timeout)
  let closed = false
  const subscriptions = new Set<() => void>()

  const open = (): MemoryTable => {
    if (closed) throw new StashError('ERR_STASH_CLOSED', 'the memory adapter was closed')
    return records
  }
  const expiry = (record: MemoryRecord, ttl: number, now: number): void => {
    record.expiresAt = Math.max(record.expiresAt, now + ttl * 1000)
  }

  const adapter: MemoryAdapter = {
    kind: 'memory',
    get size() {
      return records.records.size
    },
    get bytes() {
      return records.bytes
    },
    async load(key, fields, ttl) {
      const now = Date.now()
      const record = open().get(key, now)
      if (record === undefined) return undefined
      if (ttl !== undefined) expiry(record, ttl, now)
      return fields.map((field) => record.fields.get(field))
    },
    async write(key, change) {
      const now = Date.now()
      assertNotMoved(open(), key, now)
      if (change.existing === true && records.get(key, now) === undefined) return 'gone'
      applyChange(records, key, change, now)
    },
    async compareAndSet(key, swap): Promise<CompareAndSetResult> {
      const now = Date.now()
      const table = open()
      assertNotMoved(table, key, now)
      const record = table.get(key, now)
      if (swap.existing === true && record === undefined) return { ok: false, current: undefined, gone: true }
      const current = record?.fields.get(swap.field)
      if (current !== swap.expected) return { ok: false, current }
      const { field, next, ttl, maxBytes, exact } = swap
      applyChange(
        table,
        key,
        { set: next === undefined ? {} : { [field]: next }, del: next === undefined ? [field] : [], ttl, maxBytes, exact },
        now,
      )
      return { ok: true }
    },
    async touch(key, ttl) {
      const now = Date.now()
      const record = open().get(key, now)
      if (record !== undefined) expiry(record, ttl, now)
      return record !== undefined
    },
    async readAll(key) {
      const record = open().get(key, Date.now())
      return record === undefined ? undefined : Object.fromEntries(record.fields)
    },
    async move(from, to, fields, ttl) {
      const table = open()
      if (table.get(from, Date.now()) === undefined) return 'gone'
      const map = new Map(Object.entries(fields))
      let bytes = 0
      for (const [field, value] of map) bytes += sizeOf(field, value)
      assertWithinBudget(table, bytes)
      table.records.delete(from)
      table.records.delete(to)
      if (map.size === 0) return
      table.set(to, { fields: map, bytes, expiresAt: Date.now() + ttl * 1000, used: 0 })
    },
    async delete(key) {
      open().records.delete(key)
    },
    async close() {
      if (closed) return
      closed = true
      for (const unsubscribe of subscriptions) unsubscribe()
      recovery?.close()
      if (--records.users > 0) return
      records.close()
      if (name !== undefined && registry.get(name) === records) registry.delete(name)
    },
    async sweep() {
      return open().sweep()
    },
    keys(match) {
      return open().keys(match)
    },
    async clear(match) {
      const table = open()
      let live = 0
      if (match !== undefined) {
        // Moved-away records keep their tombstones: the other node still holds them.
        for await (const batch of table.keys(match)) for (const key of batch) live += table.records.delete(key) ? 1 : 0
        return live
      }
      const now = Date.now()
      for (const [, record] of table.records) if (record.expiresAt > now) live++
      table.records.clear()
      table.tombstones.clear()
      return live
    },
    async ownerKeys(owner) {
      const keys: string[] = []
      for await (const batch of open().keys((key) => key.startsWith(`{${owner}}`))) keys.push(...batch)
      return keys
    },
    async deleteOwner(owner) {
      const table = open()
      const keys = await adapter.ownerKeys!(owner)
      for (const key of keys) table.records.delete(key)
      return keys.length
    },
    onEvict(listener: (eviction: StashEviction) => void) {
      const unsubscribe = open().onEvict(listener)
      subscriptions.add(unsubscribe)
      return () => {
        subscriptions.delete(unsubscribe)
        unsubscribe()
      }
    },
    ...(recovery === undefined ? {} : { recovery }),
    ...(peering?.handler === undefined ? {} : { peerHandler: peering.handler }),
  }
  return adapter
}

/** The default `maxMemory`: 64 MiB of stored bytes. */
const MAX_MEMORY = 64 * 1024 * 1024

function resolve(options: MemoryAdapterOptions): TableSettings {
  if (typeof options !== 'object' || options === null) throw optionError('memoryAdapter options', 'an object', options)
  const known = new Set(['name', 'cleanupInterval', 'cleanupBatchSize', 'maxEntries', 'maxMemory', 'peers', 'peerTimeout'])
  for (const key of Object.keys(options)) {
    if (!known.has(key)) throw new TypeError(`express-stash: unknown option \`memoryAdapter.${key}\``)
  }
  if (options.name !== undefined && (typeof options.name !== 'string' || options.name === '')) {
    throw optionError('memoryAdapter.name', 'a non-empty string', options.name)
  }
  const integer = (key: 'cleanupInterval' | 'cleanupBatchSize' | 'maxEntries' | 'maxMemory', fallback: number | undefined) => {
    const value = options[key]
    if (value === undefined) return fallback
    if (typeof value !== 'number' || !Number.isSafeInteger(value) || value <= 0)
      throw optionError(`memoryAdapter.${key}`, key === 'maxMemory' ? 'a positive integer of bytes' : 'a positive integer', value)
    return value
  }
  return {
    cleanupInterval: integer('cleanupInterval', 60_000)!,
    cleanupBatchSize: integer('cleanupBatchSize', 100)!,
    maxEntries: integer('maxEntries', undefined),
    maxMemory: integer('maxMemory', MAX_MEMORY)!,
  }
}

/** Applies a change set to one record, synchronously (so compare-and-set is atomic). */
function applyChange(table: MemoryTable, key: string, change: RecordChange, now: number): void {
  const current = table.get(key, now)
  const fields = new Map(current?.fields)
  let bytes = current?.bytes ?? 0
  for (const field of change.del) {
    bytes -= sizeOf(field, fields.get(field))
    fields.delete(field)
  }
  for (const [field, value] of Object.entries(change.set)) {
    bytes += sizeOf(field, value) - sizeOf(field, fields.get(field))
    fields.set(field, value)
  }
  if (change.maxBytes !== undefined && bytes > change.maxBytes) throw tooLargeError(bytes, change.maxBytes)
  assertWithinBudget(table, bytes)
  if (fields.size === 0) return void table.records.delete(key)
  const until = now + change.ttl * 1000 // with `exact` the expiry is the ttl even when shorter, else it only grows
  table.set(key, { fields, bytes, expiresAt: change.exact === true ? until : Math.max(current?.expiresAt ?? 0, until), used: 0 })
}

/** A record larger than the whole `maxMemory` would evict everything, itself included: refused. */
function assertWithinBudget(table: MemoryTable, bytes: number): void {
  const { maxMemory } = table.settings
  if (bytes <= maxMemory) return
  throw new StashError(
    'ERR_STASH_TOO_LARGE',
    `stash of ${bytes} bytes would exceed the memory adapter's maxMemory (${maxMemory}); nothing was written`,
  )
}

function sizeOf(field: string, value: string | undefined): number {
  return value === undefined ? 0 : Buffer.byteLength(field) + Buffer.byteLength(value)
}
