/**
 * The memory adapter's table: its records, their expiry sweep, and the budget (`maxMemory`,
 * `maxEntries`) kept by evicting the least recently used records. Several adapters with one
 * `name` share one table.
 * @module
 */
import { setImmediate as yieldToEventLoop } from 'node:timers/promises'
import type { StashEviction } from '../../store/adapter.js'
import { Tombstones } from './tombstones.js'
import { ShardedMap } from './sharded-map.js'

/** One field of a record: its value and when it expires. @internal */
export interface MemoryField {
  /** The serialized value. */
  readonly value: string
  /** When (`Date.now()`) the field expires. */
  readonly expiresAt: number
}

/** The fields of a record by name: a Map, or the only field of a record that has one. @internal */
export interface RecordFields extends Iterable<[string, MemoryField]> {
  /** How many fields (expired ones not yet dropped included). */
  readonly size: number
  /** The field `name`, live or expired. */
  get(name: string): MemoryField | undefined
}

/**
 * The only field of a record, which is also the record's table of fields. Most records hold
 * one stored key, and a Map plus an object for its field cost about 175 heap bytes more than
 * this one object (bench/memory-sweep.ts: 486 heap bytes per one-field record against 310).
 */
class OnlyField implements MemoryField, RecordFields {
  constructor(
    readonly name: string,
    readonly value: string,
    readonly expiresAt: number,
  ) {}

  get size(): number {
    return 1
  }

  get(name: string): MemoryField | undefined {
    return name === this.name ? this : undefined
  }

  *[Symbol.iterator](): Iterator<[string, MemoryField]> {
    yield [this.name, this]
  }
}

/**
 * One record of the table. A record is replaced, never changed, by a write: its fields and
 * bytes are fixed while it is in the table (a field that expires stays, absent to every read,
 * until the next write of the record drops it).
 * @internal
 */
export interface MemoryRecord {
  /** Field name → value and expiry. */
  readonly fields: RecordFields
  /** When (`Date.now()`) the record was created. */
  readonly createdAt: number
  /** When (`Date.now()`) its last field expires, and so the record. */
  readonly expiresAt: number
  /** UTF-8 bytes of the field names and values. */
  readonly bytes: number
  /** Least-recently-used stamp, kept by the table. */
  used: number
}

/** UTF-8 bytes of one stored field (name and value), as `maxBytes` and `maxMemory` count them. */
function fieldSize(field: string, value: string): number {
  return Buffer.byteLength(field) + Buffer.byteLength(value)
}

/**
 * The record to store for `fields` (those expired at `now` are dropped from the map), with its
 * expiry and bytes; `undefined` when no field is live.
 * @internal
 */
export function recordOf(fields: Map<string, MemoryField>, createdAt: number, now: number): MemoryRecord | undefined {
  let bytes = 0
  let expiresAt = now
  for (const [name, field] of fields) {
    if (field.expiresAt <= now) fields.delete(name)
    else {
      bytes += fieldSize(name, field.value)
      expiresAt = Math.max(expiresAt, field.expiresAt)
    }
  }
  if (fields.size === 0) return undefined
  return { fields: fields.size === 1 ? onlyFieldOf(fields) : fields, createdAt, expiresAt, bytes, used: 0 }
}

/** The one field of `fields` as a record's table of fields (the same object when it is one already). */
function onlyFieldOf(fields: Map<string, MemoryField>): OnlyField {
  const [name, field] = fields.entries().next().value as [string, MemoryField]
  return field instanceof OnlyField && field.name === name ? field : new OnlyField(name, field.value, field.expiresAt)
}

/** The fields of `record` still live at `now`. @internal */
export function liveFields(record: MemoryRecord, now: number): [string, MemoryField][] {
  return [...record.fields].filter(([, field]) => field.expiresAt > now)
}

/** The fields of a record to store, from plain objects of values and of their expiries (one per value). @internal */
export function fieldsOf(
  values: Readonly<Record<string, string>>,
  expiresAt: Readonly<Record<string, number>>,
): Map<string, MemoryField> {
  const fields = new Map<string, MemoryField>()
  for (const [name, value] of Object.entries(values)) fields.set(name, { value, expiresAt: expiryOf(expiresAt, name) })
  return fields
}

/** The expiry `expiresAt` gives `field`, which the caller stores: a TypeError when it gives none. @internal */
export function expiryOf(expiresAt: Readonly<Record<string, number>>, field: string): number {
  const until = Object.hasOwn(expiresAt, field) ? expiresAt[field] : undefined
  if (typeof until !== 'number') throw new TypeError(`express-stash: field "${field}" is stored without its expiry (expiresAt)`)
  return until
}

/** The resolved options a table works with. @internal */
export interface TableSettings {
  /** The `cleanupInterval` option, in milliseconds. */
  cleanupInterval: number
  /** The `cleanupBatchSize` option. */
  cleanupBatchSize: number
  /** The `maxEntries` option: `undefined` for no limit. */
  maxEntries: number | undefined
  /** The `maxMemory` option, in bytes. */
  maxMemory: number
}

/** Above this share of `maxMemory`, reads keep the exact least-recently-used order. */
const EXACT_ORDER_ABOVE = 0.8

/**
 * One table of records, possibly shared by several adapters through `name`.
 *
 * Eviction order: writes always move a record to the newest place. A read moves it too (a
 * Map delete and set) only while the order matters: always with `maxEntries`, and once the
 * stored bytes pass 80 % of `maxMemory`. Below that, nothing can be evicted before the table
 * has grown by a fifth of its budget, and reads cost no more than a lookup.
 * @internal
 */
export class MemoryTable {
  /** The records, by record key. */
  readonly records = new ShardedMap<MemoryRecord>()
  /** Records moved to another node (cross-node recovery), refusing stale writes. */
  readonly tombstones = new Tombstones()
  /** Adapters open on this table; the last one to close closes it. */
  users = 0
  private readonly listeners = new Set<(eviction: StashEviction) => void>()
  /** Stored bytes above which reads refresh a record's place; -1 (always) with `maxEntries`. */
  private readonly orderedAbove: number
  private sweeping: Promise<number> | undefined
  private readonly timer: NodeJS.Timeout

  constructor(readonly settings: TableSettings) {
    this.orderedAbove = settings.maxEntries === undefined ? Math.floor(settings.maxMemory * EXACT_ORDER_ABOVE) : -1
    this.timer = setInterval(() => void this.sweep(), settings.cleanupInterval)
    this.timer.unref()
  }

  /** Stored bytes held (field names and values), expired records and fields not yet dropped included. */
  get bytes(): number {
    return this.records.bytes
  }

  /** The live record under `key`, refreshed in the LRU order near the budget; expired records are dropped. */
  get(key: string, now: number): MemoryRecord | undefined {
    const record = this.records.get(key)
    if (record === undefined) return undefined
    if (record.expiresAt <= now) {
      this.records.delete(key)
      return undefined
    }
    if (this.records.bytes > this.orderedAbove) this.records.refresh(key, record)
    return record
  }

  /** Stores a record, then evicts the least recently used ones beyond `maxMemory` or `maxEntries`. */
  set(key: string, record: MemoryRecord): void {
    this.records.set(key, record)
    if (this.overBudget()) this.evict()
  }

  /**
   * Subscribes to evictions: `listener` gets each eviction pass (the records of one write), for
   * every adapter sharing this table. Returns the unsubscribe function.
   */
  onEvict(listener: (eviction: StashEviction) => void): () => void {
    const subscribed = (eviction: StashEviction) => listener(eviction) // one entry per subscription
    this.listeners.add(subscribed)
    return () => void this.listeners.delete(subscribed)
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

  /** Stops the sweep timer and drops the eviction listeners. */
  close(): void {
    clearInterval(this.timer)
    this.listeners.clear()
  }

  private overBudget(): boolean {
    const { maxMemory, maxEntries } = this.settings
    return this.records.bytes > maxMemory || (maxEntries !== undefined && this.records.size > maxEntries)
  }

  /** Deletes the least recently used records until the table is within budget, and announces them. */
  private evict(): void {
    const now = Date.now()
    let records = 0
    let bytes = 0
    while (this.overBudget()) {
      const key = this.records.oldest()!
      const record = this.records.get(key)!
      this.records.delete(key)
      if (record.expiresAt <= now) continue // already expired: not an eviction
      records++
      bytes += record.bytes
    }
    if (records === 0) return
    const eviction = Object.freeze({ records, bytes })
    for (const listener of this.listeners) {
      try {
        listener(eviction)
      } catch (err) {
        // The write that caused the eviction has happened: a failing listener must not fail it.
        queueMicrotask(() => {
          throw err
        })
      }
    }
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
}
