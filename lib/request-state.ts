import type { IncomingMessage, ServerResponse } from 'node:http'
import { appendSetCookie } from './cookie.js'
import { StashError, tooLargeError } from './errors.js'
import { ownerOfKey } from './adapter.js'
import { newStashId, recordKeyOf, recordKeyOfHash } from './ids.js'
import { assertRoundTrips, storedJson } from './json-check.js'
import { log, recordLabel } from './log.js'
import { loadOrRecover } from './recovery.js'
import type { KeptAlive } from './keep-alive.js'
import { RequestCookie } from './request-cookie.js'
import { hookHeaders, type EndHooks, type HeaderHooks } from './response-hooks.js'
import type { StashRuntime } from './runtime.js'
import { StashObject } from './stash.js'
import type { NextFunction } from './types.js'
import type { VerifiedId } from './verified-cookies.js'

// Marks a stored field that failed to decode: it differs from every JSON text, so the next
// commit removes the field (or replaces it with what the handler assigned).
const CORRUPT = '\u0000corrupt'
/** Attempts of one `update()` before it gives up with `ERR_STASH_CONFLICT`. */
const UPDATE_ATTEMPTS = 1000

/** A change set in JSON form, before encoding. */
interface Changes {
  readonly set: Map<string, string>
  readonly del: string[]
}

/**
 * Everything express-stash knows about one request: which record it reads, what it loaded, and
 * how to commit what changed. `req.stash` (a {@link StashObject}) is its public face.
 */
export class RequestState implements EndHooks, HeaderHooks, KeptAlive {
  readonly data: StashObject
  /** The ID cookie: the client's ID, and what the response must tell the browser. */
  readonly cookie: RequestCookie
  /** Stored keys of this request: the instance's plus those of every route it passed (shared until a route adds some). */
  private keys: readonly string[]
  /** JSON of each stored key as the store holds it (after load or our own writes). */
  private readonly snapshot = new Map<string, string>()
  /** Each stored key's value exactly as stored (encoded), the `expected` of `update()`. */
  private stored = new Map<string, string>()
  private record: string | undefined
  /** The SHA-256 of the ID the client presented, kept after a miss: `rotate()` looks for its anonymous record. */
  private presented: string | undefined
  /** The record is known to exist in the store (loaded, or written by this request). */
  private persisted = false
  /** This request pushed the record's expiry out (a load with touch, or a write). */
  private slid = false
  /** The record key was made for this request's session value (a new ID, or `rotate()`). */
  private bound = false
  /** The runtime's keep-alive slides this stash's expiry (see {@link RequestState.keepAlive}). */
  private keptAlive = false
  /** The application ended the response: the end-of-request commit has started. */
  private ending = false
  /** `res.writeHead` is hooked: {@link RequestState.beforeHeaders} runs before the headers go out. */
  private headersWatched = false
  /** The last store operation of `save`, `reset`, `rotate`, `update` or the commit; none yet on most requests. */
  private queue: Promise<unknown> | undefined
  private pending = 0
  /** False when the store could not answer at load and `onUnavailable` is `'continue'`. */
  available = true

  constructor(
    readonly runtime: StashRuntime,
    private readonly req: IncomingMessage,
    readonly res: ServerResponse,
    /** The `next` of the middleware that created this state: where a failed final commit goes. */
    private readonly next: NextFunction,
    /** The owner the record key is bound to (`sessionKey`), as the request began. */
    private owner: string | undefined,
    keys: readonly string[],
    public ttl: number,
  ) {
    this.keys = keys
    this.cookie = new RequestCookie(runtime.options, runtime.adapter, runtime.secrets)
    this.data = new StashObject(this)
  }

  /** Adopts an ID read from a verified cookie; `load` confirms the store knows it. */
  adopt(verified: VerifiedId): void {
    this.cookie.adopt(verified)
    this.presented = verified.hash
    this.record = recordKeyOfHash(verified.hash, this.owner)
  }

  /**
   * Loads `keys` (and slides the expiry when `touch` is on) in one round trip. An ID whose
   * record does not exist is dropped: the request continues with a fresh stash.
   */
  async load(keys: readonly string[], ttl: number): Promise<void> {
    const { adapter, codec, options } = this.runtime
    const record = this.record
    if (record === undefined || keys.length === 0) return
    let values: (string | undefined)[] | undefined
    try {
      values = await this.runtime.call(() =>
        loadOrRecover(adapter, record, keys, options.touch ? ttl : undefined, this.cookie.hint),
      )
    } catch (err) {
      // The whole record was garbage (the store already removed it): report it, start fresh.
      if (!(err instanceof StashError) || err.code !== 'ERR_STASH_CORRUPT') throw err
      this.runtime.report(err)
      return this.forgetAll()
    }
    const { stats } = this.runtime
    stats.loads++
    if (values === undefined) {
      if (log.enabled) log('load %s: no such record (expired or revoked); the stash starts empty', recordLabel(record))
      this.runtime.expired(record)
      this.cookie.drop() // a cookie whose stash is gone is cleared: it would only cost every later request a miss
      return this.forget()
    }
    stats.hits++
    this.persisted = true
    this.slid ||= options.touch
    this.keepAlive()
    const data = this.data as unknown as Record<string, unknown>
    for (let i = 0; i < keys.length; i++) {
      const key = keys[i]!
      const stored = values[i]
      if (stored === undefined) continue
      stats.bytesRead += Buffer.byteLength(key) + Buffer.byteLength(stored)
      this.stored.set(key, stored)
      const decoded = codec.decode(record, key, stored)
      if (decoded.kind === 'other-version') {
        log('load %s: written under another version; deleted', recordLabel(record))
        await this.runtime.call(() => adapter.delete(record))
        return this.forgetAll()
      }
      if (decoded.kind === 'corrupt') {
        this.snapshot.set(key, CORRUPT)
        this.runtime.reportCorrupt(corruptError(key, decoded.reason))
        continue
      }
      this.snapshot.set(key, decoded.json)
      if (!Object.hasOwn(data, key)) data[key] = decoded.value
    }
  }

  /** Adds a route's keys: loads those not loaded yet, and applies the route's ttl. */
  async extend(keys: readonly string[], ttl: number): Promise<void> {
    const fresh = keys.filter((key) => !this.keys.includes(key))
    if (fresh.length > 0) this.keys = [...this.keys, ...fresh]
    const longer = ttl > this.ttl
    this.ttl = ttl
    if (!this.available) return
    if (fresh.length > 0) return this.load(fresh, ttl)
    const record = this.record
    if (longer && record !== undefined && this.runtime.options.touch) {
      await this.runtime.call(() => this.runtime.adapter.touch(record, ttl))
    }
  }

  /**
   * Called before the request moves on to the application: hooks the headers when this request
   * may have to send a cookie (a fresh stash, a re-sign, rolling, a lifetime cut to the ttl). A
   * returning client's request that changes none of that skips the hook; `issue()`, `rotate()`,
   * `reset()` and a change of `req.stash.cookie.maxAge` add it.
   */
  watchHeadersIfCookieMayChange(): void {
    if (!this.persisted || this.cookie.mayResend(this.ttl)) this.watchHeaders()
  }

  /** The `res.end` hook: `undefined` when nothing is left to do, else the pending commit. */
  beforeEnd(): Promise<void> | undefined {
    this.ending = true
    if (this.keptAlive) this.runtime.keepAlive.delete(this)
    if (this.runtime.warnings.enabled) this.warnOfLosses()
    if (this.pending > 0) return this.enqueue(() => this.commit(this.collect()))
    let changes: Changes | undefined
    try {
      changes = this.collect()
    } catch (err) {
      return Promise.reject(err)
    }
    if (changes === undefined && !this.mustConfirmRecord()) return undefined
    return this.enqueue(() => this.commit(changes))
  }

  /** The `writeHead` hook: adds the cookie when a new ID was issued, to re-sign it, clear it, or change its lifetime. */
  beforeHeaders(writeHeadHeaders: unknown): void {
    try {
      // Headers going out before the end (explicit writeHead, streaming) while a fresh stash holds
      // data: issue its ID now, so the cookie can still carry it; the data is written at the end.
      if (
        !this.persisted &&
        !this.cookie.issued &&
        !this.ending &&
        this.available &&
        this.pending === 0 &&
        this.keys.length > 0
      ) {
        if (this.safeCollect()?.set.size) this.issue()
      }
      const line = this.cookie.setCookie(this.req, { persisted: this.persisted, slid: this.slid, ttl: this.ttl })
      if (line !== undefined) appendSetCookie(this.res, line, writeHeadHeaders)
    } catch (err) {
      // Inside the application's writeHead: a throw here would reach whatever sent the headers.
      this.runtime.report(err)
    }
  }

  /** The final commit failed: the error replaces the response when it still can, else it is reported. */
  endFailed(err: unknown, finish: () => void): void {
    // A dropped write of an unavailable stash, or a failure after the headers went out, cannot
    // change the response any more: report it and finish as the application asked.
    if (this.res.headersSent || !this.available) {
      this.runtime.report(err)
      return finish()
    }
    this.next(err)
  }

  /** `req.stash.cookie.maxAge = seconds`: this client's cookie lifetime, from this response on. */
  setCookieMaxAge(seconds: unknown): void {
    this.cookie.setMaxAge(seconds)
    if (this.cookie.changed) this.watchHeaders()
  }

  /** `req.stash.save()`: persist what changed now. */
  save(): Promise<void> {
    return this.enqueue(() => this.commit(this.collect()))
  }

  /** `req.stash.reset()`: delete the stored record now, empty the stash and clear the cookie. */
  reset(): Promise<void> {
    this.watchHeaders()
    return this.enqueue(async () => {
      const record = this.record
      if (record !== undefined) {
        // Tried even when the load failed (`onUnavailable: 'continue'`): a logout must not be dropped.
        await this.runtime.call(() => this.runtime.adapter.delete(record), 'write')
        log('reset %s', recordLabel(record))
      }
      for (const key of Object.keys(this.data)) delete (this.data as unknown as Record<string, unknown>)[key]
      this.cookie.clear()
      this.forgetAll()
      this.presented = undefined
    })
  }

  /**
   * `req.stash.rotate()`: when the client presented an ID whose record exists, moves the whole
   * record (every key, loaded or not) to a new ID bound to the request's session value now, and
   * deletes the old one; the response carries the new cookie. A stash is carried from anonymous
   * to bound (the login) and within one binding, never from one user to another: another user's
   * stash is deleted instead. Without a record there is nothing an attacker could have planted:
   * a fresh ID is issued once something is stored.
   */
  rotate(): Promise<void> {
    this.watchHeaders()
    return this.enqueue(async () => {
      const owner = this.runtime.ownerOf(this.req)
      if (this.record !== undefined || this.presented !== undefined) this.assertCookieWritable('rotate the stash ID')
      const found = await this.findRecordToRotate()
      this.owner = owner
      this.bound = true
      if (found === undefined) return this.abandon()
      const [from, all] = found
      const previous = ownerOfKey(from)
      if (previous !== undefined && previous !== owner) {
        await this.runtime.call(() => this.runtime.adapter.delete(from), 'write')
        log('rotate %s: bound to another session value; deleted, not carried over', recordLabel(from))
        for (const key of Object.keys(this.data)) delete (this.data as unknown as Record<string, unknown>)[key]
        this.cookie.drop()
        return this.forgetAll()
      }
      const id = newStashId()
      const to = recordKeyOf(id, owner)
      const fields = this.reencode(from, to, all)
      if ((await this.runtime.call(() => this.runtime.adapter.move(from, to, fields, this.ttl), 'write')) === 'gone') {
        return this.abandon() // deleted since it was read (a logout elsewhere): nothing of it may come back
      }
      log('rotate %s -> %s', recordLabel(from), recordLabel(to))
      this.stored = new Map(Object.entries(fields))
      this.record = to
      this.persisted = true
      this.slid = true
      this.cookie.issue(id)
    })
  }

  /**
   * The record `rotate()` moves, with its fields: this request's record, else (for a request
   * bound to a session value) the anonymous record of the ID the client presented, which a
   * request that brought the value with it could not load.
   */
  private async findRecordToRotate(): Promise<[string, Record<string, string>] | undefined> {
    const anonymous = this.presented === undefined ? undefined : recordKeyOfHash(this.presented, undefined)
    for (const key of new Set([this.record, anonymous])) {
      if (key === undefined) continue
      const all = await this.runtime.call(() => this.runtime.adapter.readAll(key))
      if (all !== undefined) return [key, all]
    }
    return undefined
  }

  /** `req.stash.update(key, fn)`: atomic read-modify-write of one stored key. */
  update(key: string, fn: (current: unknown) => unknown): Promise<unknown> {
    if (!this.keys.includes(key)) {
      return Promise.reject(
        new TypeError(`express-stash: update("${key}") needs a stored key of this route; "${key}" is not one`),
      )
    }
    return this.enqueue(async () => {
      if (!this.available) throw this.runtime.unavailableWrite()
      try {
        return await this.swap(key, fn)
      } catch (err) {
        if (!this.persisted) this.forget() // a new ID that stored nothing is never sent
        throw err
      }
    })
  }

  /** The compare-and-set loop of {@link RequestState.update}. */
  private async swap(key: string, fn: (current: unknown) => unknown): Promise<unknown> {
    const { adapter, codec, options } = this.runtime
    if (!this.persisted) this.issueIfNeeded()
    const record = this.record!
    let expected = this.stored.get(key)
    for (let attempt = 0; attempt < UPDATE_ATTEMPTS; attempt++) {
      const decoded = expected === undefined ? undefined : codec.decode(record, key, expected)
      const current = decoded?.kind === 'value' ? decoded.value : undefined
      const next = await fn(current)
      const json = storedJson(key, next)
      if (json !== undefined) assertRoundTrips(key, next)
      const stored = json === undefined ? undefined : codec.encode(record, key, json)
      const existing = this.persisted
      const result = await this.guard(() =>
        adapter.compareAndSet(record, {
          field: key,
          expected,
          next: stored,
          ttl: this.ttl,
          maxBytes: options.maxBytes,
          existing,
        }),
      )
      if (!result.ok && result.gone === true) {
        this.abandon() // the stash was reset, rotated or revoked meanwhile: start from nothing, under a new ID
        return this.swap(key, fn)
      }
      if (result.ok) {
        if (stored !== undefined) this.runtime.stats.bytesWritten += Buffer.byteLength(key) + Buffer.byteLength(stored)
        if (log.enabled) log('update %s: "%s" after %d attempt(s)', recordLabel(record), key, attempt + 1)
        const data = this.data as unknown as Record<string, unknown>
        if (json === undefined) {
          this.snapshot.delete(key)
          this.stored.delete(key)
          delete data[key]
        } else {
          this.snapshot.set(key, json)
          this.stored.set(key, stored!)
          data[key] = next
        }
        return next
      }
      expected = result.current
    }
    throw new StashError('ERR_STASH_CONFLICT', `update("${key}") lost ${UPDATE_ATTEMPTS} races in a row`)
  }

  /** Compares every stored key with its snapshot; `undefined` when nothing changed. */
  private collect(): Changes | undefined {
    let changes: Changes | undefined
    const data = this.data as unknown as Record<string, unknown>
    for (const key of this.keys) {
      const json = storedJson(key, data[key])
      const before = this.snapshot.get(key)
      if (json === before || (json === undefined && before === undefined)) continue
      changes ??= { set: new Map(), del: [] }
      if (json === undefined) changes.del.push(key)
      else {
        assertRoundTrips(key, data[key])
        changes.set.set(key, json)
      }
    }
    return changes
  }

  private async commit(changes: Changes | undefined): Promise<void> {
    if (changes === undefined) return this.confirmRecord()
    if (!this.available) throw this.runtime.unavailableWrite()
    // Writes go to a record the store confirmed, or to a new ID: an unconfirmed ID is never adopted.
    if (!this.persisted) {
      if (changes.set.size === 0) return this.confirmRecord()
      this.issueIfNeeded()
    }
    const record = this.record!
    const { adapter, codec, options } = this.runtime
    const set: Record<string, string> = {}
    let bytes = 0
    for (const [key, json] of changes.set) {
      const stored = codec.encode(record, key, json)
      set[key] = stored
      bytes += Buffer.byteLength(key) + Buffer.byteLength(stored)
    }
    if (bytes > options.maxBytes) {
      if (!this.persisted) this.forget()
      throw tooLargeError(bytes, options.maxBytes)
    }
    const existing = this.persisted
    const written = await this.guard(() =>
      adapter.write(record, { set, del: changes.del, ttl: this.ttl, maxBytes: options.maxBytes, existing }),
    )
    if (written === 'gone') {
      // The stash was reset, rotated or revoked since this request loaded it: it stays gone. What
      // this request changed goes to a new stash; what it merely loaded is not carried over.
      this.abandon()
      return this.commit(changes.set.size === 0 ? undefined : { set: changes.set, del: [] })
    }
    this.runtime.stats.bytesWritten += bytes
    if (log.enabled) log('write %s: %d set, %d removed', recordLabel(record), changes.set.size, changes.del.length)
    for (const [key, json] of changes.set) {
      this.snapshot.set(key, json)
      this.stored.set(key, set[key]!)
    }
    for (const key of changes.del) {
      this.snapshot.delete(key)
      this.stored.delete(key)
    }
  }

  /**
   * A new cookie lifetime for an ID this request did not load (a route without stored keys):
   * the record must exist, and live at least as long as the cookie will.
   */
  private mustConfirmRecord(): boolean {
    return this.cookie.changed && !this.persisted && this.record !== undefined && this.available
  }

  /** Confirms (and slides) the record of {@link RequestState.mustConfirmRecord}; a missing one drops the ID. */
  private async confirmRecord(): Promise<void> {
    if (!this.mustConfirmRecord()) return
    const record = this.record!
    if (await this.runtime.call(() => this.runtime.adapter.touch(record, this.ttl))) {
      this.persisted = true
      this.slid = true
    } else {
      this.cookie.drop()
      this.forget()
    }
  }

  /**
   * Runs a store call that creates or changes the record. When a freshly issued ID's first
   * write fails, the ID is dropped, so no cookie points at a record that does not exist.
   */
  private async guard<T>(operation: () => Promise<T>): Promise<T> {
    try {
      const result = await this.runtime.call(operation, 'write')
      this.persisted = true
      this.slid = true
      this.keepAlive()
      return result
    } catch (err) {
      if (!this.persisted) this.forget()
      throw err
    }
  }

  /** The fields of record `from`, authenticated and encoded anew for record `to`; corrupt ones are reported and left behind. */
  private reencode(from: string, to: string, all: Record<string, string>): Record<string, string> {
    const { codec } = this.runtime
    const fields: Record<string, string> = {}
    for (const [field, stored] of Object.entries(all)) {
      const decoded = codec.decode(from, field, stored)
      if (decoded.kind === 'value') fields[field] = codec.encode(to, field, decoded.json)
      else {
        const reason = decoded.kind === 'corrupt' ? decoded.reason : 'written under another version'
        this.runtime.reportCorrupt(corruptError(field, reason))
      }
    }
    return fields
  }

  /** Development warnings of data this request would lose without a sign (see {@link DevWarnings}). */
  private warnOfLosses(): void {
    const { warnings, declaredKeys, options } = this.runtime
    for (const key of Object.keys(this.data)) {
      if (!this.keys.includes(key) && declaredKeys.has(key)) warnings.unstoredKey(this.req, key)
    }
    if (options.sessionKey !== undefined && this.persisted && !this.bound && this.ownerNow() !== this.owner) {
      warnings.bindingChanged(this.req)
    }
  }

  /**
   * While the response stays open (server-sent events, streaming, long polling), slides the
   * expiry every ttl/4, so the state outlives the connection by one ttl (LiveStash: "bumped
   * while alive"). It stops when the application ends the response or the connection closes.
   */
  private keepAlive(): void {
    // A response that ends without our end hook (a destroyed connection) is let go by the keep-alive's tick.
    if (this.keptAlive || this.ending || !this.runtime.options.touch) return
    this.keptAlive = true
    this.runtime.keepAlive.add(this)
  }

  /** Milliseconds between two keep-alive touches: a quarter of the current ttl. */
  get keepAliveInterval(): number {
    return this.ttl * 250
  }

  /** One keep-alive touch ({@link KeptAlive}). */
  keepAliveTouch(): void {
    const record = this.record
    if (record === undefined || !this.persisted) return
    this.runtime.call(() => this.runtime.adapter.touch(record, this.ttl)).catch((err: unknown) => this.runtime.report(err))
  }

  /** Hooks `res.writeHead`, once, while the headers can still change. */
  private watchHeaders(): void {
    if (this.headersWatched || this.res.headersSent) return
    this.headersWatched = true
    hookHeaders(this.res, this)
  }

  /** A new ID, bound to the request's session value as it is now. */
  private issue(): void {
    this.watchHeaders()
    const id = newStashId()
    this.owner = this.ownerNow()
    this.bound = true
    this.record = recordKeyOf(id, this.owner)
    if (log.enabled) log('new stash %s', recordLabel(this.record))
    this.cookie.issue(id)
  }

  /** The owner of the request's session value now; the one it began with when the value is of a wrong type (reported at load). */
  private ownerNow(): string | undefined {
    try {
      return this.runtime.ownerOf(this.req)
    } catch {
      return this.owner
    }
  }

  /** A write to an unconfirmed record goes to a new ID, unless this request issued one already. */
  private issueIfNeeded(): void {
    if (this.cookie.issued) return
    this.assertCookieWritable('store a new stash')
    this.issue()
  }

  private safeCollect(): Changes | undefined {
    try {
      return this.collect()
    } catch {
      return undefined // reported by the commit at the end
    }
  }

  private assertCookieWritable(action: string): void {
    if (this.res.headersSent) {
      throw new StashError(
        'ERR_STASH_HEADERS_SENT',
        `cannot ${action} after the response headers were sent: no cookie could carry the new ID; nothing was written`,
      )
    }
  }

  private forget(): void {
    this.persisted = false
    this.record = undefined
    this.cookie.forget()
  }

  /**
   * The record this request held is gone: deleted by a `reset()`, `rotate()` or `revokeAll()` of
   * another request since this one loaded it. The request goes on as one without a stash: the
   * values it loaded and did not change are dropped (a later write must not bring them back under
   * a new ID), the cookie is cleared, and what it changed is stored under a new ID, if anything.
   */
  private abandon(): void {
    const record = this.record
    if (record !== undefined) {
      log('%s is gone (reset, rotated or revoked meanwhile): nothing of it is written back', recordLabel(record))
      this.runtime.expired(record)
    }
    const data = this.data as unknown as Record<string, unknown>
    for (const [key, json] of this.snapshot) {
      let unchanged: boolean
      try {
        unchanged = storedJson(key, data[key]) === json
      } catch {
        unchanged = false // reported by the commit
      }
      if (unchanged) delete data[key]
    }
    this.cookie.drop()
    this.forgetAll()
    this.presented = undefined
  }

  private forgetAll(): void {
    this.forget()
    this.snapshot.clear()
    this.stored.clear()
  }

  /** Runs store operations of this request one after another. */
  private enqueue<T>(task: () => Promise<T>): Promise<T> {
    this.pending++
    const run = (this.queue ?? Promise.resolve()).then(task)
    this.queue = run.then(
      () => this.pending--,
      () => this.pending--,
    )
    return run
  }
}

function corruptError(key: string, reason: string): StashError {
  return new StashError('ERR_STASH_CORRUPT', `stored value of key "${key}" ignored and removed: ${reason}`)
}
