/**
 * A token bucket, the rate limit of peer searches.
 * @module
 */
/**
 * A token bucket: allows `rate` events a second on average and bursts of up to `burst`. The
 * clock is `performance.now()` (monotonic), so a change of the wall clock neither drains nor
 * fills it.
 */
export class TokenBucket {
  private tokens: number
  private last: number

  constructor(
    private readonly rate: number,
    private readonly burst: number,
    now = performance.now(),
  ) {
    this.tokens = burst
    this.last = now
  }

  /** Takes one token: true when one was there (the event may happen), false when the bucket is empty. */
  take(now = performance.now()): boolean {
    this.tokens = Math.min(this.burst, this.tokens + (Math.max(0, now - this.last) * this.rate) / 1000)
    this.last = now
    if (this.tokens < 1) return false
    this.tokens -= 1
    return true
  }
}
