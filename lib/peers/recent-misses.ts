/**
 * The memory of records this node searched its peers for lately and did not find.
 * @module
 */
import { BoundedMap } from '../values/bounded-map.js'

/** Most records one node remembers as searched and not found. */
const CAPACITY = 10_000
/** Most hints remembered per record; a record has a handful (one per node it visited). */
const HINTS_PER_RECORD = 16

/** The hints one record was searched under, and when (`performance.now()`) that is forgotten. */
interface Miss {
  readonly hints: Set<string>
  readonly until: number
}

/**
 * Record keys this node searched its peers for lately without finding them, each with the cookie
 * hints it was searched under, for `ttlMs`: a cookie whose record is gone (a client ignoring the
 * Set-Cookie that cleared it, or a script replaying it) costs one search, not one per request.
 * A cookie with another hint is searched again: it was re-hinted by the node the record moved to.
 * Bounded: at most `capacity` records; past it the oldest is forgotten (and searched again).
 * The clock is `performance.now()`.
 */
export class RecentMisses {
  /** Record key → its miss; insertion order is expiry order (one ttl), so the expired ones are at the front. */
  private readonly entries: BoundedMap<string, Miss>

  constructor(
    private readonly ttlMs: number,
    capacity = CAPACITY,
  ) {
    this.entries = new BoundedMap({ capacity, expiresAt: (miss) => miss.until })
  }

  /** Whether `key` was searched under `hint` less than `ttlMs` ago and not found. */
  has(key: string, hint: string | undefined, now = performance.now()): boolean {
    return this.entries.live(key, now)?.hints.has(hint ?? '') ?? false
  }

  /** Notes that a search of `key` under `hint` found nothing. */
  add(key: string, hint: string | undefined, now = performance.now()): void {
    this.entries.pruneFront(now)
    const entry = this.entries.get(key)
    if (entry !== undefined) {
      if (entry.hints.size < HINTS_PER_RECORD) entry.hints.add(hint ?? '')
      return
    }
    this.entries.set(key, { hints: new Set([hint ?? '']), until: now + this.ttlMs })
  }

  /** Forgets `key`: its record is here now. */
  delete(key: string): void {
    this.entries.delete(key)
  }

  /** Records remembered. */
  get size(): number {
    return this.entries.size
  }
}
