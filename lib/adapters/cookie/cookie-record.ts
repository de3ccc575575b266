/**
 * One record of the cookie adapter as a request holds it (its fields, each with its expiry, its
 * creation time and its version), and the steps of the record contract on it: what is live at a
 * time, what a change set or a compare-and-set makes of it, the whole record `move` writes, and
 * the `maxBytes` check. Pure functions: the request-bound adapter (request-records.ts) keeps the
 * records and decides when they may change.
 * @module
 */
import type { FieldSwap, LoadedRecord, RecordChange, StoredRecord } from '../../store/adapter.js'
import { tooLargeError } from '../../errors.js'

/** One field: its stored value and when it expires (milliseconds since the epoch). */
export interface CookieField {
  readonly value: string
  readonly expiresAt: number
}

/** A record as the sealed cookie carries it. */
export interface CookieRecord {
  readonly fields: ReadonlyMap<string, CookieField>
  /** When the record was created (for `maxLifetime`). */
  readonly createdAt: number
  /** Raised by every change, and signed into the ID cookie by express-stash: pairs the sealed cookie with the ID cookie of the same response. */
  readonly version: number
}

/** `record` as it is at `now`: without its expired fields, `undefined` when none is left. */
export function liveAt(record: CookieRecord | undefined, now: number): CookieRecord | undefined {
  if (record === undefined) return undefined
  let expired = 0
  for (const field of record.fields.values()) if (field.expiresAt <= now) expired++
  if (expired === record.fields.size) return undefined // a record with no live field does not exist
  if (expired === 0) return record
  return { ...record, fields: new Map([...record.fields].filter(([, field]) => field.expiresAt > now)) }
}

/**
 * The record `change` makes of `current` (live at `now`) under `version`: `del` and `set` applied,
 * and the live fields `change.expiresAt` names given their new expiry; `undefined` when no field
 * is left. `current` itself when the change alters nothing. Throws `ERR_STASH_TOO_LARGE` when the
 * result exceeds `change.maxBytes`, and a `TypeError` for a field set without its expiry.
 */
export function applyChange(
  current: CookieRecord | undefined,
  change: RecordChange,
  now: number,
  version: number,
): CookieRecord | undefined {
  const fields = new Map(current?.fields)
  let altered = false
  for (const name of change.del) altered = fields.delete(name) || altered
  for (const [name, value] of Object.entries(change.set)) {
    fields.set(name, { value, expiresAt: expiryOf(change.expiresAt, name) })
    altered = true
  }
  for (const [name, expiresAt] of Object.entries(change.expiresAt)) {
    const field = fields.get(name) // live, or just set: an expiry brings back no field
    if (field === undefined || Object.hasOwn(change.set, name)) continue
    fields.set(name, { value: field.value, expiresAt })
    altered = true
  }
  if (!altered) return current
  const next = liveAt({ fields, createdAt: current?.createdAt ?? now, version }, now)
  assertWithin(next, change.maxBytes)
  return next
}

/** The change a compare-and-set applies once its `expected` value matched: `next` set, or the field removed. */
export function changeOfSwap({ field, next, expiresAt, maxBytes }: FieldSwap): RecordChange {
  return { set: next === undefined ? {} : { [field]: next }, del: next === undefined ? [field] : [], expiresAt, maxBytes }
}

/** The record `move` writes: the fields of `stored` live at `now`, its `createdAt` (now when unknown); `undefined` without a live field. */
export function recordOfStored(stored: StoredRecord, now: number, version: number): CookieRecord | undefined {
  const fields = new Map<string, CookieField>()
  for (const [name, value] of Object.entries(stored.fields))
    fields.set(name, { value, expiresAt: expiryOf(stored.expiresAt, name) })
  return liveAt({ fields, createdAt: stored.createdAt ?? now, version }, now)
}

/** What `load` gives of `fields` of a live `record`. */
export function loadedFrom(record: CookieRecord, fields: readonly string[]): LoadedRecord {
  const values: (string | undefined)[] = []
  const expiresAt: (number | undefined)[] = []
  for (const name of fields) {
    const field = record.fields.get(name)
    values.push(field?.value)
    expiresAt.push(field?.expiresAt)
  }
  return { values, expiresAt, createdAt: record.createdAt, version: record.version }
}

/** What `readAll` gives of a live `record`: plain copies of its fields and expiries. */
export function storedFrom(record: CookieRecord): StoredRecord {
  const fields: Record<string, string> = {}
  const expiresAt: Record<string, number> = {}
  for (const [name, field] of record.fields) {
    fields[name] = field.value
    expiresAt[name] = field.expiresAt
  }
  return { fields, expiresAt, createdAt: record.createdAt }
}

/** The expiry `expiresAt` gives `field`, which the caller stores: a TypeError when it gives none. */
function expiryOf(expiresAt: Readonly<Record<string, number>>, field: string): number {
  const until = Object.hasOwn(expiresAt, field) ? expiresAt[field] : undefined
  if (typeof until !== 'number') throw new TypeError(`express-stash: field "${field}" is stored without its expiry (expiresAt)`)
  return until
}

/** Throws `ERR_STASH_TOO_LARGE` when `record` (UTF-8 bytes of its names and values) exceeds `maxBytes`. */
function assertWithin(record: CookieRecord | undefined, maxBytes: number | undefined): void {
  if (maxBytes === undefined || record === undefined) return
  let bytes = 0
  for (const [name, field] of record.fields) bytes += Buffer.byteLength(name) + Buffer.byteLength(field.value)
  if (bytes > maxBytes) throw tooLargeError(bytes, maxBytes)
}
