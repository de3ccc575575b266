/**
 * When an express-session session ends, for `StashSessionStore`: its record expires at that time
 * to the millisecond, and its cookie's `expires` decides for reads whatever the record's expiry
 * says (a `ttl` function may keep the record longer than the cookie, another writer may have left
 * a record with a longer expiry).
 * @module
 */
import type { SessionData } from 'express-session'

/** The `ttl` option: seconds, or a function of the session giving them. */
export type SessionTtl = number | ((session: SessionData) => number)

/** The cookie's `expires` in milliseconds since the epoch, or undefined when it has none (or not a date). */
export function cookieExpiry(session: SessionData | undefined): number | undefined {
  const expires: unknown = session?.cookie?.expires
  if (expires === undefined || expires === null) return undefined
  const at = new Date(expires as string | number | Date).getTime()
  return Number.isNaN(at) ? undefined : at
}

/** Whether the session's cookie has expired at `now` (express-session's MemoryStore rule: `expires <= now`). */
export function hasExpired(session: SessionData, now = Date.now()): boolean {
  const at = cookieExpiry(session)
  return at !== undefined && at <= now
}

/**
 * When the session's record should expire, in whole milliseconds since the epoch (at or before
 * `now`: the session has ended). As connect-redis: `now + ttl(session)` seconds when `ttl` is a
 * function, else the cookie's `expires`, else `now + ttl` seconds.
 */
export function sessionEnd(session: SessionData, ttl: SessionTtl, now = Date.now()): number {
  if (typeof ttl === 'function') {
    const seconds = ttl(session)
    if (typeof seconds !== 'number' || !Number.isFinite(seconds)) {
      throw new TypeError(
        `express-stash: the StashSessionStore \`ttl\` function must return a finite number of seconds, got ${String(seconds)}`,
      )
    }
    return Math.ceil(now + seconds * 1000) // a whole millisecond, as adapters take it
  }
  return cookieExpiry(session) ?? now + ttl * 1000
}
