/**
 * The record operations of the memory adapter (load, write, compare-and-set, touch, read, move,
 * delete) over its table, and the byte accounting behind `maxBytes` and `maxMemory`. Every
 * change is applied synchronously, so compare-and-set is atomic.
 * @module
 */
import type { CompareAndSetResult, FieldSwap, RecordChange, StashAdapter } from '../../store/adapter.js'
import { StashError, tooLargeError } from '../../errors.js'
import { assertNotMoved } from './memory-moves.js'
import { fieldSize, fieldsOf, type MemoryRecord, type MemoryTable } from './memory-table.js'

/** The record methods of a {@link StashAdapter}. @internal */
export type RecordOperations = Pick<StashAdapter, 'load' | 'write' | 'compareAndSet' | 'touch' | 'readAll' | 'move' | 'delete'>

/**
 * The record methods of a memory adapter; `open()` returns its table, or throws once the
 * adapter is closed.
 * @internal
 */
export function recordOperations(open: () => MemoryTable): RecordOperations {
  return {
    async load(key, fields, ttl) {
      const now = Date.now()
      const record = open().get(key, now)
      if (record === undefined) return undefined
      if (ttl !== undefined) extendExpiry(record, ttl, now)
      return fields.map((field) => record.fields.get(field))
    },
    async write(key, change) {
      const now = Date.now()
      const table = open()
      assertNotMoved(table, key, now)
      if (change.existing === true && table.get(key, now) === undefined) return 'gone'
      applyChange(table, key, change, now)
    },
    async compareAndSet(key, swap): Promise<CompareAndSetResult> {
      const now = Date.now()
      const table = open()
      assertNotMoved(table, key, now)
      const record = table.get(key, now)
      if (swap.existing === true && record === undefined) return { ok: false, current: undefined, gone: true }
      const current = record?.fields.get(swap.field)
      if (current !== swap.expected) return { ok: false, current }
      applyChange(table, key, changeOfSwap(swap), now)
      return { ok: true }
    },
    async touch(key, ttl) {
      const now = Date.now()
      const record = open().get(key, now)
      if (record !== undefined) extendExpiry(record, ttl, now)
      return record !== undefined
    },
    async readAll(key) {
      const record = open().get(key, Date.now())
      return record === undefined ? undefined : Object.fromEntries(record.fields)
    },
    async move(from, to, fields, ttl) {
      const table = open()
      if (table.get(from, Date.now()) === undefined) return 'gone'
      const { fields: map, bytes } = fieldsOf(fields)
      assertWithinBudget(table, bytes)
      table.records.delete(from)
      table.records.delete(to)
      if (map.size === 0) return
      table.set(to, { fields: map, bytes, expiresAt: Date.now() + ttl * 1000, used: 0 })
    },
    async delete(key) {
      open().records.delete(key)
    },
  }
}

/** Slides the expiry of `record` to `ttl` seconds from `now`; never shortens it. */
function extendExpiry(record: MemoryRecord, ttl: number, now: number): void {
  record.expiresAt = Math.max(record.expiresAt, now + ttl * 1000)
}

/** The change a successful compare-and-set applies: `next` set, or the field deleted when it is `undefined`. */
function changeOfSwap({ field, next, ttl, maxBytes, exact }: FieldSwap): RecordChange {
  return { set: next === undefined ? {} : { [field]: next }, del: next === undefined ? [field] : [], ttl, maxBytes, exact }
}

/** Applies a change set to one record, synchronously (so compare-and-set is atomic). */
function applyChange(table: MemoryTable, key: string, change: RecordChange, now: number): void {
  const current = table.get(key, now)
  const fields = new Map(current?.fields)
  let bytes = current?.bytes ?? 0
  for (const field of change.del) {
    bytes -= fieldSize(field, fields.get(field))
    fields.delete(field)
  }
  for (const [field, value] of Object.entries(change.set)) {
    bytes += fieldSize(field, value) - fieldSize(field, fields.get(field))
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
