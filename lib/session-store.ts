/**
 * `express-stash/session-store`: an express-session store on top of any express-stash adapter,
 * so an application on express-session + connect-redis can switch stores first and move its
 * keys to `req.stash` later. Needs the optional peer dependency `express-session`.
 * @module
 */
import { Store, type SessionData } from 'express-session'
import type { StashAdapter } from './adapter.js'
import { StashError } from './errors.js'
import { sessionRecordKey, SESSION_FIELDS, SESSION_NAMESPACE } from './session-store-keys.js'
import { resolveSessionStoreOptions, type SessionSerializer, type StashSessionStoreOptions } from './session-store-options.js'

export type { SessionSerializer, StashSessionStoreOptions }
export { SESSION_NAMESPACE }

/** The callback express-session passes to store methods. */
export type SessionCallback<T = void> = (err: unknown, value?: T) => void

/**
 * An express-session `Store` that keeps each session as one record of an express-stash adapter
 * (`memoryAdapter()`, `redisAdapter()` or your own): the field `session` holds the serialized
 * session, the field `id` the session ID (for `ids()` and `all()`). Records are keyed
 * `sess:` + SHA-256 of the ID, a namespace no stash record uses, so sessions and stashes can
 * share an adapter. The record's expiry follows the session cookie's `expires`, else `ttl`.
 *
 * Every method takes express-session's optional callback and also returns a promise.
 *
 * @example
 * app.use(session({ secret, store: new StashSessionStore({ adapter: redisAdapter(process.env.REDIS_URL) }) }))
 */
export class StashSessionStore extends Store {
  /** The adapter sessions are stored in. */
  readonly adapter: StashAdapter
  private readonly options: ReturnType<typeof resolveSessionStoreOptions>

  constructor(options: StashSessionStoreOptions) {
    super()
    this.options = resolveSessionStoreOptions(options)
    this.adapter = this.options.adapter
  }

  /** The session stored under `sid`, or `null`. A stored value that cannot be parsed is reported, deleted and treated as absent. */
  override get(sid: string, callback?: SessionCallback<SessionData | null>): Promise<SessionData | null> {
    return settle(callback, async () => {
      const key = sessionRecordKey(sid)
      const [stored] = (await this.adapter.load(key, [SESSION_FIELDS.session])) ?? []
      if (stored === undefined) return null
      const session = this.parse(sid, stored)
      if (session === undefined) await this.adapter.delete(key)
      return session ?? null
    })
  }

  /** Stores `session` under `sid` for the cookie's remaining lifetime (else `ttl`); a cookie already expired destroys it. */
  override set(sid: string, session: SessionData, callback?: SessionCallback): Promise<void> {
    return settle(callback, async () => {
      const ttl = this.ttlOf(session)
      if (ttl <= 0) return this.adapter.delete(sessionRecordKey(sid))
      let serialized: string
      try {
        serialized = this.options.serializer.stringify(session)
      } catch (err) {
        throw new StashError('ERR_STASH_SERIALIZE', `session ${JSON.stringify(sid)} cannot be serialized`, { cause: err })
      }
      const set = { [SESSION_FIELDS.id]: sid, [SESSION_FIELDS.session]: serialized }
      await this.adapter.write(sessionRecordKey(sid), { set, del: [], ttl })
    })
  }

  /** Slides the expiry of a stored session to the cookie's (else `ttl`), unless `disableTouch`. */
  override touch(sid: string, session: SessionData, callback?: () => void): Promise<void> {
    return settle(callback, async () => {
      if (this.options.disableTouch) return
      const ttl = this.ttlOf(session)
      if (ttl <= 0) return this.adapter.delete(sessionRecordKey(sid))
      await this.adapter.touch(sessionRecordKey(sid), ttl)
    })
  }

  /** Deletes the session stored under `sid`. */
  override destroy(sid: string, callback?: SessionCallback): Promise<void> {
    return settle(callback, () => this.adapter.delete(sessionRecordKey(sid)))
  }

  /** The IDs of every stored session (the adapter's `keys()`; stash records are left out). */
  ids(callback?: SessionCallback<string[]>): Promise<string[]> {
    return settle(callback, async () => {
      const ids: string[] = []
      await this.eachSession(async (key) => {
        const [id] = (await this.adapter.load(key, [SESSION_FIELDS.id])) ?? []
        if (id !== undefined) ids.push(id)
      })
      return ids
    })
  }

  /** Every stored session, each with its `id`, as connect-redis returns them. */
  override all(callback?: SessionCallback<(SessionData & { id: string })[]>): Promise<(SessionData & { id: string })[]> {
    return settle(callback, async () => {
      const sessions: (SessionData & { id: string })[] = []
      await this.eachSession(async (key) => {
        const [id, stored] = (await this.adapter.load(key, [SESSION_FIELDS.id, SESSION_FIELDS.session])) ?? []
        if (id === undefined || stored === undefined) return // expired meanwhile
        const session = this.parse(id, stored)
        if (session === undefined) return this.adapter.delete(key)
        sessions.push({ ...session, id })
      })
      return sessions
    })
  }

  /** How many sessions are stored. */
  override length(callback?: SessionCallback<number>): Promise<number> {
    return settle(callback, async () => {
      let count = 0
      for await (const batch of this.sessionKeys()) count += batch.length
      return count
    })
  }

  /** Deletes every stored session, and nothing else; resolves to how many. */
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

  /** Whole seconds the session has left: the cookie's `expires` when valid, else `ttl`. */
  private ttlOf(session: SessionData): number {
    const expires = session?.cookie?.expires
    const until = expires === undefined || expires === null ? NaN : new Date(expires).getTime()
    if (!Number.isNaN(until)) return Math.ceil((until - Date.now()) / 1000)
    const { ttl } = this.options
    const seconds = typeof ttl === 'function' ? ttl(session) : ttl
    if (typeof seconds !== 'number' || Number.isNaN(seconds)) {
      throw new TypeError(
        `express-stash: the StashSessionStore \`ttl\` function must return a number of seconds, got ${String(seconds)}`,
      )
    }
    return Math.ceil(seconds)
  }

  /** The stored session, or undefined (reported) when it is not a serialized object. */
  private parse(sid: string, stored: string): SessionData | undefined {
    let session: unknown
    try {
      session = this.options.serializer.parse(stored)
    } catch (err) {
      this.report(
        new StashError('ERR_STASH_CORRUPT', `stored session ${JSON.stringify(sid)} is not valid; it was deleted`, { cause: err }),
      )
      return undefined
    }
    if (typeof session === 'object' && session !== null && !Array.isArray(session)) return session as SessionData
    this.report(new StashError('ERR_STASH_CORRUPT', `stored session ${JSON.stringify(sid)} is not an object; it was deleted`))
    return undefined
  }

  /** An `'error'` event when someone listens, else the console: never a crash, never silent. */
  private report(err: StashError): void {
    if (this.listenerCount('error') > 0) this.emit('error', err)
    else console.error(err)
  }
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
