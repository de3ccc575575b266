/**
 * The request entry of a stash instance: a request's ID cookie is verified, a
 * {@link RequestState} becomes `req.stash`, its stored keys are loaded, and the request moves
 * on to the application (or its load failure to the error handlers). A route middleware on a
 * request that already has a stash extends it instead.
 * @module
 */
import type { IncomingMessage, ServerResponse } from 'node:http'
import type { Codec } from '../values/codec.js'
import { readId } from '../cookie/signed-id.js'
import { VerifiedCookies } from '../cookie/verified-cookies.js'
import { DevWarnings } from './dev-warnings.js'
import { StashUnavailableError } from '../errors.js'
import { KeepAlive } from './keep-alive.js'
import type { ResolvedOptions } from '../options.js'
import { RequestState, requestStateOf } from './request-state.js'
import { hookEnd } from './response-hooks.js'
import type { RoutePlan } from './route-plan.js'
import { requestOwner } from './session-binding.js'
import type { StashContext } from './stash-context.js'
import type { StashAdapter } from '../store/adapter.js'
import type { StoreCalls } from '../store/store-calls.js'
import type { NextFunction } from '../types.js'

/**
 * What one `createStash()` instance shares across its requests (options, adapter, codec, the
 * store calls, keep-alive, warnings), and the entry that turns each request into a
 * {@link RequestState}.
 */
export class StashRuntime implements StashContext {
  /** Slides the expiry of stashes whose responses stay open. */
  readonly keepAlive = new KeepAlive()
  /** Warnings of mistakes that would lose data without a sign (development, `DEBUG`). */
  readonly warnings = new DevWarnings()
  /** Every stored key of this instance and of its routes: a write to one of them on a route that does not store it is warned of. */
  readonly declaredKeys: Set<string>
  /** Cookie values verified lately, or signed for a returning client: a returning client's costs no HMAC. */
  readonly verifiedCookies = new VerifiedCookies()

  constructor(
    readonly options: ResolvedOptions,
    readonly adapter: StashAdapter,
    readonly secrets: readonly string[],
    readonly codec: Codec,
    readonly store: StoreCalls,
  ) {
    this.declaredKeys = new Set(options.storedKeys)
  }

  /** Attaches (or extends) `req.stash` as the mount point's `plan` says, then calls `next`. */
  handle(req: IncomingMessage, res: ServerResponse, next: NextFunction, plan: RoutePlan): void {
    const existing = (req as { stash?: unknown }).stash
    if (existing !== undefined) return this.extend(existing, next, plan)
    let owner: string | undefined
    try {
      owner = requestOwner(req, this.options.sessionKey)
    } catch (err) {
      return next(err)
    }
    const context = this.adapter.forRequest === undefined ? this : this.boundTo(req, res)
    const state = new RequestState(context, req, res, next, owner, plan)
    ;(req as { stash?: unknown }).stash = state.data
    hookEnd(res, state)
    const cookie = readId(req.headers.cookie, this.options.cookie.name, this.secrets, this.verifiedCookies)
    if (cookie === undefined) return proceed(state, next)
    state.adopt(cookie)
    this.proceedAfter(state, next, () => state.load(plan.keys))
  }

  /** This instance as one request sees it with an adapter that has `forRequest` (cookieAdapter): its calls go to the request's adapter. */
  private boundTo(req: IncomingMessage, res: ServerResponse): StashContext {
    const request = { cookieHeader: req.headers.cookie, cookieName: this.options.cookie.name, secrets: this.secrets }
    const adapter = this.adapter.forRequest!({ ...request, headersSent: () => res.headersSent })
    return Object.create(this, { adapter: { value: adapter } }) as StashContext
  }

  /** A route middleware on a request that has a stash already: loads the route's keys not loaded yet. */
  private extend(existing: unknown, next: NextFunction, plan: RoutePlan): void {
    const state = requestStateOf(existing)
    // The store calls, not the context: a request of an adapter with `forRequest` has a context of its own.
    if (state?.context.store !== this.store) {
      return next(
        new TypeError(
          state === undefined
            ? 'express-stash: req.stash is already set by the application (or by another copy of express-stash); it cannot be replaced'
            : 'express-stash: this request already has a stash of another instance: one request carries one stash instance. Mount the other instance on other paths, or use one instance with stash.route({ storedKeys }) for more keys',
        ),
      )
    }
    this.proceedAfter(state, next, () => state.extend(plan))
  }

  /** Runs a load, then hands the request on: at once when the adapter answered from memory. */
  private proceedAfter(state: RequestState, next: NextFunction, load: () => Promise<void> | undefined): void {
    let loading: Promise<void> | undefined
    try {
      loading = load()
    } catch (err) {
      return this.loadFailed(state, err, next)
    }
    if (loading === undefined) return proceed(state, next)
    loading.then(
      () => proceed(state, next),
      (err: unknown) => this.loadFailed(state, err, next),
    )
  }

  /** The load failed: an unavailable store under `onUnavailable: 'continue'` gives an empty stash, anything else goes to `next`. */
  private loadFailed(state: RequestState, err: unknown, next: NextFunction): void {
    if (err instanceof StashUnavailableError && this.options.onUnavailable === 'continue') {
      state.available = false
      return next()
    }
    next(err)
  }
}

/** Hands the request to the application once its stash is ready. */
function proceed(state: RequestState, next: NextFunction): void {
  state.watchHeadersIfCookieMayChange()
  next()
}
