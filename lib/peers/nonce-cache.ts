/**
 * The peer endpoint's memory of accepted request nonces (replay protection).
 * @module
 */
import { BoundedMap } from '../values/bounded-map.js'

/**
 * Most nonces a node remembers. Only authenticated requests add one, each for at most twice the
 * window, so this allows a sustained 1,600 accepted requests a second; past it requests are refused.
 */
export const MAX_NONCES = 100_000

/**
 * Nonces of accepted requests, each kept until its request could no longer pass the timestamp
 * check: a captured request works once. Bounded: at most `capacity` nonces; when that many are
 * still alive, `claim` refuses (the request fails) rather than forget one that could be replayed.
 */
export class NonceCache {
  /**
   * Nonce → the moment (`Date.now()`) it may be forgotten. Refuses when full: forgetting a live
   * nonce would open a replay. Insertion order is nearly expiry order (every expiry lies within
   * two windows of its insertion), so the expired nonces are mostly at the front.
   */
  private readonly until: BoundedMap<string, number>

  constructor(capacity = MAX_NONCES) {
    this.until = new BoundedMap({ capacity, whenFull: 'refuse', expiresAt: (until) => until })
  }

  /** Records `nonce`, to be kept until `until`; false when it was seen already, or the cache is full. */
  claim(nonce: string, until: number, now: number): boolean {
    this.until.pruneFront(now)
    if (this.until.has(nonce)) return false
    if (this.until.set(nonce, until)) return true
    this.until.sweep(now) // full: the expired ones behind a live front go too, then it may fit
    return this.until.set(nonce, until)
  }

  /** Nonces remembered. */
  get size(): number {
    return this.until.size
  }
}
