import { setImmediate as yieldToEventLoop } from 'node:timers/promises'
import type { CompareAndSetResult, RecordChange, StashAdapter } from '../adapter.js'
import { optionError, StashError, tooLargeError } from '../errors.js'
import { assertNotMoved, Tombstones } from './memory-moves.js'
import { resolvePeers, type MemoryPeers } from './memory-peer-options.js'
import { createPeerRecovery, type PeerRecovery } from './memory-peers.js'
import type { PeerHandler } from './peer-http.js'
import { ShardedMap } from './sharded-map.js'

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
   * Cross-node recovery: the other nodes a missed record is moved from. `'cluster'` in workers of
   * `node:cluster` (with `clusterPrimary()` in the primary), or `{ self, urls }`: the peer endpoint
   * URLs of independent processes or hosts (serve `adapter.peerHandler` at `self`).
   * @default none: records stay on the node that wrote them
   */
  peers?: MemoryPeers
  /** Milliseconds a miss may spend asking the peers (with `peers`). @default 500 */
  peerTimeout?: number
}

/** @internal */
export interface MemoryRecord {
  readonly fields: Map<string, string>
  expiresAt: number
  bytes: number
  /** Least-recently-used stamp, kept by the table. */
  used: number
}

/** One table of records, possibly shared by several adapters through `name`. @internal */
export class MemoryTable {
  readonly records = new ShardedMap<MemoryRecord>()
  /** Records moved to another node (cross-node recovery), refusing stale writes. */
  readonly tombstones = new Tombstones()
  users = 0
  private sweeping: Promise<number> | undefined
  private readonly timer: NodeJS.Timeout

  constructor(
    readonly settings: Required<Omit<MemoryAdapterOptions, 'name' | 'maxEntries' | 'peers' | 'peerTimeout'>> & {
      maxEntries: number | undefined
    },
  ) {
    this.timer = setInterval(() => void this.sweep(), settings.cleanupInterval)
    this.timer.unref()
  }

  /** The live record under `key`, refreshed in the LRU order; expired records are dropped. */
  get(key: string, now: number): MemoryRecord | undefined {
    const record = this.records.get(key)
    if (record === undefined) return undefined
    if (record.expiresAt <= now) {
      this.records.delete(key)
      return undefined
    }
    if (this.settings.maxEntries !== undefined) this.records.refresh(key, record)
    return record
  }

  /** Stores a record, evicting the least recently used ones beyond `maxEntries`. */
  set(key: string, record: MemoryRecord): void {
    this.records.set(key, record)
    const max = this.settings.maxEntries
    while (max !== undefined && this.records.size > max) this.records.delete(this.records.oldest()!)
  }

  /** Live record keys in batches of `cleanupBatchSize`, yielding to the event loop in between. */
  async *keys(filter: (key: string) => boolean = () => true): AsyncGenerator<string[]> {
    let batch: string[] = []
    let examined = 0
    for (const [key, record] of this.records) {
      if (record.expiresAt > Date.now() && filter(key)) batch.push(key)
      if (++examined % this.settings.cleanupBatchSize === 0) {
        if (batch.length > 0) yield batch
        batch = []
        await yieldToEventLoop()
      }
    }
    if (batch.length > 0) yield batch
  }

  /** Removes expired records, `cleanupBatchSize` examined per step, yielding in between. */
  sweep(): Promise<number> {
    this.sweeping ??= this.sweepAll().finally(() => (this.sweeping = undefined))
    return this.sweeping
  }

  private async sweepAll(): Promise<number> {
    let removed = 0
    let examined = 0
    let now = Date.now()
    for (const [key, record] of this.records) {
      if (record.expiresAt <= now) {
        this.records.delete(key)
        removed++
      }
      if (++examined % this.settings.cleanupBatchSize === 0) {
        await yieldToEventLoop()
        now = Date.now()
      }
    }
    this.tombstones.sweep(now)
    return removed
  }

  close(): void {
    clearInterval(this.timer)
  }
}

const REGISTRY_KEY = Symbol.for('express-stash.memory-tables')
// Shared through globalThis so that CommonJS and ESM copies of the package see one registry.
const registry: Map<string, MemoryTable> =
  ((globalThis as Record<symbol, unknown>)[REGISTRY_KEY] as Map<string, MemoryTable>) ??
  ((globalThis as Record<symbol, unknown>)[REGISTRY_KEY] = new Map<string, MemoryTable>())

/** The memory adapter: also exposes `sweep()` (run a sweep now) and `size` (records held). */
export interface MemoryAdapter extends StashAdapter {
  /** Records currently held, expired ones not yet swept included. */
  readonly size: number
  /** Runs a sweep now (or joins the one running); resolves to the number of expired records removed. */
  sweep(): Promise<number>
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
 *
 * @example
 * createStash({ adapter: memoryAdapter({ maxEntries: 100_000 }) })
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
      table.records.delete(from)
      table.records.delete(to)
      const map = new Map(Object.entries(fields))
      if (map.size === 0) return
      let bytes = 0
      for (const [field, value] of map) bytes += sizeOf(field, value)
      table.set(to, { fields: map, bytes, expiresAt: Date.now() + ttl * 1000, used: 0 })
    },
    async delete(key) {
      open().records.delete(key)
    },
    async close() {
      if (closed) return
      closed = true
      recovery?.close()
      if (--records.users > 0) return
      records.close()
      if (name !== undefined && registry.get(name) === records) registry.delete(name)
    },
    async sweep() {
      return open().sweep()
    },
    keys() {
      return open().keys()
    },
    async clear() {
      const table = open()
      const now = Date.now()
      let live = 0
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
    ...(recovery === undefined ? {} : { recovery }),
    ...(peering?.handler === undefined ? {} : { peerHandler: peering.handler }),
  }
  return adapter
}

function resolve(options: MemoryAdapterOptions): MemoryTable['settings'] {
  if (typeof options !== 'object' || options === null) throw optionError('memoryAdapter options', 'an object', options)
  const known = new Set(['name', 'cleanupInterval', 'cleanupBatchSize', 'maxEntries', 'peers', 'peerTimeout'])
  for (const key of Object.keys(options)) {
    if (!known.has(key)) throw new TypeError(`express-stash: unknown option \`memoryAdapter.${key}\``)
  }
  if (options.name !== undefined && (typeof options.name !== 'string' || options.name === '')) {
    throw optionError('memoryAdapter.name', 'a non-empty string', options.name)
  }
  const integer = (key: 'cleanupInterval' | 'cleanupBatchSize' | 'maxEntries', fallback: number | undefined) => {
    const value = options[key]
    if (value === undefined) return fallback
    if (typeof value !== 'number' || !Number.isSafeInteger(value) || value <= 0)
      throw optionError(`memoryAdapter.${key}`, 'a positive integer', value)
    return value
  }
  return {
    cleanupInterval: integer('cleanupInterval', 60_000)!,
    cleanupBatchSize: integer('cleanupBatchSize', 100)!,
    maxEntries: integer('maxEntries', undefined),
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
  if (fields.size === 0) return void table.records.delete(key)
  const until = now + change.ttl * 1000 // with `exact` the expiry is the ttl even when shorter, else it only grows
  table.set(key, { fields, bytes, expiresAt: change.exact === true ? until : Math.max(current?.expiresAt ?? 0, until), used: 0 })
}

function sizeOf(field: string, value: string | undefined): number {
  return value === undefined ? 0 : Buffer.byteLength(field) + Buffer.byteLength(value)
}
