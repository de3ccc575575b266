/**
 * The table side of a cross-node move: handing a record over, receiving one, and refusing
 * writes to a record that moved away.
 * @module
 */
import { StashError } from '../../errors.js'
import type { MovedRecord } from '../../peers/peer-protocol.js'
import { fieldsOf, liveFields, recordOf, type MemoryTable } from './memory-table.js'

/**
 * Takes record `key` out of the table for another node, leaving a tombstone, in one synchronous
 * step: two nodes asking at once cannot both get it. `undefined` when the record is not here.
 * Times travel relative to `now` (milliseconds left, age), since the nodes' clocks differ.
 */
export function handOver(table: MemoryTable, key: string, now: number): MovedRecord | undefined {
  const record = table.get(key, now)
  if (record === undefined) return undefined
  table.records.delete(key)
  table.tombstones.add(key, record.expiresAt)
  const fields: Record<string, string> = {}
  const fieldTtlMs: Record<string, number> = {}
  for (const [name, field] of liveFields(record, now)) {
    fields[name] = field.value
    fieldTtlMs[name] = field.expiresAt - now
  }
  return { fields, ttlMs: record.expiresAt - now, fieldTtlMs, ageMs: Math.max(0, now - record.createdAt) }
}

/** Stores a record moved here from another node (unless a live one is already here). */
export function receive(table: MemoryTable, key: string, moved: MovedRecord, now: number): void {
  table.tombstones.delete(key)
  if (table.get(key, now) !== undefined) return
  const expiresAt = Object.fromEntries(Object.entries(moved.fieldTtlMs).map(([name, ms]) => [name, now + ms]))
  const record = recordOf(fieldsOf(moved.fields, expiresAt), now - moved.ageMs, now)
  if (record !== undefined) table.set(key, record)
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
