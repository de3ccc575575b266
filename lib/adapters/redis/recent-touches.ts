/**
 * The memory of the expiries one Redis adapter slid lately, so that a burst of loads sends one
 * `PEXPIRE`, not one per load.
 * @module
 */
import { BoundedMap } from '../../values/bounded-map.js'

/** How many records' expiries one Redis adapter remembers. */
const CAPACITY = 10_000
/** A load skips the touch while the last one from this process is younger than this share of the ttl. */
const SLACK = 0.01

/**
 * The expiries one Redis adapter pushed out lately, so that a client's burst of requests slides
 * its record's expiry once instead of once per request: a load sends `PEXPIRE` only when the
 * last one this process sent for the record is more than 1 % of the ttl old (3 s of the default
 * 300 s). A record therefore lives at least 99 % of its ttl after its last load, on every node,
 * since each process measures from its own last touch on its own monotonic clock.
 * Bounded: at most `CAPACITY` records; past it the oldest is forgotten (and touched on its next load).
 */
export class RecentTouches {
  /** Record key → when (`performance.now()`) its last touch from here expires; in the order of the touches. */
  private readonly expiries: BoundedMap<string, number>

  constructor(capacity = CAPACITY) {
    this.expiries = new BoundedMap({ capacity })
  }

  /** Whether a load at `now` with a ttl of `ttlMs` must slide the expiry of `key`. */
  due(key: string, ttlMs: number, now: number): boolean {
    const expiry = this.expiries.get(key)
    return expiry === undefined || expiry - now < ttlMs * (1 - SLACK)
  }

  /** Notes that a touch sent at `now` pushed the expiry of `key` to at least `ttlMs` later. */
  touched(key: string, ttlMs: number, now: number): void {
    this.expiries.refresh(key, now + ttlMs)
  }

  /** Records remembered. */
  get size(): number {
    return this.expiries.size
  }
}
