import { StashError } from '../errors.js'
import type { MemoryTable } from './memory-table.js'

/** A record in transit between nodes: its fields, and the milliseconds it has left to live. */
export interface MovedRecord {
  readonly fields: Readonly<Record<string, string>>
  readonly ttlMs: number
}

/**
 * Record keys that moved to another node, each until the moment the record would have expired.
 * While a key is here, writes to it are refused: a request that loaded the record before the
 * move cannot write a stale copy back on this node.
 */
export class Tombstones {
  private readonly until = new Map<string, number>()

  add(key: string, until: number): void {
    this.until.set(key, until)
  }

  /** Whether `key` moved away and its tombstone is still alive. */
  has(key: string, now: number): boolean {
    const until = this.until.get(key)
    if (until === undefined) return false
    if (until > now) return true
    this.until.delete(key)
    return false
  }

  delete(key: string): void {
    this.until.delete(key)
  }

  /** Drops the tombstones that outlived their record. */
  sweep(now: number): void {
    for (const [key, until] of this.until) if (until <= now) this.until.delete(key)
  }

  clear(): void {
    this.until.clear()
  }
}

/**
 * Takes record `key` out of the table for another node, leaving a tombstone, in one synchronous
 * step: two nodes asking at once cannot both get it. `undefined` when the record is not here.
 */
export function handOver(table: MemoryTable, key: string, now: number): MovedRecord | undefined {
  const record = table.get(key, now)
  if (record === undefined) return undefined
  table.records.delete(key)
  table.tombstones.add(key, record.expiresAt)
  return { fields: Object.fromEntries(record.fields), ttlMs: record.expiresAt - now }
}

/** Stores a record moved here from another node (unless a live one is already here). */
export function receive(table: MemoryTable, key: string, moved: MovedRecord, now: number): void {
  table.tombstones.delete(key)
  if (table.get(key, now) !== undefined) return
  const fields = new Map(Object.entries(moved.fields))
  let bytes = 0
  for (const [field, value] of fields) bytes += Buffer.byteLength(field) + Buffer.byteLength(value)
  table.set(key, { fields, bytes, expiresAt: now + moved.ttlMs, used: 0 })
}

/** Refuses a write to a record that moved to another node while the request held it. */
export function assertNotMoved(table: MemoryTable, key: string, now: number): void {
  if (!table.tombstones.has(key, now)) return
  throw new StashError(
    'ERR_STASH_MOVED',
    'the stash moved to another node while this request held it; its write was refused so no stale copy is left here',
    { status: 409 },
  )
}
