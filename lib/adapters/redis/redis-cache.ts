/**
 * The near cache of a Redis adapter (`cache: true`): the records this process loaded or wrote
 * lately, served without a round trip while Redis's client tracking (redis-tracking.ts) says that
 * nobody else changed them. What it may hold, and when it may serve, is all here.
 * @module
 */
import type { LoadedRecord } from '../../store/adapter.js'
import { versionOf, type RecordMeta } from './redis-layout.js'

/** The resolved `cache` option of `redisAdapter`. */
export interface CacheSettings {
  /** Most records held; the least recently used goes first. */
  readonly maxEntries: number
  /** Most bytes held (UTF-8 of the cached values and markers); the least recently used goes first. */
  readonly maxBytes: number
}

/** The defaults of the `cache` option. */
export const CACHE_DEFAULTS: CacheSettings = Object.freeze({ maxEntries: 10_000, maxBytes: 16 * 1024 * 1024 })

/** The counters of a near cache, in `stash.stats().cache`. */
export interface CacheCounters {
  /** Loads answered from the cache. */
  hits: number
  /** Loads that had to ask Redis (not cached, a field not cached, older than the client's own write, or tracking not confirmed). */
  misses: number
  /** Records dropped because Redis said another connection changed them. */
  invalidations: number
  /** Times the whole cache was emptied (a lost or unconfirmed tracking connection, FLUSHALL). */
  flushes: number
}

/** One cached record: its marker exactly as stored, its metadata, and the values this process knows. */
interface CachedRecord {
  readonly raw: string
  readonly meta: RecordMeta
  /** Field → value, for the fields read or written lately (a field absent from the marker needs none). */
  readonly values: ReadonlyMap<string, string>
  readonly bytes: number
}

/**
 * A fetch or a write of one record in flight: an invalidation of that record (or a flush) that
 * arrives before its answer marks it stale, and a stale answer is never cached.
 */
export interface CacheTicket {
  stale: boolean
}

/**
 * The records one adapter cached. Served only while tracking is confirmed (`confirmed()`), never
 * older than the version the client's own last write reached (`seen`), and never filled by an
 * answer that an invalidation overtook: every fetch and write holds a {@link CacheTicket}.
 * Bounded by entries and bytes, least recently used first.
 */
export class RecordCache {
  readonly counters: CacheCounters = { hits: 0, misses: 0, invalidations: 0, flushes: 0 }
  private readonly records = new Map<string, CachedRecord>()
  private readonly inFlight = new Map<string, Set<CacheTicket>>()
  private heldBytes = 0

  constructor(
    private readonly settings: CacheSettings,
    /** Whether invalidations are flowing now. */
    private readonly confirmed: () => boolean,
  ) {}

  /** Records held. */
  get size(): number {
    return this.records.size
  }

  /** Bytes held. */
  get bytes(): number {
    return this.heldBytes
  }

  /**
   * The load of `fields` from the cache at `now`: the record, `null` when the cached record has no
   * live field left, or `undefined` when Redis must answer (the load that then asks it counts the miss).
   */
  load(key: string, fields: readonly string[], seen: number | undefined, now: number): LoadedRecord | null | undefined {
    const cached = this.confirmed() ? this.records.get(key) : undefined
    if (cached === undefined || versionOf(cached.meta) < (seen ?? 0)) return undefined
    const values: (string | undefined)[] = []
    const expiresAt: (number | undefined)[] = []
    for (const field of fields) {
      const entry = Object.hasOwn(cached.meta.f, field) ? cached.meta.f[field] : undefined
      const live = entry !== undefined && entry[0] > now
      if (live && !cached.values.has(field)) return undefined
      values.push(live ? cached.values.get(field) : undefined)
      expiresAt.push(live ? entry[0] : undefined)
    }
    this.counters.hits++
    this.records.delete(key) // most recently used: last in the map's order
    this.records.set(key, cached)
    if (!anyLive(cached.meta, now)) return null
    return { values, expiresAt, createdAt: cached.meta.c, version: versionOf(cached.meta) }
  }

  /** Whether `key` is cached and may be served: a write keeps only a record held already. */
  holds(key: string): boolean {
    return this.confirmed() && this.records.has(key)
  }

  /** Starts a fetch or a write of `key`: its answer may be cached only if no invalidation overtakes it. */
  begin(key: string): CacheTicket {
    const ticket = { stale: !this.confirmed() }
    let tickets = this.inFlight.get(key)
    if (tickets === undefined) this.inFlight.set(key, (tickets = new Set()))
    tickets.add(ticket)
    return ticket
  }

  /**
   * Ends a fetch or write of `key`: caches what Redis now holds (`raw`, `meta`, the `values` it
   * read or wrote, plus those cached under the marker the write replaced, when it is `predecessor`),
   * or drops the record when the answer is stale, unusable, or nothing is known.
   */
  end(key: string, ticket: CacheTicket, known: Known | undefined): void {
    this.release(key, ticket)
    if (ticket.stale || known === undefined || !this.confirmed()) return void this.drop(key)
    const previous = this.records.get(key)
    const carried = previous !== undefined && previous.raw === known.predecessor
    const values = new Map(carried ? previous.values : [])
    for (const [field, value] of known.values) values.set(field, value)
    for (const field of values.keys()) if (!Object.hasOwn(known.meta.f, field)) values.delete(field)
    let bytes = Buffer.byteLength(known.raw)
    for (const [field, value] of values) bytes += Buffer.byteLength(field) + Buffer.byteLength(value)
    this.drop(key)
    if (bytes > this.settings.maxBytes) return
    this.records.set(key, { raw: known.raw, meta: known.meta, values, bytes })
    this.heldBytes += bytes
    this.evict()
  }

  /** Ends a ticket without caching anything ({@link RecordCache.end} ends it too; ending twice is harmless). */
  release(key: string, ticket: CacheTicket): void {
    const tickets = this.inFlight.get(key)
    if (tickets?.delete(ticket) === true && tickets.size === 0) this.inFlight.delete(key)
  }

  /** Redis says another connection changed `key`: drop it, and mark its fetches in flight stale. */
  invalidate(key: string): void {
    this.overtake(key)
    if (this.drop(key)) this.counters.invalidations++
  }

  /** This process deleted (or moved away) `key`. */
  forget(key: string): void {
    this.overtake(key)
    this.drop(key)
  }

  /** Empties the cache and marks every fetch in flight stale (tracking lost, FLUSHALL). */
  flush(): void {
    for (const tickets of this.inFlight.values()) for (const ticket of tickets) ticket.stale = true
    this.inFlight.clear()
    this.records.clear()
    this.heldBytes = 0
    this.counters.flushes++
  }

  /** Marks the fetches and writes of `key` in flight stale. */
  private overtake(key: string): void {
    for (const ticket of this.inFlight.get(key) ?? []) ticket.stale = true
  }

  private drop(key: string): boolean {
    const cached = this.records.get(key)
    if (cached === undefined) return false
    this.records.delete(key)
    this.heldBytes -= cached.bytes
    return true
  }

  private evict(): void {
    const { maxEntries, maxBytes } = this.settings
    for (const key of this.records.keys()) {
      if (this.records.size <= maxEntries && this.heldBytes <= maxBytes) return
      this.drop(key)
    }
  }
}

/** What Redis holds of a record after a fetch or a write, for {@link RecordCache.end}. */
export interface Known {
  /** The marker exactly as stored. */
  readonly raw: string
  readonly meta: RecordMeta
  /** Values read or written by this call (a value of a field the marker does not hold is dropped). */
  readonly values: Iterable<readonly [string, string]>
  /**
   * The marker a write replaced (it applied its change to exactly that one): the values cached
   * under it are still true and are kept. A fetch replaces them all.
   */
  readonly predecessor?: string
}

/** Whether any field of `meta` is live at `now`. */
function anyLive({ f }: RecordMeta, now: number): boolean {
  for (const entry of Object.values(f)) if (entry[0] > now) return true
  return false
}
