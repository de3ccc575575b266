/**
 * `cookieAdapter()`: a stateless adapter. Each stash lives in its client's own cookie, sealed
 * with AES-256-GCM; no server keeps anything (Remix's `createCookieSessionStorage`,
 * iron-session). This file holds its options, their validation, and the adapter itself, which
 * serves requests only: `forRequest()` gives each request the records of its own cookie
 * (request-records.ts), and every call that would need a server rejects with a clear error.
 * @module
 */
import type { AdapterRequest, StashAdapter } from '../../store/adapter.js'
import { optionError, optionsObject, StashError } from '../../errors.js'
import { RequestRecords, type CookieSettings } from './request-records.js'

/** Options of {@link cookieAdapter}. */
export interface CookieAdapterOptions {
  /**
   * Name of the cookie that holds the sealed stash. It takes the ID cookie's attributes (path,
   * domain, flags, lifetime), so give it the same `__Host-` or `__Secure-` prefix.
   * @default the stash's `cookie.name` + `'.data'` (`'stash.data'`)
   */
  name?: string
  /**
   * Most bytes of the sealed cookie's name and value: a write that would make it larger fails
   * with `ERR_STASH_TOO_LARGE` and changes nothing. Browsers keep at most 4,096.
   * @default 4096
   */
  maxSize?: number
}

/** The cookie adapter: a `StashAdapter` whose records travel in each request's cookies ({@link CookieAdapter.forRequest}). */
export interface CookieAdapter extends StashAdapter {
  /** The adapter of one request: its records come from the request's sealed cookie and go out in the response's. */
  forRequest(request: AdapterRequest): StashAdapter
}

/** Browsers keep at most this many bytes of one cookie's name and value. */
export const MAX_COOKIE_SIZE = 4096
const KNOWN = new Set(['name', 'maxSize'])
// RFC 6265 cookie-name: an HTTP token.
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/

/**
 * A stateless adapter: each client's stash travels in a cookie of its own, next to the ID cookie,
 * sealed with AES-256-GCM under a key derived (HKDF) from the stash's `secret` and bound to the
 * record key (the hash of the ID, and of the session value under `sessionKey`), so it opens for
 * that ID only. The expiry of every key and the stash's creation time are inside the seal. No
 * server keeps anything: a restart, a deploy or another node changes nothing, but nothing can be
 * revoked either (a cookie replayed after `reset()` still opens), and the admin calls (`ids()`,
 * `length()`, `clear()`, `listFor()`, `revokeAll()`) reject with `ERR_STASH_UNSUPPORTED`.
 *
 * @example
 * createStash({ secret: process.env.STASH_SECRET, adapter: cookieAdapter(), storedKeys: ['cart'] })
 */
export function cookieAdapter(options: CookieAdapterOptions = {}): CookieAdapter {
  const settings = resolve(options)
  let closed = false
  const assertOpen = (): void => {
    if (closed) throw new StashError('ERR_STASH_CLOSED', 'the cookie adapter was closed')
  }
  const outsideRequests = async (): Promise<never> => {
    throw unsupported(
      'the cookie adapter keeps each stash in its client’s cookie: its records are reached only through the requests of a stash (createStash), never directly nor by the session store',
    )
  }
  const serverless = (call: string) => async (): Promise<never> => {
    throw unsupported(`${call} needs a server that keeps the stashes; the cookie adapter keeps each one in its client’s cookie`)
  }
  return {
    kind: 'cookie',
    // Values leave the process only inside the seal, which authenticates each of them with its
    // name and record key: a MAC of their own would only cost cookie bytes and an HMAC per value.
    inProcess: true,
    forRequest(request: AdapterRequest): StashAdapter {
      return new RequestRecords(request, settings, assertOpen)
    },
    load: outsideRequests,
    write: outsideRequests,
    compareAndSet: outsideRequests,
    readAll: outsideRequests,
    move: outsideRequests,
    delete: outsideRequests,
    async close() {
      closed = true
    },
    keys: () => ({ [Symbol.asyncIterator]: () => ({ next: serverless('ids() and length()') }) }),
    clear: serverless('clear()'),
    ownerKeys: serverless('listFor()'),
    deleteOwner: serverless('revokeAll()'),
  }
}

/** The error of a call the cookie adapter cannot serve. */
function unsupported(message: string): StashError {
  return new StashError('ERR_STASH_UNSUPPORTED', message)
}

/** Validates the options: a `TypeError` naming the option. */
function resolve(options: unknown): CookieSettings {
  const o = optionsObject(options, 'cookieAdapter', KNOWN)
  const { name, maxSize = MAX_COOKIE_SIZE } = o
  if (name !== undefined && (typeof name !== 'string' || !TOKEN.test(name))) {
    throw optionError('cookieAdapter.name', 'a valid cookie name', name)
  }
  if (typeof maxSize !== 'number' || !Number.isSafeInteger(maxSize) || maxSize < 1 || maxSize > MAX_COOKIE_SIZE) {
    throw optionError('cookieAdapter.maxSize', `an integer of bytes from 1 to ${MAX_COOKIE_SIZE}`, maxSize)
  }
  return { name, maxSize }
}
