import type { EventEmitter } from 'node:events'
import type { IncomingMessage, ServerResponse } from 'node:http'
import { performance } from 'node:perf_hooks'
import type { StashAdapter } from './adapter.js'
import type { Codec } from './codec.js'
import { readId } from './cookie.js'
import { StashError, StashUnavailableError } from './errors.js'
import { sha256 } from './ids.js'
import type { ResolvedOptions } from './options.js'
import { KeepAlive } from './keep-alive.js'
import { log } from './log.js'
import { RequestState } from './request-state.js'
import { hookEnd } from './response-hooks.js'
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
  private readonly verifiedCookies = new VerifiedCookies()
  private storeAvailable = true

  constructor(
    readonly options: ResolvedOptions,
    readonly adapter: StashAdapter,
    readonly secrets: readonly string[],
    readonly codec: Codec,
    private readonly events: EventEmitter,
  ) {}

  /** Attaches (or extends) `req.stash` with `keys`, then calls `next`. */
  handle(req: IncomingMessage, res: ServerResponse, next: NextFunction, keys: readonly string[], ttl: number): void {
    const existing = (req as { stash?: unknown }).stash
    if (existing !== undefined) {
      const state = requestStateOf(existing)
      if (state?.runtime !== this) {
        return next(new TypeError('express-stash: req.stash is already set by another stash instance or by the application'))
      }
      state.extend(keys, ttl).then(
        () => proceed(state, next),
        (err: unknown) => this.loadFailed(state, err, next),
      )
      return
    }
    let owner: string | undefined
    if (this.options.sessionKey !== undefined) {
      try {
        owner = this.ownerOf(req)
      } catch (err) {
        return next(err)
      }
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
   * Runs one adapter call and classifies its failure: a failed read means the store is
   * unavailable; a failed write is `ERR_STASH_WRITE`. Emits `'unavailable'`/`'available'`.
   */
  call<T>(operation: () => Promise<T>, kind: 'read' | 'write' = 'read'): Promise<T> {
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
        if (!this.storeAvailable) {
          this.storeAvailable = true
          log('the %s store answers again', this.adapter.kind)
          this.events.emit('available')
        }
        return result
      },
      (err: unknown) => {
        this.stats.recordCall(started)
        this.stats.errors++
        throw this.classify(err, kind)
      },
    )
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

  /** The error of a write attempted by a request that could not load its stash. */
  unavailableWrite(): StashUnavailableError {
    return new StashUnavailableError('the store was unavailable when this request loaded its stash; its write was dropped')
  }

  private classify(err: unknown, kind: 'read' | 'write'): StashError {
    if (err instanceof StashUnavailableError || (!(err instanceof StashError) && kind === 'read')) {
      if (this.storeAvailable) {
        this.storeAvailable = false
        log('the %s store is unavailable: %s', this.adapter.kind, (err as Error)?.message)
        this.events.emit('unavailable', err)
      }
      return err instanceof StashUnavailableError
        ? err
        : new StashUnavailableError(`the ${this.adapter.kind} store failed to answer: ${(err as Error)?.message}`, { cause: err })
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

  private ownerOf(req: IncomingMessage): string {
    const key = this.options.sessionKey!
    const found =
      typeof key === 'function'
        ? sessionValue(key(req))
        : (sessionValue((req as { session?: Record<string, unknown> }).session?.[key]) ??
          sessionValue((req as { signedCookies?: Record<string, unknown> }).signedCookies?.[key]))
    if (found === undefined) {
      const where =
        typeof key === 'function' ? 'the sessionKey function returned none' : `looked in req.session and req.signedCookies`
      throw new StashError(
        'ERR_STASH_SESSION_KEY',
        `sessionKey ${typeof key === 'function' ? '' : `"${key}" `}has no value on this request (${where})`,
      )
    }
    return sha256(found)
  }
}

/** Hands the request to the application once its stash is ready. */
function proceed(state: RequestState, next: NextFunction): void {
  state.watchHeadersIfCookieMayChange()
  next()
}

function sessionValue(value: unknown): string | undefined {
  if (typeof value === 'string') return value === '' ? undefined : value
  if (typeof value === 'number' && Number.isFinite(value)) return String(value)
  return undefined
}
