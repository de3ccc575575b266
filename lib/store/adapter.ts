/**
 * The storage contract every adapter implements (`StashAdapter`) and the shapes of its calls.
 * @module
 */
import type { StashRecovery } from './recovery.js'

/**
 * The storage contract. An adapter keeps **records**: each record is a small map of fields
 * (one field per stored key), **each field with an expiry of its own**. Values reach the adapter
 * already serialized and authenticated, so an adapter only moves strings; memory and Redis behave
 * identically.
 *
 * Record keys are made by express-stash from a hash of the stash ID, never the ID itself. Every
 * per-request call touches exactly one record. A stash bound to a session is keyed
 * `{<owner>}<hash>`: the part in braces names its owner ({@link ownerOfKey}). Adapters keep an
 * index of each owner's records, living at least as long as the longest-lived of them, for
 * `ownerKeys` and `deleteOwner`; on Redis the braces are the hash tag that keeps an owner's
 * records and index in one Cluster slot.
 *
 * Expiry: every time is in milliseconds since the epoch (`Date.now()`). A field whose expiry has
 * passed is absent for every call (a load, `expected` of a compare-and-set, `maxBytes`, `readAll`)
 * whatever the record's other fields, and the next write may remove it for good. Expiries are set
 * exactly as asked, later or earlier than before: express-stash decides them (the ttl of the route
 * that last loaded or wrote a field, capped by `maxLifetime`). A record lives until its last field
 * expires, and a record with no live field does not exist. Each record also keeps the time it was
 * created (`createdAt`), set by the write that creates it and kept by every later write and by
 * `move`, for `maxLifetime`.
 *
 * A new adapter is one object implementing these methods; run the shared contract suite against it.
 */
export interface StashAdapter {
  /** A label for logs and errors, e.g. `"memory"` or `"redis"`. */
  readonly kind: string

  /**
   * The records live in this process's memory and leave it only sealed (by the peer protocol, or
   * by the cookie adapter's authenticated encryption), so nothing outside the process can alter a
   * value: express-stash stores values without a MAC (`encrypt` still encrypts). Leave it unset for
   * any store that keeps values outside the process as it is given them.
   */
  readonly inProcess?: boolean

  /**
   * Reads `fields` of one record in one round trip, changing nothing (express-stash slides
   * expiries with a write, and only when they are due). Resolves `undefined` when the record does
   * not exist (never written, deleted, or every field expired), else the values in the order of
   * `fields`, each with its expiry (`undefined` for a missing or expired field).
   *
   * `seen` is the version ({@link LoadedRecord.version}) the client last saw its record written
   * at, from its signed cookie: an adapter that answers from a cache of its own never answers
   * with an older version than that (`Infinity`: always read the store). Adapters without
   * versions ignore it.
   */
  load(key: string, fields: readonly string[], seen?: number): Promise<LoadedRecord | undefined>

  /**
   * Optional: {@link StashAdapter.load} answered synchronously from this process's memory, when
   * the adapter can (the memory adapter always; a near cache on a hit): the record, `null` when
   * the record does not exist, or `undefined` when only `load` can tell. express-stash asks it
   * first, so a request served from memory costs no promise and no turn of the event loop. Same
   * `seen`, same answers and errors (thrown) as `load`.
   */
  loadNow?(key: string, fields: readonly string[], seen?: number): LoadedRecord | null | undefined

  /**
   * Applies a change set to one record atomically, in one round trip: sets `set`, removes `del`,
   * and gives fields the expiries of `change.expiresAt`. Creates the record if needed (its
   * `createdAt` is then now), unless `change.existing`: then a record that no longer exists is
   * not recreated, nothing is written, and it resolves `'gone'` (a delete is never resurrected).
   * When the record would end up larger than `maxBytes` (UTF-8 bytes of the names plus values of
   * its live fields), nothing is written and it rejects with `StashError` `ERR_STASH_TOO_LARGE`.
   * A change with nothing to set or delete only slides expiries (or, empty, checks that the record
   * exists, with `existing`). An adapter that keeps versions resolves the record's version after
   * the write ({@link WriteReceipt}).
   */
  write(key: string, change: RecordChange): Promise<void | 'gone' | WriteReceipt>

  /**
   * Replaces one field only if it still holds `swap.expected` (`undefined`: absent or expired), in
   * one atomic step, giving it the expiry `swap.expiresAt[swap.field]`; `swap.next === undefined`
   * removes the field. On a mismatch nothing changes and the current value is returned, so the
   * caller can retry without another read. Honours `maxBytes` like {@link StashAdapter.write}.
   * With `swap.existing`, a record that no longer exists is not recreated: `{ ok: false, gone: true }`.
   */
  compareAndSet(key: string, swap: FieldSwap): Promise<CompareAndSetResult>

  /** Reads every live field of one record, with its expiry and `createdAt`; `undefined` when it does not exist. */
  readAll(key: string): Promise<StoredRecord | undefined>

  /**
   * Writes `record` (its fields, their expiries, its `createdAt`) as the whole record `to` and
   * deletes the record `from`, atomically where the store allows it (used by `rotate()`). When
   * `from` no longer exists (deleted, revoked, expired or moved since the caller read it), `to` is
   * not written (or is removed again) and it resolves `'gone'`. An adapter that keeps versions
   * resolves the version of `to` ({@link WriteReceipt}).
   */
  move(from: string, to: string, record: StoredRecord): Promise<void | 'gone' | WriteReceipt>

  /** Deletes one record. Deleting a missing record is not an error. */
  delete(key: string): Promise<void>

  /** Releases what the adapter opened (timers, clients it created). Resolves, never rejects; safe to call twice. */
  close(): Promise<void>

  /**
   * Resolves once the adapter can serve (connected, authenticated, answering), within `timeout`
   * milliseconds; rejects with an error that names the reason it cannot (`stash.ready()`).
   * Adapters that are always ready leave it out.
   */
  ready?(timeout: number): Promise<void>

  /**
   * Admin: every live record key, in batches (never blocking the store, e.g. SCAN). With
   * `match`, only the keys it accepts: the stash admin passes a test of its own record keys, so
   * that session records and other key layouts sharing the adapter are left out.
   */
  keys?(match?: (recordKey: string) => boolean): AsyncIterable<string[]>
  /**
   * Admin: deletes every record of this adapter (and nothing else); resolves to how many. With
   * `match`, only the records whose key it accepts, and of the owner indexes only what those
   * leave empty. An adapter that ignores `match` clears everything: the contract suite tests it.
   */
  clear?(match?: (recordKey: string) => boolean): Promise<number>
  /** Admin: the live record keys of one owner. */
  ownerKeys?(owner: string): Promise<string[]>
  /** Admin: deletes every record of one owner; resolves to how many. */
  deleteOwner?(owner: string): Promise<number>

  /**
   * Optional cross-node recovery, for stores local to one process (the memory adapter with
   * `peers`): the cookie carries a node hint and a miss moves the record from the hinted node.
   * Adapters shared by every node (Redis) leave it out.
   */
  readonly recovery?: StashRecovery

  /**
   * Optional: subscribes to the records the adapter evicts to stay within a budget of its own
   * (the memory adapter's `maxMemory` and `maxEntries`). `listener` is called synchronously after
   * each eviction pass (the write that caused it has happened) and must not throw; the returned
   * function unsubscribes. `createStash` subscribes once per instance: `stats().evictions` and
   * the `'evicted'` event. Stores that evict on their own (Redis `maxmemory`) leave it out.
   */
  onEvict?(listener: (eviction: StashEviction) => void): () => void

  /** Optional: the counters of the adapter's near cache (`stash.stats().cache`); adapters without one leave it out. */
  cacheStats?(): StashCacheStats

  /**
   * Optional, for an adapter whose records travel with each request instead of living in a store
   * (`cookieAdapter()`: the client's cookies hold them). express-stash calls it once per request
   * that mounts the stash, before the load, and sends every adapter call of that request to the
   * adapter it returns, whose {@link StashAdapter.responseCookies} adds the records to the
   * response. Adapters with a store leave it out and pay nothing for it.
   */
  forRequest?(request: AdapterRequest): StashAdapter

  /**
   * Optional, on an adapter {@link StashAdapter.forRequest} returned: the `Set-Cookie` lines the
   * response carries besides the ID cookie's, asked once, just before the headers go out. `record`
   * is the record key the ID cookie names from this response on (`undefined`: none, e.g. cleared
   * by `reset()`); `idCookie` is the ID cookie's own line, `undefined` when this response does not
   * send it. Every change of such an adapter resolves a new version ({@link WriteReceipt}), which
   * makes the response send the ID cookie. What it throws is reported (`'error'`).
   */
  responseCookies?(record: string | undefined, idCookie: string | undefined): readonly string[]
}

/** What {@link StashAdapter.forRequest} is told of one request. */
export interface AdapterRequest {
  /** The request's `Cookie` header, as the client sent it. */
  readonly cookieHeader: string | undefined
  /** The name of the stash's ID cookie (its `cookie.name` option). */
  readonly cookieName: string
  /** The stash's secrets: the first signs, all verify. */
  readonly secrets: readonly string[]
  /** Whether the response headers went out: from then on no cookie can change. */
  headersSent(): boolean
}

/** The counters of an adapter's near cache (the Redis adapter with `cache`), in `stash.stats().cache`. */
export interface StashCacheStats {
  /** Loads answered from this process's memory, without a round trip. */
  readonly hits: number
  /** Loads that asked the store: not cached, older than the client's own last write, or tracking not confirmed. */
  readonly misses: number
  /** Records dropped because the store said another connection changed them. */
  readonly invalidations: number
  /** Times the whole cache was emptied (a lost or reconnected tracking connection, a flush of the store). */
  readonly flushes: number
  /** Records held now. */
  readonly entries: number
  /** Bytes held now (UTF-8 of the cached values, names and markers). */
  readonly bytes: number
}

/** One eviction pass of an adapter ({@link StashAdapter.onEvict}): what it removed. */
export interface StashEviction {
  /** Live records evicted. */
  readonly records: number
  /** Their stored bytes (UTF-8 field names and values). */
  readonly bytes: number
}

/** The owner named by a record key (`{owner}hash`), or undefined for a stash bound to no session. */
export function ownerOfKey(key: string): string | undefined {
  if (key[0] !== '{') return undefined
  const end = key.indexOf('}')
  return end > 1 ? key.slice(1, end) : undefined
}

/** A record as {@link StashAdapter.load} returns it. */
export interface LoadedRecord {
  /** The values of the fields asked for, in their order; `undefined` for a missing or expired field. */
  readonly values: (string | undefined)[]
  /** When each of those fields expires (milliseconds since the epoch): defined exactly where `values` is. */
  readonly expiresAt: (number | undefined)[]
  /** When the record was created; `undefined` for a record written by a version that did not keep it (its next write sets it). */
  readonly createdAt: number | undefined
  /**
   * The record's version, for an adapter that keeps one (a near cache needs it): a counter kept
   * with the record, raised by every write that changes it. express-stash signs the version a
   * client's last write reached into its cookie and passes it back as `load`'s `seen`, so the
   * client reads its own writes on every node.
   */
  readonly version?: number
}

/** What a write resolves to with an adapter that keeps versions: the record's version after it. */
export interface WriteReceipt {
  readonly version: number
}

/** A whole record: {@link StashAdapter.readAll} returns it, {@link StashAdapter.move} writes it. */
export interface StoredRecord {
  /** Every live field and its value. */
  readonly fields: Readonly<Record<string, string>>
  /** When each of those fields expires (milliseconds since the epoch); one entry per field. */
  readonly expiresAt: Readonly<Record<string, number>>
  /** When the record was created; `undefined` when unknown (`move` then uses now). */
  readonly createdAt: number | undefined
}

/** A change set for {@link StashAdapter.write}. */
export interface RecordChange {
  /** Fields to set, with their serialized values. */
  readonly set: Readonly<Record<string, string>>
  /** Fields to remove. */
  readonly del: readonly string[]
  /**
   * New expiries (milliseconds since the epoch): one for every field of `set`, and any number for
   * other fields of the record, whose expiry slides (or shrinks) while their values stay as they
   * are. A field absent or expired in the store is never brought back by an expiry; fields not
   * named keep theirs.
   */
  readonly expiresAt: Readonly<Record<string, number>>
  /** Largest size the whole record may reach; absent means no limit. */
  readonly maxBytes?: number
  /**
   * The caller read this record and writes to it: when it no longer exists (deleted, expired,
   * revoked, rotated away), nothing is written and the write resolves `'gone'`, so a request
   * that loaded a stash before its deletion can never bring it back. @default false
   */
  readonly existing?: boolean
}

/** A compare-and-set of one field, for {@link StashAdapter.compareAndSet}. */
export interface FieldSwap {
  readonly field: string
  /** The value the field must hold for the swap to happen; `undefined`: the field is absent (or expired). */
  readonly expected: string | undefined
  /** The new value; `undefined` removes the field. */
  readonly next: string | undefined
  /**
   * When the swap happens, the new expiries, as {@link RecordChange.expiresAt}: the field's own
   * (required when `next` is set), and those of other fields to slide with it.
   */
  readonly expiresAt: Readonly<Record<string, number>>
  /** Largest size the whole record may reach. */
  readonly maxBytes?: number
  /** The record must still exist, as {@link RecordChange.existing}; else `{ ok: false, gone: true }`. @default false */
  readonly existing?: boolean
}

/** The outcome of {@link StashAdapter.compareAndSet}. */
export type CompareAndSetResult =
  | { readonly ok: true; readonly version?: number }
  | { readonly ok: false; readonly current: string | undefined; readonly gone?: false }
  | { readonly ok: false; readonly current: undefined; readonly gone: true }
