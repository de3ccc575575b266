/**
 * The marker memo of a Redis adapter: the latest marker it knows of each record (read by a load,
 * written or answered by a write), exactly as stored, with its metadata. A write works itself out
 * from it on the client (redis-layout.ts `planChange`) and the script applies that only if the
 * stored marker is still this very string: a memo that is wrong (another node wrote, the record
 * was deleted or rewritten behind the adapter's back) costs the script's full path, never a
 * wrong write. Every write that changes a record raises its version, so changes its marker.
 * @module
 */
import { BoundedMap } from '../../values/bounded-map.js'
import { versionOf, type RecordMeta } from './redis-layout.js'

/** A marker exactly as stored, and its metadata. */
export interface KnownMarker {
  readonly raw: string
  readonly meta: RecordMeta
}

/** Most records a memo knows the marker of; the least recently used is forgotten first. */
export const MARKER_MEMO_CAPACITY = 10_000

/** The latest marker known per Redis key, bounded. */
export class MarkerMemo {
  private readonly known = new BoundedMap<string, KnownMarker>({ capacity: MARKER_MEMO_CAPACITY })

  /** The marker known of `key`, if any. */
  recall(key: string): KnownMarker | undefined {
    return this.known.get(key)
  }

  /**
   * What a load read under `key` (its metadata by `metaOf`): kept when a write can be worked out
   * from it, unless the memo knows a later version (made by a write sent after the load). No
   * marker, or an unusable one, leaves the memo as it is: the next write's script will tell.
   */
  read(key: string, raw: unknown, meta: RecordMeta | undefined): void {
    if (typeof raw !== 'string' || meta === undefined) return
    const held = this.known.get(key)
    if (held?.raw === raw || !plannable(meta)) return
    if (held === undefined || versionOf(held.meta) <= versionOf(meta)) this.known.refresh(key, { raw, meta })
  }

  /** The marker now stored under `key`, as a write made or answered it (forgotten when unusable). */
  learn(key: string, raw: unknown, meta: RecordMeta | undefined): void {
    if (typeof raw === 'string' && meta !== undefined && plannable(meta)) this.known.refresh(key, { raw, meta })
    else this.known.delete(key)
  }

  /** Forgets `key` (its record was deleted, or is gone). */
  forget(key: string): void {
    this.known.delete(key)
  }
}

/** One memo per adapter link: a load and the writes of one adapter share it. */
const memos = new WeakMap<object, MarkerMemo>()

/** The marker memo of the adapter on `link`. */
export function markerMemoOf(link: object): MarkerMemo {
  let memo = memos.get(link)
  if (memo === undefined) memos.set(link, (memo = new MarkerMemo()))
  return memo
}

/**
 * Whether a write can be worked out from `meta` on the client exactly as the script would: a
 * marker this version could have written (garbage that merely parses goes to the full path).
 */
function plannable({ c, v, f }: RecordMeta): boolean {
  if (!Number.isFinite(c) || (v !== undefined && !(Number.isSafeInteger(v) && v >= 0)) || Array.isArray(f)) return false
  for (const entry of Object.values(f)) {
    if (!Array.isArray(entry) || entry.length !== 2 || !Number.isFinite(entry[0]) || !Number.isFinite(entry[1])) return false
  }
  return true
}
