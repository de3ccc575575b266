/**
 * The state of one request's stash (which record it reads, what it loaded, what its cookie must
 * say) and the transitions of its record: adopt a verified ID, issue a new one, forget it,
 * abandon a record deleted meanwhile, keep it alive, queue its store operations. Loading,
 * committing, updating and rotating are plain functions over this state, in files of their own;
 * `RequestState` (request-state.ts) ties them to `req.stash` and the response hooks.
 * @module
 */
import type { IncomingMessage, ServerResponse } from 'node:http'
import { StashError, StashUnavailableError } from '../errors.js'
import type { VerifiedId } from '../cookie/verified-cookies.js'
import { FlashMessages } from './flash.js'
import { newStashId, recordKeyOf, recordKeyOfHash } from '../values/ids.js'
import { storedJson } from './json-check.js'
import type { KeptAlive } from './keep-alive.js'
import { KeyExpiries } from './key-expiries.js'
import { log, recordLabel } from '../log.js'
import { RequestCookie } from './request-cookie.js'
import { hookHeaders, type HeaderHooks } from './response-hooks.js'
import type { RoutePlan } from './route-plan.js'
import { requestOwner } from './session-binding.js'
import type { StashContext } from './stash-context.js'
import type { StashObject } from './stash-object.js'
import type { NextFunction } from '../types.js'

/** A change set in JSON form, before encoding. */
export interface Changes {
  readonly set: Map<string, string>
  readonly del: string[]
}

/**
 * Everything express-stash knows about one request's stash. Its fields are read and written by
 * the request files (load, commit, update, rotate); its methods are the record's transitions.
 */
export abstract class StashState implements HeaderHooks, KeptAlive {
  /** `req.stash`, the public face of this state. */
  abstract readonly data: StashObject
  /** The ID cookie: the client's ID, and what the response must tell the browser. */
  readonly cookie: RequestCookie
  /** Stored keys of this request: the instance's plus those of every route it passed (shared until a route adds some). */
  keys: readonly string[]
  /** JSON of each stored key as the store holds it (after load or our own writes). */
  readonly snapshot = new Map<string, string>()
  /** Each stored key's value exactly as stored (encoded), the `expected` of `update()`. */
  stored = new Map<string, string>()
  /** `req.stash.flash`: the messages this request took from the record and those it queued. */
  readonly flash = new FlashMessages()
  /** The record key of the ID this request reads or writes; undefined for a fresh stash. */
  record: string | undefined
  /** The SHA-256 of the ID the client presented, kept after a miss: `rotate()` looks for its anonymous record. */
  presented: string | undefined
  /** The record is known to exist in the store (loaded, or written by this request). */
  persisted = false
  /** This request moved the expiry of the record's keys (a write, a slide). */
  slid = false
  /** The ttl of each stored key, the expiries the store holds, the creation time, `touch`. */
  readonly expiry: KeyExpiries
  /** The record key was made for this request's session value (a new ID, or `rotate()`). */
  bound = false
  /** The instance's keep-alive slides this stash's expiry (see {@link StashState.keepAlive}). */
  keptAlive = false
  /** The application ended the response: the end-of-request commit has started. */
  ending = false
  /** `res.writeHead` is hooked: {@link StashState.beforeHeaders} runs before the headers go out. */
  headersWatched = false
  /** The last store operation of `save`, `reset`, `rotate`, `update` or the commit; none yet on most requests. */
  queue: Promise<unknown> | undefined
  /** Store operations queued and not settled yet. */
  pending = 0
  /** False when the store could not answer at load and `onUnavailable` is `'continue'`. */
  available = true

  constructor(
    /** The stash instance serving this request. */
    readonly context: StashContext,
    /** The request. */
    readonly req: IncomingMessage,
    /** Its response. */
    readonly res: ServerResponse,
    /** The `next` of the middleware that created this state: where a failed final commit goes. */
    readonly next: NextFunction,
    /** The owner the record key is bound to (`sessionKey`), as the request began. */
    public owner: string | undefined,
    /** The plan of the mount point that created this state. */
    plan: RoutePlan,
  ) {
    this.keys = plan.keys
    this.expiry = new KeyExpiries(context.options.maxLifetime, context.options.touch, plan)
    this.cookie = new RequestCookie(context.options, context.adapter, context.secrets, context.verifiedCookies)
  }

  /** The `writeHead` hook: adds the cookie the response must carry. */
  abstract beforeHeaders(writeHeadHeaders: unknown): void

  /** Adopts an ID read from a verified cookie; the load confirms the store knows it. */
  adopt(verified: VerifiedId): void {
    this.cookie.adopt(verified)
    this.presented = verified.hash
    this.record = recordKeyOfHash(verified.hash, this.owner)
  }

  /** `req.stash` as a record of its keys. */
  get values(): Record<string, unknown> {
    return this.data as unknown as Record<string, unknown>
  }

  /** Runs store operations of this request one after another. */
  enqueue<T>(task: () => Promise<T>): Promise<T> {
    this.pending++
    const run = (this.queue ?? Promise.resolve()).then(task)
    this.queue = run.then(
      () => this.pending--,
      () => this.pending--,
    )
    return run
  }

  /**
   * Runs a store call that creates or changes the record. When a freshly issued ID's first
   * write fails, the ID is dropped, so no cookie points at a record that does not exist.
   */
  async guard<T>(operation: () => Promise<T>): Promise<T> {
    try {
      const result = await this.context.store.call(operation, 'write')
      this.persisted = true
      this.slid = true
      this.keepAlive()
      return result
    } catch (err) {
      if (!this.persisted) this.forget()
      throw err
    }
  }

  /** Hooks `res.writeHead`, once, while the headers can still change. */
  watchHeaders(): void {
    if (this.headersWatched || this.res.headersSent) return
    this.headersWatched = true
    hookHeaders(this.res, this)
  }

  /** A write resolved `receipt`: a new record version goes out in the cookie (its headers are watched from now on). */
  written(receipt: unknown): void {
    if (this.cookie.written(receipt)) this.watchHeaders()
  }

  /** A new ID, bound to the request's session value as it is now. */
  issue(): void {
    this.watchHeaders()
    const id = newStashId()
    this.owner = this.ownerNow()
    this.bound = true
    this.record = recordKeyOf(id, this.owner)
    this.expiry.createdAt = Date.now()
    if (log.enabled) log('new stash %s', recordLabel(this.record))
    this.cookie.issue(id)
  }

  /** A write to an unconfirmed record goes to a new ID, unless this request issued one already. */
  issueIfNeeded(): void {
    if (this.cookie.issued) return
    this.assertCookieWritable('store a new stash')
    this.issue()
  }

  /** The owner of the request's session value now; the one it began with when the value is of a wrong type (reported at load). */
  ownerNow(): string | undefined {
    try {
      return requestOwner(this.req, this.context.options.sessionKey)
    } catch {
      return this.owner
    }
  }

  /** Throws `ERR_STASH_HEADERS_SENT` when no cookie can carry a new ID any more. */
  assertCookieWritable(action: string): void {
    if (this.res.headersSent) {
      throw new StashError(
        'ERR_STASH_HEADERS_SENT',
        `cannot ${action} after the response headers were sent: no cookie could carry the new ID; nothing was written`,
      )
    }
  }

  /** The ID is not (or no longer) known to the store. */
  forget(): void {
    this.persisted = false
    this.record = undefined
    this.expiry.forget()
    this.cookie.forget()
  }

  /** The ID and everything loaded with it are forgotten. */
  forgetAll(): void {
    this.forget()
    this.snapshot.clear()
    this.stored.clear()
  }

  /** Empties `req.stash`. */
  clearData(): void {
    const values = this.values
    for (const key of Object.keys(values)) delete values[key]
  }

  /**
   * The record this request held is gone: deleted by a `reset()`, `rotate()` or `revokeAll()` of
   * another request since this one loaded it. The request goes on as one without a stash: the
   * values it loaded and did not change, and the flash messages it took, are dropped (a later write
   * must not bring them back under a new ID), the cookie is cleared, and what it changed (or
   * queued) is stored under a new ID, if anything.
   */
  abandon(): void {
    const record = this.record
    if (record !== undefined) {
      log('%s is gone (reset, rotated or revoked meanwhile): nothing of it is written back', recordLabel(record))
      this.context.store.expired(record)
    }
    const values = this.values
    for (const [key, json] of this.snapshot) {
      let unchanged: boolean
      try {
        unchanged = storedJson(key, values[key]) === json
      } catch {
        unchanged = false // reported by the commit
      }
      if (unchanged) delete values[key]
    }
    this.cookie.drop()
    this.forgetAll()
    this.flash.dropTaken()
    this.presented = undefined
  }

  /**
   * While the response stays open (server-sent events, streaming, long polling), slides the
   * expiry of the loaded keys every quarter of their shortest ttl, so the state outlives the
   * connection by one ttl (LiveStash: "bumped while alive"). It stops when the application ends
   * the response or the connection closes; a route with `touch: false` never keeps a stash alive.
   */
  keepAlive(): void {
    // A response that ends without our end hook (a destroyed connection) is let go by the keep-alive's tick.
    if (this.keptAlive || this.ending || !this.expiry.touch) return
    this.keptAlive = true
    this.context.keepAlive.add(this)
  }

  /** Milliseconds between two keep-alive touches: a quarter of the shortest ttl of the request's keys. */
  get keepAliveInterval(): number {
    return this.expiry.shortestTtl() * 250
  }

  /** One keep-alive touch ({@link KeptAlive}): the loaded keys slide, each by its ttl. */
  keepAliveTouch(): void {
    const record = this.record
    if (record === undefined || !this.persisted || !this.expiry.touch) return
    const slides = this.expiry.slidesDue(this.keys, Date.now())
    if (slides === undefined) return
    const { adapter, store } = this.context
    store
      .call(() => adapter.write(record, { set: {}, del: [], expiresAt: slides, existing: true }), 'write')
      .then(
        (result) => {
          if (result !== 'gone' && this.record === record) this.expiry.record(slides)
        },
        (err: unknown) => store.report(err),
      )
  }
}

/** The error of a stored value that failed to decode: it is ignored, and removed by the next write. */
export function corruptError(key: string, reason: string): StashError {
  return new StashError('ERR_STASH_CORRUPT', `stored value of key "${key}" ignored and removed: ${reason}`)
}

/** The error of a write attempted by a request that could not load its stash. */
export function unavailableWriteError(): StashUnavailableError {
  return new StashUnavailableError('the store was unavailable when this request loaded its stash; its write was dropped')
}
