import type { EventEmitter } from 'node:events'
import type { IncomingMessage, ServerResponse } from 'node:http'
import { performance } from 'node:perf_hooks'
import type { StashAdapter, StashEviction } from './adapter.js'
import type { Codec } from './codec.js'
import { readId } from './cookie.js'
import { CircuitBreaker } from './breaker.js'
import { DevWarnings } from './dev-warnings.js'
import { StashError, StashUnavailableError } from './errors.js'
import type { ResolvedOptions } from './options.js'
import { KeepAlive } from './keep-alive.js'
import { log } from './log.js'
import { RequestState } from './request-state.js'
import { hookEnd } from './response-hooks.js'
import { requestOwner } from './session-binding.js'
import { requestStateOf } from './stash.js'
import { StatsRecorder } from './stats.js'
import { VerifiedCookies } from './verified-cookies.js'
import type { NextFunction } from './types.js'

/**
 * What one `createStash()` instance shares across its requests: options, adapter, codec and
 * events. It turns a request into a {@link RequestState} and store failures into errors.
 */
export class StashRuntime {
  /** The counters behind `stash.stats()`. */
  readonly stats = new StatsRecorder()
  /** Slides the expiry of stashes whose responses stay open. */
  readonly keepAlive = new KeepAlive()
  /** Warnings of mistakes that would lose data without a sign (development, `DEBUG`). */
  readonly warnings = new DevWarnings()
  /** Every stored key of this instance and of its routes: a write to one of them on a route that does not store it is warned of. */
  readonly declaredKeys: Set<string>
  private readonly verifiedCookies = new VerifiedCookies()
  private readonly breaker = new CircuitBreaker()

  constructor(
    readonly options: ResolvedOptions,
    readonly adapter: StashAdapter,
    readonly secrets: readonly string[],
    readonly codec: Codec,
    private readonly events: EventEmitter,
  ) {
    this.declaredKeys = new Set(options.storedKeys)
  }

  /** Attaches (or extends) `req.stash` with `keys`, then calls `next`. */
  handle(req: IncomingMessage, res: ServerResponse, next: NextFunction, keys: readonly string[], ttl: number): void {
    const existing = (req as { stash?: unknown }).stash
    if (existing !== undefined) {
      const state = requestStateOf(existing)
      if (state?.runtime !== this) {
        return next(
          new TypeError(
            state === undefined
              ? 'express-stash: req.stash is already set by the application (or by another copy of express-stash); it cannot be replaced'
              : 'express-stash: this request already has a stash of another instance: one request carries one stash instance. Mount the other instance on other paths, or use one instance with stash.route({ storedKeys }) for more keys',
          ),
        )
      }
      state.extend(keys, ttl).then(
        () => proceed(state, next),
        (err: unknown) => this.loadFailed(state, err, next),
      )
      return
    }
    let owner: string | undefined
    try {
      owner = this.ownerOf(req)
    } catch (err) {
      return next(err)
    }
    const state = new RequestState(this, req, res, next, owner, keys, ttl)
    ;(req as { stash?: unknown }).stash = state.data
    hookEnd(res, state)
    const cookie = readId(req.headers.cookie, this.options.cookie.name, this.secrets, this.verifiedCookies)
    if (cookie === undefined) return proceed(state, next)
    state.adopt(cookie)
    state.load(keys, ttl).then(
      () => proceed(state, next),
      (err: unknown) => this.loadFailed(state, err, next),
    )
  }

  /**
   * Runs one adapter call behind the circuit breaker and classifies its failure: a failed read
   * means the store is unavailable; a failed write is `ERR_STASH_WRITE`. While the breaker is
   * open, calls fail at once with `StashUnavailableError`. Emits `'unavailable'`/`'available'`.
   */
  call<T>(operation: () => Promise<T>, kind: 'read' | 'write' = 'read'): Promise<T> {
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
        this.stats.recordCall(started)
        this.stats.errors++
        const failure = this.classify(err, kind)
        if (failure instanceof StashUnavailableError) {
          if (this.breaker.failed(failure, admission === 'probe')) {
            log('the %s store is unavailable: %s', this.adapter.kind, (err as Error)?.message ?? err)
            this.events.emit('unavailable', failure)
          }
        } else this.answered()
        throw failure
      },
    )
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

  /** The error of a write attempted by a request that could not load its stash. */
  unavailableWrite(): StashUnavailableError {
    return new StashUnavailableError('the store was unavailable when this request loaded its stash; its write was dropped')
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

  private classify(err: unknown, kind: 'read' | 'write'): StashError {
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

  private loadFailed(state: RequestState, err: unknown, next: NextFunction): void {
    if (err instanceof StashUnavailableError && this.options.onUnavailable === 'continue') {
      state.available = false
      return next()
    }
    next(err)
  }

  /**
   * The owner a stash of this request is bound to now (`sessionKey`): undefined without the
   * option or without a session value (an anonymous stash).
   */
  ownerOf(req: IncomingMessage): string | undefined {
    const key = this.options.sessionKey
    return key === undefined ? undefined : requestOwner(req, key)
  }
}

/** Hands the request to the application once its stash is ready. */
function proceed(state: RequestState, next: NextFunction): void {
  state.watchHeadersIfCookieMayChange()
  next()
}
