/**
 * The record operations of the memory adapter (load, write, compare-and-set, read, move, delete)
 * over its table, with each field's expiry and the byte accounting behind `maxBytes` and
 * `maxMemory`. Every change is applied synchronously, so compare-and-set is atomic.
 * @module
 */
import type {
  CompareAndSetResult,
  FieldSwap,
  LoadedRecord,
  RecordChange,
  StashAdapter,
  StoredRecord,
} from '../../store/adapter.js'
import { StashError, tooLargeError } from '../../errors.js'
import { assertNotMoved } from './memory-moves.js'
import {
  expiryOf,
  fieldsOf,
  liveFields,
  recordOf,
  type MemoryField,
  type MemoryRecord,
  type MemoryTable,
} from './memory-table.js'

/** The record methods of a {@link StashAdapter}. @internal */
export type RecordOperations = Pick<StashAdapter, 'load' | 'write' | 'compareAndSet' | 'readAll' | 'move' | 'delete'> &
  Required<Pick<StashAdapter, 'loadNow'>>

/**
 * The record methods of a memory adapter; `open()` returns its table, or throws once the
 * adapter is closed.
 * @internal
 */
export function recordOperations(open: () => MemoryTable): RecordOperations {
  const loadNow = (key: string, fields: readonly string[]): LoadedRecord | null => {
    const now = Date.now()
    const record = open().get(key, now)
    return record === undefined ? null : loaded(record, fields, now)
  }
  return {
    loadNow,
    async load(key, fields) {
      return loadNow(key, fields) ?? undefined
    },
    async write(key, change) {
      const now = Date.now()
      const table = open()
      assertNotMoved(table, key, now)
      const current = table.get(key, now)
      if (change.existing === true && current === undefined) return 'gone'
      applyChange(table, key, current, change, now)
    },
    async compareAndSet(key, swap): Promise<CompareAndSetResult> {
      const now = Date.now()
      const table = open()
      assertNotMoved(table, key, now)
      const record = table.get(key, now)
      if (swap.existing === true && record === undefined) return { ok: false, current: undefined, gone: true }
      const field = record?.fields.get(swap.field)
      const current = field !== undefined && field.expiresAt > now ? field.value : undefined
      if (current !== swap.expected) return { ok: false, current }
      applyChange(table, key, record, changeOfSwap(swap), now)
      return { ok: true }
    },
    async readAll(key) {
      const now = Date.now()
      const record = open().get(key, now)
      return record === undefined ? undefined : storedRecord(record, now)
    },
    async move(from, to, stored) {
      const now = Date.now()
      const table = open()
      if (table.get(from, now) === undefined) return 'gone'
      const record = recordOf(fieldsOf(stored.fields, stored.expiresAt), stored.createdAt ?? now, now)
      assertWithinBudget(table, record?.bytes ?? 0)
      table.records.delete(from)
      table.records.delete(to)
      if (record !== undefined) table.set(to, record)
    },
    async delete(key) {
      open().records.delete(key)
    },
  }
}

/** What `load` gives of `fields` of `record` at `now`: one lookup per field (the hot path). */
function loaded(record: MemoryRecord, fields: readonly string[], now: number): LoadedRecord {
  const values: (string | undefined)[] = []
  const expiresAt: (number | undefined)[] = []
  for (const name of fields) {
    const field = record.fields.get(name)
    const live = field !== undefined && field.expiresAt > now
    values.push(live ? field.value : undefined)
    expiresAt.push(live ? field.expiresAt : undefined)
  }
  return { values, expiresAt, createdAt: record.createdAt }
}

/** What `readAll` gives of `record` at `now`: its live fields. */
function storedRecord(record: MemoryRecord, now: number): StoredRecord {
  const fields: Record<string, string> = {}
  const expiresAt: Record<string, number> = {}
  for (const [name, field] of liveFields(record, now)) {
    fields[name] = field.value
    expiresAt[name] = field.expiresAt
  }
  return { fields, expiresAt, createdAt: record.createdAt }
}

/** The change a successful compare-and-set applies: `next` set, or the field deleted when it is `undefined`. */
function changeOfSwap({ field, next, expiresAt, maxBytes }: FieldSwap): RecordChange {
  return { set: next === undefined ? {} : { [field]: next }, del: next === undefined ? [field] : [], expiresAt, maxBytes }
}

/**
 * Applies a change set to `current`, the live record under `key` (or none), synchronously (so
 * compare-and-set is atomic): expired fields go, `del` and `set` apply, and `expiresAt` slides or
 * shortens the live fields it names. A record left with no live field is deleted.
 */
function applyChange(
  table: MemoryTable,
  key: string,
  current: MemoryRecord | undefined,
  change: RecordChange,
  now: number,
): void {
  const fields = new Map<string, MemoryField>()
  for (const [name, field] of current?.fields ?? []) if (field.expiresAt > now) fields.set(name, field)
  for (const name of change.del) fields.delete(name)
  for (const name of Object.keys(change.set)) {
    fields.set(name, { value: change.set[name]!, expiresAt: expiryOf(change.expiresAt, name) })
  }
  for (const name of Object.keys(change.expiresAt)) {
    const field = fields.get(name) // live, or just set: an expiry brings back no field
    const expiresAt = change.expiresAt[name]!
    if (field !== undefined && field.expiresAt !== expiresAt) fields.set(name, { value: field.value, expiresAt })
  }
  const record = recordOf(fields, current?.createdAt ?? now, now)
  const bytes = record?.bytes ?? 0
  if (change.maxBytes !== undefined && bytes > change.maxBytes) throw tooLargeError(bytes, change.maxBytes)
  assertWithinBudget(table, bytes)
  if (record === undefined) table.records.delete(key)
  else table.set(key, record)
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
