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
import { SessionCodec } from './codec.js'
import { sessionEnd } from './expiry.js'
import { bothFields, DESTROYED_SESSION, sessionRecordKey, SESSION_FIELDS, SESSION_NAMESPACE } from './keys.js'
import { SessionMigration } from './migration.js'
import {
  resolveSessionStoreOptions,
  type ResolvedSessionStoreOptions,
  type SessionSerializer,
  type StashSessionStoreOptions,
} from './options.js'
import type { PreviousSessionStore } from './previous-store.js'
import { settle, type SessionCallback } from './settle.js'

export type { PreviousSessionStore, SessionCallback, SessionSerializer, StashSessionStoreOptions }
export { SESSION_NAMESPACE }

/**
 * The `seen` of every session load: always from the store, never from an adapter's near cache.
 * express-session's cookie carries no record version, so only the store itself guarantees that a
 * request reads the session its previous request wrote on another node.
 */
const FROM_THE_STORE = Infinity

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
 * With `migrateFrom`, sessions of the store the application used before move over as they are
 * used (see {@link StashSessionStoreOptions.migrateFrom}); `ids()`, `all()` and `length()` count
 * the sessions moved or created here, {@link StashSessionStore.unmigratedLength} those left there.
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
  private readonly codec: SessionCodec
  /** The sessions moved from `migrateFrom`, when given. */
  private readonly migration: SessionMigration | undefined

  constructor(options: StashSessionStoreOptions = {}) {
    super()
    this.options = resolveSessionStoreOptions(options)
    this.ownsAdapter = this.options.adapter === undefined
    this.adapter = this.options.adapter ?? memoryAdapter()
    this.codec = new SessionCodec(this.options.serializer, this.adapter, (err) => this.report(err))
    const { migrateFrom, migrateTimeout, ttl } = this.options
    this.migration =
      migrateFrom &&
      new SessionMigration(migrateFrom, migrateTimeout, {
        adapter: this.adapter,
        codec: this.codec,
        ttl,
        report: (err) => this.report(err),
      })
  }

  /**
   * The session stored under `sid`, or `null` when there is none or its cookie has expired. A
   * stored value that cannot be parsed is reported, deleted and treated as absent. With
   * `migrateFrom`, a session not stored here is moved from there (an error of that store is the
   * callback's error, never a silent `null`).
   */
  override get(sid: string, callback?: SessionCallback<SessionData | null>): Promise<SessionData | null> {
    return settle(callback, async () => {
      const stored = await this.loadSession(sid)
      if (stored !== undefined || this.migration === undefined) return stored ?? null
      const moved = await this.migration.take(sid)
      // Not there: a concurrent request may have just moved it here (and deleted it there).
      return moved !== undefined ? moved : ((await this.loadSession(sid)) ?? null)
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
      const set = { [SESSION_FIELDS.id]: sid, [SESSION_FIELDS.session]: this.codec.encode(sid, session) }
      await this.adapter.write(key, { set, del: [], expiresAt: bothFields(end) })
    })
  }

  /**
   * Renews a stored session from the cookie given, unless `disableTouch`: its stored cookie (so
   * `cookie.expires`) becomes that cookie, the rest of the stored session is kept, and the record
   * expires with it (both fields, in the compare-and-set itself). A session that is not stored,
   * or whose stored cookie has expired, is left alone; one whose cookie given has expired is
   * destroyed. Safe against a concurrent `set()`: the stored session is replaced only if unchanged
   * since it was read (a newer `set()` has written a fresh cookie and expiry of its own). Never
   * reads `migrateFrom`: express-session touches only a session `get()` returned, which is here.
   */
  override touch(sid: string, session: SessionData, callback?: () => void): Promise<void> {
    return settle(callback, async () => {
      if (this.options.disableTouch) return
      const key = sessionRecordKey(sid)
      const now = Date.now()
      const end = sessionEnd(session, this.options.ttl, now)
      if (end <= now) return this.adapter.delete(key)
      const stored = (await this.adapter.load(key, [SESSION_FIELDS.session], FROM_THE_STORE))?.values[0]
      const current = await this.codec.live(key, sid, stored)
      if (current === null) return
      const cookie = session?.cookie ?? current.cookie
      const next = this.codec.encode(sid, { ...current, cookie })
      await this.adapter.compareAndSet(key, { field: SESSION_FIELDS.session, expected: stored, next, expiresAt: bothFields(end) })
    })
  }

  /**
   * Deletes the session stored under `sid`. With `migrateFrom`, in both stores, so that a session
   * logged out (or regenerated) is never moved back; either store's error reaches the callback.
   */
  override destroy(sid: string, callback?: SessionCallback): Promise<void> {
    return settle(callback, () => this.migration?.forget(sid) ?? this.adapter.delete(sessionRecordKey(sid)))
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

  /**
   * Deletes every stored session, and nothing else; resolves to how many records it deleted. With
   * `migrateFrom`, that store's `clear()` runs first, so that no session cleared is moved back,
   * and the tombstones of destroyed sessions go too, uncounted.
   */
  override clear(callback?: SessionCallback<number>): Promise<number> {
    return settle(callback, async () => {
      await this.migration?.clearPrevious()
      let count = 0
      await this.eachSession(async (key) => {
        const tombstone = this.migration !== undefined && (await this.isTombstone(key))
        await this.adapter.delete(key)
        if (!tombstone) count++
      })
      return count
    })
  }

  /**
   * How many sessions `migrateFrom` still holds (its `ids()`, without this store's own records
   * when both share a Redis prefix; else its `length()`); 0 without `migrateFrom`. Once it is 0
   * for good (no node uses the previous store any more), `migrateFrom` can be removed.
   */
  unmigratedLength(callback?: SessionCallback<number>): Promise<number> {
    return settle(callback, async () => (this.migration === undefined ? 0 : this.migration.unmigrated()))
  }

  /**
   * Closes the adapter when the store created it (no `adapter` option). A given adapter is left
   * open: it may be shared with a stash instance, and its owner closes it. So is `migrateFrom`.
   * Safe to call twice.
   */
  close(callback?: SessionCallback): Promise<void> {
    return settle(callback, async () => {
      if (this.ownsAdapter) await this.adapter.close()
    })
  }

  /** The live session stored under `sid` (`null`: ended, destroyed or corrupt), or `undefined` when there is none. */
  private async loadSession(sid: string): Promise<SessionData | null | undefined> {
    const key = sessionRecordKey(sid)
    const stored = (await this.adapter.load(key, [SESSION_FIELDS.session], FROM_THE_STORE))?.values[0]
    return stored === undefined ? undefined : this.codec.live(key, sid, stored)
  }

  /** Whether the record `key` is the tombstone of a destroyed session. */
  private async isTombstone(key: string): Promise<boolean> {
    return (await this.adapter.load(key, [SESSION_FIELDS.session], FROM_THE_STORE))?.values[0] === DESTROYED_SESSION
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
   * Runs `fn` on every live session with its ID. Expired sessions and tombstones are left out, and
   * so (with `migrateFrom`) is a recent record holding only its `id`: a migration in flight. Any
   * other record that is not a whole session (a field missing, a value that does not parse) is
   * reported and deleted.
   */
  private eachLiveSession(fn: (session: StoredSession) => void): Promise<void> {
    return this.eachSession(async (key) => {
      const loaded = await this.adapter.load(key, [SESSION_FIELDS.id, SESSION_FIELDS.session], FROM_THE_STORE)
      if (loaded === undefined) return // expired or deleted since the listing
      const [id, stored] = loaded.values
      if (stored === DESTROYED_SESSION) return
      if (id !== undefined && stored === undefined && this.migration?.inFlight(loaded.createdAt)) return
      if (id === undefined || stored === undefined) {
        const missing = id === undefined ? SESSION_FIELDS.id : SESSION_FIELDS.session
        return this.codec.discard(
          key,
          new StashError('ERR_STASH_CORRUPT', `stored session ${key} has no ${missing} field; it was deleted`),
        )
      }
      const session = await this.codec.live(key, id, stored)
      if (session !== null) fn({ ...session, id })
    })
  }

  /** An `'error'` event when someone listens, else the console: never a crash, never silent. */
  private report(err: StashError): void {
    if (this.listenerCount('error') > 0) this.emit('error', err)
    else console.error(err)
  }
}
