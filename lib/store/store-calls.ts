/**
 * Every adapter call of one stash instance goes through here: the circuit breaker, the
 * classification of failures (unavailable, failed write), the latency and counters behind
 * `stash.stats()`, and the instance events that report the store's state (`'unavailable'`,
 * `'available'`, `'expired'`, `'evicted'`, `'error'`).
 * @module
 */
import type { EventEmitter } from 'node:events'
import { performance } from 'node:perf_hooks'
import type { StashAdapter, StashEviction } from './adapter.js'
import { CircuitBreaker } from './breaker.js'
import { StatsRecorder } from './stats.js'
import { StashError, StashUnavailableError } from '../errors.js'
import { log } from '../log.js'

/** What a store call does: a read (a failure means unavailable) or a write (counted in `stats().writes`). */
export type CallKind = 'read' | 'write'

/** The adapter of one stash instance behind its breaker, with the counters and events of its calls. */
export class StoreCalls {
  /** The counters behind `stash.stats()`. */
  readonly stats = new StatsRecorder()
  private readonly breaker = new CircuitBreaker()

  constructor(
    /** The adapter every call goes to. */
    readonly adapter: StashAdapter,
    /** The stash instance: where the events go. */
    private readonly events: EventEmitter,
  ) {}

  /**
   * Runs one adapter call behind the circuit breaker and classifies its failure: a failed read
   * means the store is unavailable; a failed write is `ERR_STASH_WRITE`. While the breaker is
   * open, calls fail at once with `StashUnavailableError`. Emits `'unavailable'`/`'available'`.
   */
  call<T>(operation: () => Promise<T>, kind: CallKind = 'read'): Promise<T> {
    const admission = this.breaker.admit()
    if (admission === 'refuse') return Promise.reject(this.refused())
    const started = performance.now()
    let pending: Promise<T>
    try {
      pending = Promise.resolve(operation()) // the same promise when the adapter returns a native one
    } catch (err) {
      pending = Promise.reject(err) // an adapter that throws instead of rejecting
    }
    return pending.then(
      (result) => {
        this.stats.recordCall(started)
        if (kind === 'write') this.stats.writes++
        this.answered()
        return result
      },
      (err: unknown) => {
        throw this.failed(err, kind, admission === 'probe', started)
      },
    )
  }

  /** Counts a failed call, classifies its error, opens the breaker on an unavailable store; the error to throw. */
  private failed(err: unknown, kind: CallKind, probe: boolean, started: number): StashError {
    this.stats.recordCall(started)
    this.stats.errors++
    const failure = this.classify(err, kind)
    if (failure instanceof StashUnavailableError) {
      if (this.breaker.failed(failure, probe)) {
        log('the %s store is unavailable: %s', this.adapter.kind, (err as Error)?.message ?? err)
        this.events.emit('unavailable', failure)
      }
    } else this.answered()
    return failure
  }

  /**
   * {@link StoreCalls.call} of a synchronous adapter call (`loadNow`): the same breaker, counters
   * and classification of failures, thrown instead of rejected.
   */
  callNow<T>(operation: () => T): T {
    const admission = this.breaker.admit()
    if (admission === 'refuse') throw this.refused()
    const started = performance.now()
    let result: T
    try {
      result = operation()
    } catch (err) {
      throw this.failed(err, 'read', admission === 'probe', started)
    }
    this.stats.recordCall(started)
    this.answered()
    return result
  }

  /** Resolves once the adapter can serve; rejects with the reason it cannot (see `stash.ready()`). */
  async ready(timeout: number): Promise<void> {
    await this.adapter.ready?.(timeout)
    this.answered()
  }

  /** Emits `'error'`, or logs when nobody listens (an unhandled `'error'` event would crash the process). */
  report(err: unknown): void {
    if (log.enabled) log('error: %s', (err as Error)?.message ?? err)
    if (this.events.listenerCount('error') > 0) this.events.emit('error', err)
    else console.error(err)
  }

  /** Reports a stored value that failed to decode (and is being removed); it counts as an error. */
  reportCorrupt(err: StashError): void {
    this.stats.errors++
    this.report(err)
  }

  /** Emits `'expired'`: a signed ID came back whose record the store no longer has. */
  expired(record: string): void {
    this.stats.misses++
    this.events.emit('expired', { record })
  }

  /** Counts an eviction pass of the adapter and emits `'evicted'` (`{ records, bytes }`). */
  evicted(eviction: StashEviction): void {
    this.stats.evictions += eviction.records
    try {
      this.events.emit('evicted', eviction)
    } catch (err) {
      this.report(err) // a listener that throws must not fail the write that caused the eviction
    }
  }

  /** The store answered (whatever the answer): a breaker that was open closes. */
  private answered(): void {
    if (this.breaker.answered()) {
      log('the %s store answers again', this.adapter.kind)
      this.events.emit('available')
    }
  }

  /** The error of a call the open breaker refused. */
  private refused(): StashUnavailableError {
    this.stats.errors++
    const cause = this.breaker.lastFailure
    return new StashUnavailableError(
      `the ${this.adapter.kind} store is unavailable (${(cause as Error)?.message ?? 'it failed'}); the next try goes out in ${this.breaker.retryIn} ms`,
      { cause },
    )
  }

  /** The error a failed call rejects with: unavailable for a read, `ERR_STASH_WRITE` for a write. */
  private classify(err: unknown, kind: CallKind): StashError {
    if (err instanceof StashUnavailableError) return err
    if (!(err instanceof StashError) && kind === 'read') {
      return new StashUnavailableError(`the ${this.adapter.kind} store failed to answer: ${(err as Error)?.message}`, {
        cause: err,
      })
    }
    if (err instanceof StashError) return err
    return new StashError('ERR_STASH_WRITE', `the ${this.adapter.kind} store failed a write: ${(err as Error)?.message}`, {
      cause: err,
      status: 503,
    })
  }
}
