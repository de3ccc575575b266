/**
 * The store an application used before `StashSessionStore` (connect-redis or any other
 * express-session store), as the migration calls it: callbacks turned into promises, `get()` and
 * `destroy()` bounded in time, and express-session's `ENOENT` convention for a missing session.
 * @module
 */
import type { SessionData } from 'express-session'
import { StashUnavailableError } from '../errors.js'

/** A callback of an express-session store method. */
type StoreCallback<T> = (err: unknown, value?: T) => void

/**
 * The express-session store sessions are migrated from: what `StashSessionStore` calls of it.
 * connect-redis's `RedisStore` and express-session's `Store` subclasses fit.
 */
export interface PreviousSessionStore {
  /** The session stored under `sid`, `null` (or nothing) when there is none. */
  get(sid: string, callback: StoreCallback<SessionData | null>): unknown
  /** Deletes the session stored under `sid`. */
  destroy(sid: string, callback: StoreCallback<unknown>): unknown
  /** Deletes every session: called by `clear()`, which fails without it. */
  clear?(callback: StoreCallback<unknown>): unknown
  /** The IDs of the stored sessions: counted by `unmigratedLength()`. */
  ids?(callback: StoreCallback<string[]>): unknown
  /** How many sessions are stored: counted by `unmigratedLength()` when there is no `ids()`. */
  length?(callback: StoreCallback<number>): unknown
  /** connect-redis's key prefix, so that `unmigratedLength()` can tell its keys from this store's. */
  readonly prefix?: unknown
}

/** The previous store's methods as promises; `get()` and `destroy()` fail after `timeout` ms. */
export class PreviousStore {
  constructor(
    readonly store: PreviousSessionStore,
    private readonly timeout: number,
  ) {}

  /** What the previous store holds under `sid` (anything it returns), or `null`. */
  async get(sid: string): Promise<unknown> {
    try {
      return (await call<unknown>('get', (done) => this.store.get(sid, done), this.timeout)) ?? null
    } catch (err) {
      if (isNotFound(err)) return null
      throw err
    }
  }

  /** Deletes `sid` in the previous store (a session it does not have is no error). */
  async destroy(sid: string): Promise<void> {
    try {
      await call('destroy', (done) => this.store.destroy(sid, done), this.timeout)
    } catch (err) {
      if (!isNotFound(err)) throw err
    }
  }

  /** Deletes every session of the previous store; a TypeError when it has no `clear()`. */
  async clear(): Promise<void> {
    const clear = this.store.clear?.bind(this.store)
    if (clear === undefined) throw missing('no clear(), which StashSessionStore.clear() needs')
    await call('clear', (done) => clear(done))
  }

  /** How many sessions the previous store holds, leaving out the IDs `isOwn` says are not its own. */
  async count(isOwn: (id: string) => boolean): Promise<number> {
    const { store } = this
    if (typeof store.ids === 'function') {
      const ids = await call<string[]>('ids', (done) => store.ids!(done))
      if (!Array.isArray(ids)) throw new TypeError('express-stash: ids() of the `migrateFrom` store gave no array')
      return ids.filter((id) => !isOwn(id)).length
    }
    if (typeof store.length === 'function') return Number(await call<number>('length', (done) => store.length!(done)))
    throw missing('neither ids() nor length(), which unmigratedLength() needs')
  }
}

/**
 * Calls one method of the previous store with a callback and settles with its outcome: the first
 * of the callback, a rejection of the promise it returns, or (with `timeout`) the deadline.
 */
function call<T>(method: string, invoke: (done: StoreCallback<T>) => unknown, timeout?: number): Promise<T | undefined> {
  return new Promise<T | undefined>((resolve, reject) => {
    let settled = false
    const finish = (err: unknown, value?: T) => {
      if (settled) return
      settled = true
      clearTimeout(timer)
      const failed = Boolean(err) // express-session's rule: any truthy `err` is an error
      if (failed) reject(err)
      else resolve(value)
    }
    const timer =
      timeout === undefined
        ? undefined
        : setTimeout(
            () => finish(new StashUnavailableError(`the \`migrateFrom\` store did not answer ${method}() within ${timeout} ms`)),
            timeout,
          )
    try {
      const returned = invoke(finish)
      if (isThenable(returned)) returned.then(undefined, (err: unknown) => finish(err ?? new Error(`${method}() rejected`)))
    } catch (err) {
      finish(err ?? new Error(`${method}() threw`))
    }
  })
}

/** express-session's convention for "no such session": an error whose `code` is `ENOENT`. */
function isNotFound(err: unknown): boolean {
  return typeof err === 'object' && err !== null && (err as { code?: unknown }).code === 'ENOENT'
}

/** Whether a store method returned a promise (connect-redis's do, besides calling back). */
function isThenable(value: unknown): value is PromiseLike<unknown> {
  return typeof (value as { then?: unknown } | null | undefined)?.then === 'function'
}

/** The TypeError of a previous store that lacks a method a call needs. */
function missing(what: string): TypeError {
  return new TypeError(`express-stash: the \`migrateFrom\` store has ${what}`)
}
