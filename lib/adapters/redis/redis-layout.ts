/**
 * The Redis record layout on the client side: the metadata the marker field holds (see `MARKER`
 * in redis-scripts.ts), what a load or a `readAll` makes of a record of this layout or of an
 * earlier one, the expiries as the scripts take them, and what a write makes of a marker (the
 * WRITE script's fast path).
 * @module
 */
import type { LoadedRecord, StoredRecord } from '../../store/adapter.js'

/** The metadata of a record of this layout, as its marker holds it. */
export interface RecordMeta {
  /** When the record was created (ms since the epoch). */
  readonly c: number
  /** The record's version: how many writes changed it (absent in markers of earlier versions: 0). */
  readonly v?: number
  /** Each field's expiry (ms since the epoch) and size (UTF-8 bytes of name and value). */
  readonly f: Readonly<Record<string, readonly [expiresAt: number, bytes: number]>>
}

/** A load a plain `HMGET` could not settle: the LOAD script must answer it. */
export const ASK_SCRIPT = Symbol('ask the LOAD script')

/** The metadata of a marker, or `undefined` for a record of an earlier layout (a size, or no marker). */
export function metaOf(marker: unknown): RecordMeta | undefined {
  if (typeof marker !== 'string' || marker[0] !== '{') return undefined
  try {
    const meta = JSON.parse(marker) as Partial<RecordMeta> | null
    return typeof meta?.f === 'object' && meta.f !== null ? (meta as RecordMeta) : undefined
  } catch {
    return undefined // not written by express-stash: the next write rewrites it
  }
}

/** The version of a record whose marker holds `meta`: 0 for a record of an earlier layout. */
export function versionOf(meta: RecordMeta | undefined): number {
  return typeof meta?.v === 'number' ? meta.v : 0
}

/** Whether any field of the record is live at `now`: a record without one does not exist. */
function anyLive({ f }: RecordMeta, now: number): boolean {
  for (const entry of Object.values(f)) if (entry[0] > now) return true
  return false
}

/**
 * The load of `fields` from the marker's metadata (`metaOf`) and the values of an `HMGET`
 * (`reply[offset + i]` is the value of `fields[i]`), as of `now`. `left`, the key's `PTTL` (LOAD script only), gives the
 * expiry of a record of an earlier layout and of a value without an entry in the marker (written
 * behind the adapter's back); without it such a record or value is {@link ASK_SCRIPT}.
 */
export function loadedOf(
  meta: RecordMeta | undefined,
  fields: readonly string[],
  reply: readonly unknown[],
  offset: number,
  now: number,
  left?: number,
): LoadedRecord | undefined | typeof ASK_SCRIPT {
  if (meta === undefined && left === undefined) return ASK_SCRIPT
  const untracked = now + Math.max(left ?? 0, 0) // PTTL -1 (no expiry, never written so): expired
  const values: (string | undefined)[] = []
  const expiresAt: (number | undefined)[] = []
  let live = meta === undefined && untracked > now
  for (let i = 0; i < fields.length; i++) {
    const value = (reply[offset + i] ?? undefined) as string | undefined
    const entry = meta !== undefined && Object.hasOwn(meta.f, fields[i]!) ? meta.f[fields[i]!] : undefined
    if (entry !== undefined && entry[0] > now) live = true
    if (value !== undefined && entry === undefined && left === undefined) return ASK_SCRIPT
    const at = value === undefined ? now : (entry?.[0] ?? untracked)
    values.push(at > now ? value : undefined)
    expiresAt.push(at > now ? at : undefined)
  }
  if (!live && (meta === undefined || !anyLive(meta, now))) return undefined
  return { values, expiresAt, createdAt: meta?.c, version: versionOf(meta) }
}

/**
 * The record of a READ_ALL reply (`[pttl, field, value, ...]`, the marker among them) as of
 * `now`: its live fields; those of an earlier layout, or without an entry in the marker, live as
 * long as the key.
 */
export function storedOf(reply: readonly unknown[], now: number): StoredRecord | undefined {
  let marker: unknown
  for (let i = 1; i < reply.length; i += 2) if (reply[i] === '') marker = reply[i + 1]
  const meta = metaOf(marker)
  const untracked = now + Math.max(Number(reply[0]), 0)
  if (meta === undefined ? untracked <= now : !anyLive(meta, now)) return undefined
  // Built by Object.fromEntries: a field named "__proto__" is an own property like any other.
  const fields: [string, string][] = []
  const expiresAt: [string, number][] = []
  for (let i = 1; i < reply.length; i += 2) {
    const field = reply[i] as string
    const at = meta !== undefined && Object.hasOwn(meta.f, field) ? meta.f[field]![0] : untracked
    if (field === '' || at <= now) continue
    fields.push([field, reply[i + 1] as string])
    expiresAt.push([field, at])
  }
  return { fields: Object.fromEntries(fields), expiresAt: Object.fromEntries(expiresAt), createdAt: meta?.c }
}

/**
 * The expiry of `field` as the scripts read it (whole milliseconds): `expiresAt` must name it (the
 * contract requires an expiry for every field set).
 */
export function expiryOf(expiresAt: Readonly<Record<string, number>>, field: string): number {
  const at = Object.hasOwn(expiresAt, field) ? expiresAt[field] : undefined
  if (typeof at !== 'number' || !Number.isFinite(at)) {
    throw new TypeError(`express-stash: no expiry for the field ${JSON.stringify(field)} (expiresAt must name every field set)`)
  }
  return Math.ceil(at)
}

/** {@link expiryOf} as a script argument. */
export function expiryArgument(expiresAt: Readonly<Record<string, number>>, field: string): string {
  return String(expiryOf(expiresAt, field))
}

/** A change of one record as the WRITE and COMPARE_AND_SET scripts apply it, in their order. */
export interface MarkerChange {
  /** Fields to delete, first. */
  readonly del: readonly string[]
  /** Then each field to set, its value and its expiry (whole milliseconds). */
  readonly set: readonly (readonly [field: string, value: string, expiresAt: number])[]
  /** Then each field to slide and its new expiry: a field that is not live is left alone. */
  readonly slide: readonly (readonly [field: string, expiresAt: number])[]
  /** Largest size of the record (0: none). */
  readonly maxBytes: number
  /** The record must exist. */
  readonly existing: boolean
  /** A new version is stored even when nothing changes (a compare-and-set that swaps). */
  readonly always: boolean
}

/** A write worked out on the client from a marker, for the scripts' fast path. */
export interface MarkerPlan {
  /** The marker the write stores; `''` when nothing changes. */
  readonly marker: string
  /** Its metadata (that of the expected marker when nothing changes). */
  readonly meta: RecordMeta
  /** The fields it removes: expired by `now`, deleted, or slid into the past (not those set again). */
  readonly removed: readonly string[]
  /** How many milliseconds the key lives after it: until its last field expires. */
  readonly lifetime: number
}

/**
 * What `change` makes, at `now`, of a record whose marker holds `meta`, exactly as the scripts
 * would work it out: expired fields dropped, then deletes, sets, slides; sizes measured in UTF-8
 * bytes; the next version. `undefined` leaves it to the script's full path: a record that does
 * not exist when it must, one that would exceed `maxBytes` or be left without a live field, or a
 * value set with an expiry already past.
 */
export function planChange(meta: RecordMeta, change: MarkerChange, now: number): MarkerPlan | undefined {
  // Built without a prototype: a field named "__proto__" is an own property like any other.
  const f: Record<string, [number, number]> = Object.create(null) as Record<string, [number, number]>
  const removed = new Set<string>()
  let live = false
  for (const [field, [at, bytes]] of Object.entries(meta.f)) {
    if (at > now) {
      f[field] = [at, bytes]
      live = true
    } else removed.add(field)
  }
  if (change.existing && !live) return undefined
  let changed = change.always || removed.size > 0 || change.del.length > 0 || change.set.length > 0
  for (const field of change.del) {
    delete f[field]
    removed.add(field)
  }
  for (const [field, value, at] of change.set) {
    if (at <= now) return undefined
    f[field] = [at, Buffer.byteLength(field) + Buffer.byteLength(value)]
    removed.delete(field)
  }
  for (const [field, at] of change.slide) {
    const entry = f[field]
    if (entry === undefined) continue
    changed = true
    if (at > now) entry[0] = at
    else {
      delete f[field]
      removed.add(field)
    }
  }
  if (!changed) return { marker: '', meta, removed: [], lifetime: 0 }
  let last = 0
  let size = 0
  for (const [at, bytes] of Object.values(f)) {
    last = Math.max(last, at)
    size += bytes
  }
  if (last === 0 || (change.maxBytes > 0 && size > change.maxBytes)) return undefined
  const next: RecordMeta = { c: live ? meta.c : now, v: versionOf(meta) + 1, f }
  return { marker: JSON.stringify(next), meta: next, removed: [...removed], lifetime: Math.ceil(last - now) }
}
