/**
 * The Redis record layout on the client side: the metadata the marker field holds (see `MARKER`
 * in redis-scripts.ts), what a load or a `readAll` makes of a record of this layout or of an
 * earlier one, and the expiries as the scripts take them.
 * @module
 */
import type { LoadedRecord, StoredRecord } from '../../store/adapter.js'

/** The metadata of a record of this layout, as its marker holds it. */
interface RecordMeta {
  /** When the record was created (ms since the epoch). */
  readonly c: number
  /** Each field's expiry (ms since the epoch) and size (UTF-8 bytes of name and value). */
  readonly f: Readonly<Record<string, readonly [expiresAt: number, bytes: number]>>
}

/** A load a plain `HMGET` could not settle: the LOAD script must answer it. */
export const ASK_SCRIPT = Symbol('ask the LOAD script')

/** The metadata of a marker, or `undefined` for a record of an earlier layout (a size, or no marker). */
function metaOf(marker: unknown): RecordMeta | undefined {
  if (typeof marker !== 'string' || marker[0] !== '{') return undefined
  try {
    const meta = JSON.parse(marker) as Partial<RecordMeta> | null
    return typeof meta?.f === 'object' && meta.f !== null ? (meta as RecordMeta) : undefined
  } catch {
    return undefined // not written by express-stash: the next write rewrites it
  }
}

/** Whether any field of the record is live at `now`: a record without one does not exist. */
function anyLive({ f }: RecordMeta, now: number): boolean {
  for (const entry of Object.values(f)) if (entry[0] > now) return true
  return false
}

/**
 * The load of `fields` from the marker and the values of an `HMGET` (`reply[offset + i]` is the
 * value of `fields[i]`), as of `now`. `left`, the key's `PTTL` (LOAD script only), gives the
 * expiry of a record of an earlier layout and of a value without an entry in the marker (written
 * behind the adapter's back); without it such a record or value is {@link ASK_SCRIPT}.
 */
export function loadedOf(
  marker: unknown,
  fields: readonly string[],
  reply: readonly unknown[],
  offset: number,
  now: number,
  left?: number,
): LoadedRecord | undefined | typeof ASK_SCRIPT {
  const meta = metaOf(marker)
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
  return { values, expiresAt, createdAt: meta?.c }
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
 * The expiry of `field` as a script argument: `expiresAt` must name it (the contract requires an
 * expiry for every field set).
 */
export function expiryArgument(expiresAt: Readonly<Record<string, number>>, field: string): string {
  const at = Object.hasOwn(expiresAt, field) ? expiresAt[field] : undefined
  if (typeof at !== 'number' || !Number.isFinite(at)) {
    throw new TypeError(`express-stash: no expiry for the field ${JSON.stringify(field)} (expiresAt must name every field set)`)
  }
  return String(Math.ceil(at))
}
