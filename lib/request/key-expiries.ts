/**
 * The expiry model of one request's stash: each stored key has the ttl of the route that
 * declares it, a load slides the keys it loads (unless `touch` is off), a write sets the expiry
 * of the keys it writes, and `maxLifetime` caps them all.
 * @module
 */
import type { RoutePlan } from './route-plan.js'

/** A load slides a key only when its stored expiry is off from the planned one by more than this share of its ttl. */
const SLIDE_SLACK = 0.01

/**
 * The expiries of one request's stored keys: the ttl each key takes on this request, the expiry
 * the store holds for each key it holds, the record's creation time, and whether this request
 * slides. Times are milliseconds since the epoch.
 *
 * Sliding costs a store call, so a loaded key is slid only when its expiry would move by more
 * than 1 % of its ttl (3 s of the default 300 s): a burst of requests slides it once, on every
 * node alike, since the decision reads the expiry the store holds.
 */
export class KeyExpiries {
  /** The ttl (seconds) each stored key of this request takes: that of the route that declares it (the plan's own map until a second route adds its own). */
  private ttls: ReadonlyMap<string, number>
  /** When each stored key that the store holds expires there, as loaded or written by this request. */
  readonly stored = new Map<string, number>()
  /** When the record was created; undefined for a new stash, or a record that did not keep it. */
  createdAt: number | undefined
  /** Whether this request's loads slide expiries (the last route's `touch` that says, else the instance's). */
  touch: boolean
  /** The ttl of the last plan: a request without stored keys has its cookie capped by it. */
  private fallbackTtl: number

  constructor(
    /** The `maxLifetime` option, seconds; undefined for none. */
    private readonly maxLifetime: number | undefined,
    instanceTouch: boolean,
    plan: RoutePlan,
  ) {
    this.ttls = plan.ttls
    this.touch = plan.touch ?? instanceTouch
    this.fallbackTtl = plan.ttl
  }

  /** Takes a later mount point's ttls and `touch`: the route that comes last decides for the keys it declares. */
  apply(plan: RoutePlan): void {
    const ttls = new Map(this.ttls)
    for (const key of plan.keys) if (!ttls.has(key)) ttls.set(key, plan.instanceTtl)
    for (const key of plan.own) ttls.set(key, plan.ttl)
    this.ttls = ttls
    if (plan.touch !== undefined) this.touch = plan.touch
    this.fallbackTtl = plan.ttl
  }

  /** The ttl (seconds) of `key` on this request. */
  ttlOf(key: string): number {
    return this.ttls.get(key) ?? this.fallbackTtl
  }

  /** When the stash ends whatever its activity (`maxLifetime` after its creation); Infinity without one. */
  lifetimeEnd(now: number): number {
    if (this.maxLifetime === undefined) return Infinity
    return (this.createdAt ?? now) + this.maxLifetime * 1000
  }

  /** Whether a record created at `createdAt` has outlived `maxLifetime` at `now`. */
  outlived(createdAt: number | undefined, now: number): boolean {
    return this.maxLifetime !== undefined && createdAt !== undefined && createdAt + this.maxLifetime * 1000 <= now
  }

  /** When `key` expires if this request writes or slides it at `now`. */
  planned(key: string, now: number): number {
    return Math.min(now + this.ttlOf(key) * 1000, this.lifetimeEnd(now))
  }

  /** Whether a load of `key` at `now` must slide it: `touch` is on, the store holds it, and it would move by more than 1 % of its ttl. */
  slideDue(key: string, now: number): boolean {
    const current = this.stored.get(key)
    if (!this.touch || current === undefined) return false
    return Math.abs(this.planned(key, now) - current) > this.ttlOf(key) * 1000 * SLIDE_SLACK
  }

  /**
   * The new expiries of the loaded keys among `keys` whose slide is due at `now`, leaving out
   * those `skip` accepts (keys the same write sets or removes); `undefined` when none is due.
   */
  slidesDue(keys: readonly string[], now: number, skip?: (key: string) => boolean): Record<string, number> | undefined {
    let slides: Record<string, number> | undefined
    for (const key of keys) {
      if (!this.slideDue(key, now) || skip?.(key) === true) continue
      slides ??= {}
      slides[key] = this.planned(key, now)
    }
    return slides
  }

  /** Notes expiries the store accepted. */
  record(expiresAt: Readonly<Record<string, number>>): void {
    for (const [key, at] of Object.entries(expiresAt)) this.stored.set(key, at)
  }

  /**
   * Seconds the stash may live after a request at `now`: the longest ttl of its keys, within
   * `maxLifetime` (the cookie's `Max-Age` never goes beyond it). At least 1.
   */
  longestLife(now: number): number {
    let longest = this.ttls.size === 0 ? this.fallbackTtl : 0
    for (const ttl of this.ttls.values()) longest = Math.max(longest, ttl)
    const left = Math.ceil((this.lifetimeEnd(now) - now) / 1000)
    return Math.max(1, Math.min(longest, left))
  }

  /** The shortest ttl (seconds) of the request's keys: the keep-alive slides at a quarter of it. */
  shortestTtl(): number {
    let shortest = Infinity
    for (const ttl of this.ttls.values()) shortest = Math.min(shortest, ttl)
    return shortest === Infinity ? this.fallbackTtl : shortest
  }

  /** The record is forgotten (a miss, a reset, a record gone): nothing of its expiries is kept. */
  forget(): void {
    this.stored.clear()
    this.createdAt = undefined
  }
}
