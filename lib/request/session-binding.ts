/**
 * The binding of a stash to the user's session (`sessionKey`): session values and their owner hashes.
 * @module
 */
import type { IncomingMessage } from 'node:http'
import { describe, StashError } from '../errors.js'
import { sha256 } from '../values/ids.js'
import type { StashOptions } from '../options.js'

/**
 * A session value as express-stash reads it (`sessionKey`, `listFor`, `revokeAll`): a
 * non-empty string, or a finite number taken as its decimal string. Absent values (`undefined`,
 * `null`, `''`) are `undefined`; anything else is `null`, a value of the wrong type.
 */
export function sessionValueOf(value: unknown): string | undefined | null {
  if (value === undefined || value === null || value === '') return undefined
  if (typeof value === 'string') return value
  if (typeof value === 'number' && Number.isFinite(value)) return String(value)
  return null
}

/** The owner of a session value: its SHA-256, the braced part of a bound record key. */
export function ownerOfValue(value: string): string {
  return sha256(value)
}

/**
 * The owner a request's stash is bound to under `sessionKey`: the SHA-256 of the value found in
 * `req.session[key]`, then `req.signedCookies[key]`, or returned by the function; `undefined`
 * when the request has no value (an anonymous visitor: the stash is bound by `rotate()` on the
 * request that brings the value, the login). A value of another type than a string or a finite
 * number is a programming error: `StashError` `ERR_STASH_SESSION_KEY`. Without `sessionKey`,
 * every stash is anonymous: `undefined`.
 */
export function requestOwner(req: IncomingMessage, sessionKey: StashOptions['sessionKey']): string | undefined {
  if (sessionKey === undefined) return undefined
  const raw =
    typeof sessionKey === 'function'
      ? sessionKey(req)
      : ((req as { session?: Record<string, unknown> }).session?.[sessionKey] ??
        (req as { signedCookies?: Record<string, unknown> }).signedCookies?.[sessionKey])
  const value = sessionValueOf(raw)
  if (value === null) {
    const where = typeof sessionKey === 'function' ? 'the sessionKey function returned' : `sessionKey "${sessionKey}" holds`
    throw new StashError(
      'ERR_STASH_SESSION_KEY',
      `${where} ${describe(raw)} on this request: a session value must be a string or a finite number`,
    )
  }
  return value === undefined ? undefined : ownerOfValue(value)
}
