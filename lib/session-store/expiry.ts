/**
 * When an express-session session ends, for `StashSessionStore`: its cookie's `expires` decides,
 * compared in milliseconds, whatever its record's expiry says (which is rounded up to a whole
 * second, and which an adapter that ignores `exact` may keep longer).
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
 * Whole seconds the session's record should live, rounded up (0 or less: it has ended). As
 * connect-redis: `ttl(session)` when `ttl` is a function, else the cookie's remaining lifetime,
 * else the `ttl` number.
 */
export function recordTtl(session: SessionData, ttl: SessionTtl, now = Date.now()): number {
  if (typeof ttl === 'function') {
    const seconds = ttl(session)
    if (typeof seconds !== 'number' || !Number.isFinite(seconds)) {
      throw new TypeError(
        `express-stash: the StashSessionStore \`ttl\` function must return a finite number of seconds, got ${String(seconds)}`,
      )
    }
    return Math.ceil(seconds)
  }
  const at = cookieExpiry(session)
  return at === undefined ? ttl : Math.ceil((at - now) / 1000)
}
