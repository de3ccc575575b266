/**
 * `RequestState`: one request's stash as `req.stash` and the response hooks see it. It adds to
 * {@link StashState} the methods behind `req.stash` (save, reset, rotate, update, the cookie's
 * lifetime) and the hooks of the response (before the headers, before the end), each handing
 * over to the file of its concern: load.ts, commit.ts, update.ts, rotate.ts.
 * @module
 */
import { appendSetCookie } from '../cookie/signed-id.js'
import { storedJson } from './json-check.js'
import { collectChanges, collectChangesOrNone, commitChanges, mustConfirmRecord, slidesOf } from './commit.js'
import { commitFlash, noteFlashWaiting, rebaseFlash } from './flash-store.js'
import { extendStash, loadStash } from './load.js'
import { reloadStash } from './reload.js'
import type { EndHooks } from './response-hooks.js'
import { resetStash, rotateStash } from './rotate.js'
import type { RoutePlan } from './route-plan.js'
import { StashState, type Changes } from './stash-state.js'
import { backendOf, StashObject, type StashBackend } from './stash-object.js'
import { updateKey } from './update.js'

/**
 * Everything express-stash knows about one request: which record it reads, what it loaded, and
 * how to commit what changed. `req.stash` (a {@link StashObject}) is its public face.
 */
export class RequestState extends StashState implements EndHooks, StashBackend {
  /** `req.stash`. */
  readonly data = new StashObject(this)

  /**
   * Loads `keys` and their expiries in one round trip. An ID whose record does not exist is
   * dropped: the request continues with a fresh stash. `undefined` when the adapter answered
   * from memory and nothing is left to wait for.
   */
  load(keys: readonly string[]): Promise<void> | undefined {
    return loadStash(this, keys)
  }

  /** Adds a route's keys, ttls and `touch`: loads the keys not loaded yet (`undefined`: done already). */
  extend(plan: RoutePlan): Promise<void> | undefined {
    return extendStash(this, plan)
  }

  /**
   * Called before the request moves on to the application: hooks the headers when this request
   * may have to send a cookie (a fresh stash, a re-sign, rolling, a lifetime cut to the ttl). A
   * returning client's request that changes none of that skips the hook; `issue()`, `rotate()`,
   * `reset()` and a change of `req.stash.cookie.maxAge` add it.
   */
  watchHeadersIfCookieMayChange(): void {
    if (!this.persisted || this.cookie.mayResend(this.expiry.longestLife(Date.now()))) this.watchHeaders()
  }

  /** The `res.end` hook: `undefined` when nothing is left to do, else the pending commit. */
  beforeEnd(): Promise<void> | undefined {
    this.ending = true
    if (this.keptAlive) this.context.keepAlive.delete(this)
    if (this.context.warnings.enabled) this.warnOfLosses()
    if (this.pending > 0 || this.flash.dirty) return this.save()
    let changes: Changes | undefined
    try {
      changes = collectChanges(this)
    } catch (err) {
      return Promise.reject(err)
    }
    noteFlashWaiting(this)
    if (changes === undefined && !mustConfirmRecord(this) && slidesOf(this, Date.now()) === undefined) return undefined
    return this.enqueue(() => commitChanges(this, changes))
  }

  /** The `writeHead` hook: adds the cookie when a new ID was issued, to re-sign it, clear it, or change its lifetime. */
  beforeHeaders(writeHeadHeaders: unknown): void {
    try {
      // Headers going out before the end (explicit writeHead, streaming) while a fresh stash holds
      // data: issue its ID now, so the cookie can still carry it; the data is written at the end.
      const queued = this.record === undefined && this.flash.queued // flash messages of a fresh stash
      if (
        !this.persisted &&
        !this.cookie.issued &&
        !this.ending &&
        this.available &&
        this.pending === 0 &&
        (this.keys.length > 0 || queued)
      ) {
        if (collectChangesOrNone(this)?.set.size || queued) this.issue()
      }
      const now = Date.now()
      const slid = this.slid || slidesOf(this, now) !== undefined // slides due are done by the end of the request
      const ttl = this.expiry.longestLife(now)
      const line = this.cookie.setCookie(this.req, { persisted: this.persisted, slid, ttl, presented: this.presented })
      if (line !== undefined) appendSetCookie(this.res, line, writeHeadHeaders)
      // An adapter whose records travel in cookies (cookieAdapter) sends them with the ID cookie.
      const more = this.context.adapter.responseCookies?.(this.record, line)
      if (more !== undefined) for (const extra of more) appendSetCookie(this.res, extra, writeHeadHeaders)
    } catch (err) {
      // Inside the application's writeHead: a throw here would reach whatever sent the headers.
      this.context.store.report(err)
    }
  }

  /** The final commit failed: the error replaces the response when it still can, else it is reported. */
  endFailed(err: unknown, finish: () => void): void {
    // A dropped write of an unavailable stash, or a failure after the headers went out, cannot
    // change the response any more: report it and finish as the application asked.
    if (this.res.headersSent || !this.available) {
      this.context.store.report(err)
      return finish()
    }
    this.next(err)
  }

  /** `req.stash.cookie.maxAge = seconds`: this client's cookie lifetime, from this response on. */
  setCookieMaxAge(seconds: unknown): void {
    this.cookie.setMaxAge(seconds)
    if (this.cookie.changed) this.watchHeaders()
  }

  /**
   * `req.stash.expiresAt`: when each stored key holding a value expires as the end of the
   * request leaves it: a key this request sets (or could not store as loaded) from now on, a
   * loaded key where its slide puts it, else where the store has it.
   */
  expiries(): Record<string, Date> {
    const now = Date.now()
    const { expiry, values } = this
    const expiries: Record<string, Date> = {}
    for (const key of this.keys) {
      let json: string | undefined
      try {
        json = storedJson(key, values[key])
      } catch {
        continue // cannot be stored: the commit reports it
      }
      if (json === undefined) continue
      const stored = expiry.stored.get(key)
      const kept = stored !== undefined && json === this.snapshot.get(key) && !expiry.slideDue(key, now)
      expiries[key] = new Date(kept ? stored : expiry.planned(key, now))
    }
    return Object.freeze(expiries)
  }

  /** `req.stash.save()`: persist what changed now, flash messages first (they are written back even when the data cannot be). */
  save(): Promise<void> {
    return this.enqueue(async () => {
      await commitFlash(this)
      await commitChanges(this, collectChanges(this))
    })
  }

  /** `req.stash.reset()`: delete the stored record now (its flash messages too), empty the stash and clear the cookie. */
  reset(): Promise<void> {
    this.watchHeaders()
    return this.enqueue(async () => {
      await resetStash(this)
      this.flash.clear()
    })
  }

  /** `req.stash.rotate()`: move the whole stash, flash messages included, to a new ID bound to the session value now (see {@link rotateStash}). */
  rotate(): Promise<void> {
    this.watchHeaders()
    return this.enqueue(async () => {
      await rotateStash(this)
      rebaseFlash(this)
    })
  }

  /** `req.stash.reload()`: the stored keys read again from the store itself (see {@link reloadStash}). */
  reload(): Promise<void> {
    return reloadStash(this)
  }

  /** `req.stash.flash(key, message)`, `flash(key)`, `flash()`, with the arguments as passed. */
  flashCall(args: readonly unknown[]): unknown {
    if (args.length >= 2) return this.flash.add(args[0], args[1])
    return args.length === 0 ? this.flash.readAll() : this.flash.read(args[0])
  }

  /** `req.stash.update(key, fn)`: atomic read-modify-write of one stored key. */
  update(key: string, fn: (current: unknown) => unknown): Promise<unknown> {
    return updateKey(this, key, fn)
  }

  /** Development warnings of data this request would lose without a sign (see `DevWarnings`). */
  private warnOfLosses(): void {
    const { warnings, declaredKeys, options } = this.context
    for (const key of Object.keys(this.data)) {
      if (!this.keys.includes(key) && declaredKeys.has(key)) warnings.unstoredKey(this.req, key)
    }
    if (options.sessionKey !== undefined && this.persisted && !this.bound && this.ownerNow() !== this.owner) {
      warnings.bindingChanged(this.req)
    }
  }
}

/** The request state behind a `req.stash` value, or undefined when it is not one. @internal */
export function requestStateOf(value: unknown): RequestState | undefined {
  const backend = backendOf(value)
  return backend instanceof RequestState ? backend : undefined
}
