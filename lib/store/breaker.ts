/**
 * The circuit breaker in front of the store: an outage costs requests nothing instead of a timeout each.
 * @module
 */
import { performance } from 'node:perf_hooks'

/** The first pause after the store fails, in milliseconds; each failed probe doubles it. */
const FIRST_PAUSE = 50
/** The longest pause: a store that answers again is back in use within this (plus one call). */
const LONGEST_PAUSE = 500
/** A probe unanswered this long (an adapter without a timeout of its own) no longer holds the others back. */
const PROBE_GIVEN_UP = 5000

/** What the breaker says of a call about to be made. */
export type Admission = 'call' | 'probe' | 'refuse'

/**
 * A circuit breaker in front of the store. While the store answers, every call goes through.
 * Once a call finds it unavailable, calls are refused at once for a pause (50 ms, doubling with
 * each failed probe up to 500 ms), so that an outage costs requests nothing instead of a whole
 * `timeout` each. After the pause one call at a time goes through as the probe; the others are
 * still refused until it is answered. Any answer closes the breaker, so a store that comes back
 * is in use again within half a second of its first answer.
 */
export class CircuitBreaker {
  private open = false
  private probing = false
  private probeStarted = 0
  private pause = 0
  private retryAt = 0
  /** The failure that opened the breaker (or the last failed probe's). */
  lastFailure: unknown

  /** Whether the breaker lets calls through now (the store is considered available). */
  get closed(): boolean {
    return !this.open
  }

  /** Milliseconds until the next probe may go (0 when it may go now). */
  get retryIn(): number {
    return Math.max(0, Math.ceil(this.retryAt - performance.now()))
  }

  /** Decides a call about to be made: through, as the probe, or refused. */
  admit(): Admission {
    if (!this.open) return 'call'
    const now = performance.now()
    if (now < this.retryAt || (this.probing && now - this.probeStarted < PROBE_GIVEN_UP)) return 'refuse'
    this.probing = true
    this.probeStarted = now
    return 'probe'
  }

  /**
   * The store answered a call (whatever the answer). Returns true when that closed the breaker:
   * the store is available again.
   */
  answered(): boolean {
    this.probing = false
    if (!this.open) return false
    this.open = false
    this.pause = 0
    this.lastFailure = undefined
    return true
  }

  /**
   * A call found the store unavailable. Returns true when that opened the breaker. A call that
   * was already in flight when the breaker opened changes nothing; a failed probe doubles the pause.
   */
  failed(err: unknown, wasProbe: boolean): boolean {
    if (this.open && !wasProbe) return false
    const opened = !this.open
    this.open = true
    this.probing = false
    this.pause = opened ? FIRST_PAUSE : Math.min(this.pause * 2, LONGEST_PAUSE)
    this.retryAt = performance.now() + this.pause
    this.lastFailure = err
    return opened
  }
}
