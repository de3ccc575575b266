/** Most records one node remembers as searched and not found. */
const CAPACITY = 10_000
/** Most hints remembered per record; a record has a handful (one per node it visited). */
const HINTS_PER_RECORD = 16

/**
 * Record keys this node searched its peers for lately without finding them, each with the cookie
 * hints it was searched under, for `ttlMs`: a cookie whose record is gone (a client ignoring the
 * Set-Cookie that cleared it, or a script replaying it) costs one search, not one per request.
 * A cookie with another hint is searched again: it was re-hinted by the node the record moved to.
 * Bounded: at most `capacity` records; past it the oldest is forgotten (and searched again).
 * The clock is `performance.now()`.
 */
export class RecentMisses {
  /** Record key → hints searched, and when (`performance.now()`) the entry expires. */
  private readonly entries = new Map<string, { readonly hints: Set<string>; readonly until: number }>()

  constructor(
    private readonly ttlMs: number,
    private readonly capacity = CAPACITY,
  ) {}

  /** Whether `key` was searched under `hint` less than `ttlMs` ago and not found. */
  has(key: string, hint: string | undefined, now = performance.now()): boolean {
    const entry = this.entries.get(key)
    if (entry === undefined) return false
    if (entry.until > now) return entry.hints.has(hint ?? '')
    this.entries.delete(key)
    return false
  }

  /** Notes that a search of `key` under `hint` found nothing. */
  add(key: string, hint: string | undefined, now = performance.now()): void {
    // Insertion order is expiry order: the expired entries are at the front.
    for (const [old, entry] of this.entries) {
      if (entry.until > now) break
      this.entries.delete(old)
    }
    const entry = this.entries.get(key)
    if (entry !== undefined) {
      if (entry.hints.size < HINTS_PER_RECORD) entry.hints.add(hint ?? '')
      return
    }
    if (this.entries.size >= this.capacity) this.entries.delete(this.entries.keys().next().value!)
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
