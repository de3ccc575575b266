import type { SessionData } from 'express-session'
import type { StashAdapter } from './adapter.js'
import { optionError } from './errors.js'

/** Turns sessions into strings and back, like `JSON` (connect-redis's `serializer`). */
export interface SessionSerializer {
  parse(text: string): unknown
  stringify(session: SessionData): string
}

/** Options of `new StashSessionStore(options)`. */
export interface StashSessionStoreOptions {
  /** Where sessions live: any express-stash adapter (`memoryAdapter()`, `redisAdapter()`, ...). */
  adapter: StashAdapter
  /**
   * Seconds a session lives when its cookie has no `expires` (a browser-session cookie), or a
   * function of the session giving them. A cookie with `expires` sets the lifetime instead.
   * @default 86400 (one day, as connect-redis)
   */
  ttl?: number | ((session: SessionData) => number)
  /** When true, `touch()` does nothing: a session's expiry is only set when it is saved. @default false */
  disableTouch?: boolean
  /** How sessions are turned into strings. @default JSON */
  serializer?: SessionSerializer
}

const DEFAULT_TTL = 86_400
const KNOWN = new Set(['adapter', 'ttl', 'disableTouch', 'serializer'])
const ADAPTER_METHODS = ['load', 'write', 'touch', 'delete'] as const

/** Validates the options of `StashSessionStore`: a TypeError naming the option, at creation. */
export function resolveSessionStoreOptions(options: StashSessionStoreOptions): Required<StashSessionStoreOptions> {
  if (typeof options !== 'object' || options === null) {
    throw optionError('StashSessionStore options', 'an object with an `adapter`', options)
  }
  for (const name of Object.keys(options)) {
    if (!KNOWN.has(name)) throw new TypeError(`express-stash: unknown option \`StashSessionStore.${name}\``)
  }
  const { adapter, ttl = DEFAULT_TTL, disableTouch = false, serializer = JSON } = options
  if (typeof adapter !== 'object' || adapter === null || ADAPTER_METHODS.some((m) => typeof adapter[m] !== 'function')) {
    throw optionError(
      'StashSessionStore.adapter',
      'an express-stash adapter (e.g. memoryAdapter() or redisAdapter(...))',
      adapter,
    )
  }
  if (typeof ttl !== 'function' && (typeof ttl !== 'number' || !Number.isSafeInteger(ttl) || ttl <= 0)) {
    throw optionError('StashSessionStore.ttl', 'a positive integer of seconds or a function of the session', ttl)
  }
  if (typeof disableTouch !== 'boolean') throw optionError('StashSessionStore.disableTouch', 'a boolean', disableTouch)
  if (typeof serializer?.parse !== 'function' || typeof serializer.stringify !== 'function') {
    throw optionError('StashSessionStore.serializer', 'an object with parse() and stringify(), like JSON', serializer)
  }
  return { adapter, ttl, disableTouch, serializer }
}
