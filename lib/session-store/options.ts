/**
 * The options of `StashSessionStore`, and their validation at creation.
 * @module
 */
import type { SessionData } from 'express-session'
import type { StashAdapter } from '../store/adapter.js'
import { optionError } from '../errors.js'
import type { PreviousSessionStore } from './previous-store.js'

/** Turns sessions into strings and back, like `JSON` (connect-redis's `serializer`). */
export interface SessionSerializer {
  /** A stored string back to the session; may return a promise of it, as connect-redis allows. */
  parse(text: string): unknown
  /** The session to the string that is stored. */
  stringify(session: SessionData): string
}

/** Options of `new StashSessionStore(options)`. */
export interface StashSessionStoreOptions {
  /**
   * Where sessions live: any express-stash adapter (`memoryAdapter()`, `redisAdapter()`, ...).
   * A given adapter is left open by `close()` (it may be shared with a stash; its owner closes it).
   * @default a `memoryAdapter()` of the store's own, which `close()` closes
   */
  adapter?: StashAdapter
  /**
   * Seconds a session lives when its cookie has no `expires` (a browser-session cookie), or a
   * function of the session giving them. A function wins over the cookie (connect-redis's rule:
   * `ttl(session)`, else the cookie's `expires`, else this number); the session still ends, for
   * `get()`, when its cookie expires.
   * @default 86400 (one day, as connect-redis)
   */
  ttl?: number | ((session: SessionData) => number)
  /** When true, `touch()` does nothing: a session's expiry is only set when it is saved. @default false */
  disableTouch?: boolean
  /** How sessions are turned into strings; `parse` may return a promise. @default JSON */
  serializer?: SessionSerializer
  /**
   * The express-session store the application used before (e.g. its connect-redis
   * `new RedisStore({ client, prefix: 'sess:' })`), to move its sessions over as they are used: a
   * session this store does not have is read there, written here and deleted there. `destroy()`
   * deletes in both. Any object with express-session's `get()` and `destroy()` works; `clear()`
   * and `unmigratedLength()` use its `clear()` and `ids()` (or `length()`). Left open by `close()`.
   * @default none: sessions are only read from the adapter
   */
  migrateFrom?: PreviousSessionStore
  /**
   * Milliseconds each `get()` and `destroy()` of the `migrateFrom` store may take before it fails
   * with `StashUnavailableError` (a client that queues commands while Redis is down would
   * otherwise hold the request forever). Only with `migrateFrom`.
   * @default 1000
   */
  migrateTimeout?: number
}

/** The options as the store uses them: defaults filled in, `adapter` absent when the store creates its own. */
export interface ResolvedSessionStoreOptions {
  /** The adapter given, or `undefined`: the store then creates (and closes) a `memoryAdapter()` of its own. */
  readonly adapter: StashAdapter | undefined
  /** {@link StashSessionStoreOptions.ttl}, default filled in. */
  readonly ttl: number | ((session: SessionData) => number)
  /** {@link StashSessionStoreOptions.disableTouch}, default filled in. */
  readonly disableTouch: boolean
  /** {@link StashSessionStoreOptions.serializer}, default filled in. */
  readonly serializer: SessionSerializer
  /** {@link StashSessionStoreOptions.migrateFrom}, when given. */
  readonly migrateFrom: PreviousSessionStore | undefined
  /** {@link StashSessionStoreOptions.migrateTimeout}, default filled in. */
  readonly migrateTimeout: number
}

const DEFAULT_TTL = 86_400
const DEFAULT_MIGRATE_TIMEOUT = 1000
const KNOWN = new Set(['adapter', 'ttl', 'disableTouch', 'serializer', 'migrateFrom', 'migrateTimeout'])
/** The adapter methods the store calls (`keys` too, for the admin calls, checked when they run). */
const ADAPTER_METHODS = ['load', 'write', 'compareAndSet', 'delete'] as const

/** Validates the options of `StashSessionStore`: a TypeError naming the option, at creation. */
export function resolveSessionStoreOptions(options: StashSessionStoreOptions): ResolvedSessionStoreOptions {
  if (typeof options !== 'object' || options === null) {
    throw optionError('StashSessionStore options', 'an object (or nothing)', options)
  }
  for (const name of Object.keys(options)) {
    if (!KNOWN.has(name)) throw new TypeError(`express-stash: unknown option \`StashSessionStore.${name}\``)
  }
  const { adapter, ttl = DEFAULT_TTL, disableTouch = false, serializer = JSON, migrateFrom, migrateTimeout } = options
  if (
    adapter !== undefined &&
    (typeof adapter !== 'object' || adapter === null || ADAPTER_METHODS.some((m) => typeof adapter[m] !== 'function'))
  ) {
    throw optionError(
      'StashSessionStore.adapter',
      'an express-stash adapter (e.g. memoryAdapter() or redisAdapter(...)), or nothing for a memoryAdapter() of its own',
      adapter,
    )
  }
  if (adapter?.forRequest !== undefined) {
    throw new TypeError(
      `express-stash: \`StashSessionStore.adapter\` cannot be a ${adapter.kind} adapter: its records travel with each request of a stash, and express-session's store has no request to keep them in; use memoryAdapter() or redisAdapter()`,
    )
  }
  if (typeof ttl !== 'function' && (typeof ttl !== 'number' || !Number.isSafeInteger(ttl) || ttl <= 0)) {
    throw optionError('StashSessionStore.ttl', 'a positive integer of seconds or a function of the session', ttl)
  }
  if (typeof disableTouch !== 'boolean') throw optionError('StashSessionStore.disableTouch', 'a boolean', disableTouch)
  if (typeof serializer?.parse !== 'function' || typeof serializer.stringify !== 'function') {
    throw optionError('StashSessionStore.serializer', 'an object with parse() and stringify(), like JSON', serializer)
  }
  return { adapter, ttl, disableTouch, serializer, ...resolveMigration(migrateFrom, migrateTimeout) }
}

/** Validates `migrateFrom` (an express-session store) and `migrateTimeout` (only with it). */
function resolveMigration(
  migrateFrom: unknown,
  migrateTimeout: unknown,
): Pick<ResolvedSessionStoreOptions, 'migrateFrom' | 'migrateTimeout'> {
  if (migrateFrom === undefined) {
    if (migrateTimeout !== undefined) throw new TypeError('express-stash: `StashSessionStore.migrateTimeout` needs `migrateFrom`')
    return { migrateFrom: undefined, migrateTimeout: DEFAULT_MIGRATE_TIMEOUT }
  }
  const methods = typeof migrateFrom === 'object' && migrateFrom !== null ? (migrateFrom as Record<string, unknown>) : {}
  if (typeof methods.get !== 'function' || typeof methods.destroy !== 'function') {
    throw optionError(
      'StashSessionStore.migrateFrom',
      'an express-session store with get() and destroy() (e.g. new RedisStore({ client }) of connect-redis)',
      migrateFrom,
    )
  }
  const timeout = migrateTimeout ?? DEFAULT_MIGRATE_TIMEOUT
  if (typeof timeout !== 'number' || !Number.isSafeInteger(timeout) || timeout <= 0) {
    throw optionError('StashSessionStore.migrateTimeout', 'a positive integer of milliseconds', migrateTimeout)
  }
  return { migrateFrom: migrateFrom as PreviousSessionStore, migrateTimeout: timeout }
}
