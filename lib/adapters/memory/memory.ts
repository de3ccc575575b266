/**
 * `memoryAdapter()`: the default adapter, records in this process's memory. This file holds its
 * options, the registry of named (shared) tables, and the assembly of the adapter from its
 * record operations (memory-records.ts), admin operations (memory-admin.ts) and, with `peers`,
 * cross-node recovery (memory-peers.ts).
 * @module
 */
import type { StashAdapter, StashEviction } from '../../store/adapter.js'
import { optionError, StashError } from '../../errors.js'
import { resolvePeers, type MemoryPeers } from '../../peers/peer-options.js'
import type { PeerHandler } from '../../peers/peer-http.js'
import { adminOperations } from './memory-admin.js'
import { createPeerRecovery, type PeerRecovery } from './memory-peers.js'
import { recordOperations } from './memory-records.js'
import { MemoryTable, type TableSettings } from './memory-table.js'

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
  /** Stored bytes currently held (what `maxMemory` limits), expired records not yet swept and expired fields not yet rewritten included. */
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
 * serialized, so restored data is always a copy. Each field expires on its own: an expired field
 * is absent at once and removed by the next write of its record; a record whose last field has
 * expired is removed on access and by a periodic sweep that yields to the event loop. Timers never
 * keep the process alive.
 * Past `maxMemory` (64 MiB) of stored bytes, the least recently used records are evicted.
 *
 * @example
 * createStash({ adapter: memoryAdapter({ maxMemory: 256 * 1024 * 1024 }) })
 */
export function memoryAdapter(options: MemoryAdapterOptions = {}): MemoryAdapter {
  const settings = resolve(options)
  const peering = resolvePeers(options.peers, options.peerTimeout)
  const name = options.name
  const table = acquireTable(name, settings)
  const recovery = peering === undefined ? undefined : createPeerRecovery(table, peering.link, peering.timeout)
  let closed = false
  const subscriptions = new Set<() => void>()
  const open = (): MemoryTable => {
    if (closed) throw new StashError('ERR_STASH_CLOSED', 'the memory adapter was closed')
    return table
  }

  return {
    kind: 'memory',
    inProcess: true,
    get size() {
      return table.records.size
    },
    get bytes() {
      return table.bytes
    },
    ...recordOperations(open),
    async close() {
      if (closed) return
      closed = true
      for (const unsubscribe of subscriptions) unsubscribe()
      recovery?.close()
      releaseTable(name, table)
    },
    ...adminOperations(open),
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
}

/**
 * The table of a new adapter: the one registered under `name` (which must have the same
 * settings), else a new one, registered when named. Counts the adapter among its users.
 */
function acquireTable(name: string | undefined, settings: TableSettings): MemoryTable {
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
  return table
}

/** Drops a closing adapter from the users of its table; the last one closes and unregisters it. */
function releaseTable(name: string | undefined, table: MemoryTable): void {
  if (--table.users > 0) return
  table.close()
  if (name !== undefined && registry.get(name) === table) registry.delete(name)
}

/** The default `maxMemory`: 64 MiB of stored bytes. */
const MAX_MEMORY = 64 * 1024 * 1024

/** Validates the options and fills in the defaults of the table settings. */
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
