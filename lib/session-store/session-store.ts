/**
 * `express-stash/session-store`: an express-session store on top of any express-stash adapter,
 * so an application on express-session + connect-redis can switch stores first and move its
 * keys to `req.stash` later. Needs the optional peer dependency `express-session`.
 * @module
 */
import { Store, type SessionData } from 'express-session'
import type { StashAdapter } from '../store/adapter.js'
import { memoryAdapter } from '../adapters/memory/memory.js'
import { StashError } from '../errors.js'
import { hasExpired, sessionEnd } from './expiry.js'
import { sessionRecordKey, SESSION_FIELDS, SESSION_NAMESPACE } from './keys.js'
import {
  resolveSessionStoreOptions,
  type ResolvedSessionStoreOptions,
  type SessionSerializer,
  type StashSessionStoreOptions,
} from './options.js'

export type { SessionSerializer, StashSessionStoreOptions }
export { SESSION_NAMESPACE }

/**
 * The `seen` of every session load: always from the store, never from an adapter's near cache.
 * express-session's cookie carries no record version, so only the store itself guarantees that a
 * request reads the session its previous request wrote on another node.
 */
const FROM_THE_STORE = Infinity

/** The callback express-session passes to store methods. */
export type SessionCallback<T = void> = (err: unknown, value?: T) => void

/** A stored session as `all()` returns it: the session with its ID. */
export type StoredSession = SessionData & { id: string }

/**
 * An express-session `Store` that keeps each session as one record of an express-stash adapter
 * (`memoryAdapter()`, `redisAdapter()` or your own): the field `session` holds the serialized
 * session, the field `id` the session ID (for `ids()` and `all()`). Records are keyed
 * `sess:` + SHA-256 of the ID, a namespace no stash record uses, so sessions and stashes can
 * share an adapter.
 *
 * A session ends when its cookie's `expires` passes: `get()`, `all()`, `ids()` and `length()`
 * never return it after that, whatever its record's expiry says. Both fields of the record expire
 * when the session ends, to the millisecond, shorter or longer than before (a `ttl` function wins,
 * else the cookie, else the `ttl` number).
 *
 * Every method takes express-session's optional callback and also returns a promise.
 *
 * @example
 * app.use(session({ secret, store: new StashSessionStore({ adapter: redisAdapter(process.env.REDIS_URL) }) }))
 */
export class StashSessionStore extends Store {
  /** The adapter sessions are stored in: the one given, else a `memoryAdapter()` of the store's own. */
  readonly adapter: StashAdapter
  private readonly options: ResolvedSessionStoreOptions
  /** Whether the store created its adapter, and so closes it in `close()`. */
  private readonly ownsAdapter: boolean

  constructor(options: StashSessionStoreOptions = {}) {
    super()
    this.options = resolveSessionStoreOptions(options)
    this.ownsAdapter = this.options.adapter === undefined
    this.adapter = this.options.adapter ?? memoryAdapter()
  }

  /**
   * The session stored under `sid`, or `null` when there is none or its cookie has expired. A
   * stored value that cannot be parsed is reported, deleted and treated as absent.
   */
  override get(sid: string, callback?: SessionCallback<SessionData | null>): Promise<SessionData | null> {
    return settle(callback, async () => {
      const key = sessionRecordKey(sid)
      const stored = (await this.adapter.load(key, [SESSION_FIELDS.session], FROM_THE_STORE))?.values[0]
      if (stored === undefined) return null
      const session = await this.decode(key, sid, stored)
      return session === undefined || hasExpired(session) ? null : session
    })
  }

  /**
   * Stores `session` under `sid`; the record expires exactly when the session does (see the
   * class), shortening an earlier expiry if needed. A session that has already ended is destroyed.
   */
  override set(sid: string, session: SessionData, callback?: SessionCallback): Promise<void> {
    return settle(callback, async () => {
      const key = sessionRecordKey(sid)
      const now = Date.now()
      const end = sessionEnd(session, this.options.ttl, now)
      if (end <= now) return this.adapter.delete(key)
      const set = { [SESSION_FIELDS.id]: sid, [SESSION_FIELDS.session]: this.encode(sid, session) }
      await this.adapter.write(key, { set, del: [], expiresAt: bothFields(end) })
    })
  }

  /**
   * Renews a stored session from the cookie given, unless `disableTouch`: its stored cookie (so
   * `cookie.expires`) becomes that cookie, the rest of the stored session is kept, and the record
   * expires with it (both fields, in the compare-and-set itself). A session that is not stored,
   * or whose stored cookie has expired, is left alone; one whose cookie given has expired is
   * destroyed. Safe against a concurrent `set()`: the stored session is replaced only if unchanged
   * since it was read (a newer `set()` has written a fresh cookie and expiry of its own).
   */
  override touch(sid: string, session: SessionData, callback?: () => void): Promise<void> {
    return settle(callback, async () => {
      if (this.options.disableTouch) return
      const key = sessionRecordKey(sid)
      const now = Date.now()
      const end = sessionEnd(session, this.options.ttl, now)
      if (end <= now) return this.adapter.delete(key)
      const stored = (await this.adapter.load(key, [SESSION_FIELDS.session], FROM_THE_STORE))?.values[0]
      if (stored === undefined) return
      const current = await this.decode(key, sid, stored)
      if (current === undefined || hasExpired(current)) return
      const cookie = session?.cookie ?? current.cookie
      const next = this.encode(sid, { ...current, cookie })
      await this.adapter.compareAndSet(key, { field: SESSION_FIELDS.session, expected: stored, next, expiresAt: bothFields(end) })
    })
  }

  /** Deletes the session stored under `sid`. */
  override destroy(sid: string, callback?: SessionCallback): Promise<void> {
    return settle(callback, () => this.adapter.delete(sessionRecordKey(sid)))
  }

  /** The IDs of every live session (the adapter's `keys()`; stash records and expired sessions are left out). */
  ids(callback?: SessionCallback<string[]>): Promise<string[]> {
    return settle(callback, async () => {
      const ids: string[] = []
      await this.eachLiveSession((session) => void ids.push(session.id))
      return ids
    })
  }

  /** Every live session, each with its `id`, as connect-redis returns them. */
  override all(callback?: SessionCallback<StoredSession[]>): Promise<StoredSession[]> {
    return settle(callback, async () => {
      const sessions: StoredSession[] = []
      await this.eachLiveSession((session) => void sessions.push(session))
      return sessions
    })
  }

  /** How many live sessions are stored (as many as `ids()` returns). */
  override length(callback?: SessionCallback<number>): Promise<number> {
    return settle(callback, async () => {
      let count = 0
      await this.eachLiveSession(() => void count++)
      return count
    })
  }

  /** Deletes every stored session, and nothing else; resolves to how many records it deleted. */
  override clear(callback?: SessionCallback<number>): Promise<number> {
    return settle(callback, async () => {
      let count = 0
      await this.eachSession(async (key) => {
        await this.adapter.delete(key)
        count++
      })
      return count
    })
  }

  /**
   * Closes the adapter when the store created it (no `adapter` option). A given adapter is left
   * open: it may be shared with a stash instance, and its owner closes it. Safe to call twice.
   */
  close(callback?: SessionCallback): Promise<void> {
    return settle(callback, async () => {
      if (this.ownsAdapter) await this.adapter.close()
    })
  }

  /** The adapter's record keys that are sessions, in the adapter's batches. */
  private async *sessionKeys(): AsyncGenerator<string[]> {
    if (typeof this.adapter.keys !== 'function') {
      throw new TypeError(
        `express-stash: the ${this.adapter.kind} adapter does not implement keys(), which ids(), all(), length() and clear() need`,
      )
    }
    for await (const batch of this.adapter.keys()) {
      const sessions = batch.filter((key) => key.startsWith(SESSION_NAMESPACE))
      if (sessions.length > 0) yield sessions
    }
  }

  /** Runs `fn` on every session key, one batch at a time, the keys of a batch concurrently. */
  private async eachSession(fn: (key: string) => Promise<void>): Promise<void> {
    for await (const batch of this.sessionKeys()) await Promise.all(batch.map(fn))
  }

  /**
   * Runs `fn` on every live session with its ID. Expired sessions are left out; a record that is
   * not a whole session (a field missing, a value that does not parse) is reported and deleted.
   */
  private eachLiveSession(fn: (session: StoredSession) => void): Promise<void> {
    return this.eachSession(async (key) => {
      const loaded = await this.adapter.load(key, [SESSION_FIELDS.id, SESSION_FIELDS.session], FROM_THE_STORE)
      if (loaded === undefined) return // expired or deleted since the listing
      const [id, stored] = loaded.values
      if (id === undefined || stored === undefined) {
        const missing = id === undefined ? SESSION_FIELDS.id : SESSION_FIELDS.session
        return this.discard(
          key,
          new StashError('ERR_STASH_CORRUPT', `stored session ${key} has no ${missing} field; it was deleted`),
        )
      }
      const session = await this.decode(key, id, stored)
      if (session !== undefined && !hasExpired(session)) fn({ ...session, id })
    })
  }

  /** The session serialized; `ERR_STASH_SERIALIZE` when the serializer throws or returns no string. */
  private encode(sid: string, session: SessionData): string {
    let serialized: unknown
    try {
      serialized = this.options.serializer.stringify(session)
    } catch (err) {
      throw new StashError('ERR_STASH_SERIALIZE', `session ${JSON.stringify(sid)} cannot be serialized`, { cause: err })
    }
    if (typeof serialized === 'string') return serialized
    throw new StashError('ERR_STASH_SERIALIZE', `session ${JSON.stringify(sid)} did not serialize to a string`)
  }

  /**
   * The stored session (the serializer's `parse` may return a promise), or undefined when it does
   * not parse to an object: then it is reported and its record deleted, never dropped silently.
   */
  private async decode(key: string, sid: string, stored: string): Promise<SessionData | undefined> {
    let session: unknown
    try {
      session = await this.options.serializer.parse(stored)
    } catch (err) {
      const reason = `stored session ${JSON.stringify(sid)} is not valid; it was deleted`
      return this.discard(key, new StashError('ERR_STASH_CORRUPT', reason, { cause: err }))
    }
    if (typeof session === 'object' && session !== null && !Array.isArray(session)) return session as SessionData
    return this.discard(
      key,
      new StashError('ERR_STASH_CORRUPT', `stored session ${JSON.stringify(sid)} is not an object; it was deleted`),
    )
  }

  /** Reports a corrupt session record and deletes it. */
  private async discard(key: string, err: StashError): Promise<undefined> {
    this.report(err)
    await this.adapter.delete(key)
    return undefined
  }

  /** An `'error'` event when someone listens, else the console: never a crash, never silent. */
  private report(err: StashError): void {
    if (this.listenerCount('error') > 0) this.emit('error', err)
    else console.error(err)
  }
}

/** The expiries of a session record: both its fields end with the session, at `end` (ms since the epoch). */
function bothFields(end: number): Record<string, number> {
  return { [SESSION_FIELDS.id]: end, [SESSION_FIELDS.session]: end }
}

/**
 * Runs `work`; hands the outcome to express-session's `callback` when given (on the next tick,
 * so a throwing callback is not mistaken for a store failure), and returns it as a promise.
 */
function settle<T>(callback: SessionCallback<T> | (() => void) | undefined, work: () => Promise<T>): Promise<T> {
  const result = Promise.resolve().then(work)
  if (callback !== undefined) {
    const done = callback as SessionCallback<T>
    result.then(
      (value) => process.nextTick(done, null, value),
      (err: unknown) => process.nextTick(done, err),
    )
  }
  return result
}
