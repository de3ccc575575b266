/**
 * The options of the stash ID cookie (`createStash({ cookie })`): their type, their defaults, and
 * their validation, including the combinations browsers would silently drop.
 * @module
 */
import { serialize } from 'cookie'
import { booleanOption, oneOfOption, optionError, optionsObject, secondsOption } from '../errors.js'

/** Options of the stash ID cookie. Durations are in seconds. */
export interface CookieOptions {
  /** Cookie name. A `__Host-` name forces `secure`, `path: '/'` and no `domain`. @default 'stash' */
  name?: string
  /** @default '/' */
  path?: string
  /** @default none (host-only cookie) */
  domain?: string
  /** @default true */
  httpOnly?: boolean
  /** @default 'lax' */
  sameSite?: 'lax' | 'strict' | 'none'
  /** `'auto'`: Secure when the request is secure (`req.secure`, honouring Express's `trust proxy`). @default 'auto' */
  secure?: boolean | 'auto'
  /** Lifetime in seconds. @default none: a browser-session cookie; the server enforces the ttl */
  maxAge?: number
  /** CHIPS partitioned cookie. @default false */
  partitioned?: boolean
  /** @default none */
  priority?: 'low' | 'medium' | 'high'
}

/** Cookie options after validation and defaults. @internal */
export interface ResolvedCookieOptions {
  name: string
  path: string
  domain: string | undefined
  httpOnly: boolean
  sameSite: 'lax' | 'strict' | 'none'
  secure: boolean | 'auto'
  maxAge: number | undefined
  partitioned: boolean
  priority: 'low' | 'medium' | 'high' | undefined
}

/** The defaults of the cookie options. */
export const COOKIE_DEFAULTS = Object.freeze({
  name: 'stash',
  path: '/',
  httpOnly: true,
  sameSite: 'lax' as const,
  secure: 'auto' as const,
})

const COOKIE_OPTIONS = new Set(['name', 'path', 'domain', 'httpOnly', 'sameSite', 'secure', 'maxAge', 'partitioned', 'priority'])
// RFC 6265 cookie-name: an HTTP token.
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/

/** Validates the `cookie` option of `createStash()` and applies the defaults. Throws `TypeError` naming the option. @internal */
export function resolveCookieOptions(value: unknown): ResolvedCookieOptions {
  const o = optionsObject(value ?? {}, 'cookie', COOKIE_OPTIONS)
  const name = o.name ?? COOKIE_DEFAULTS.name
  if (typeof name !== 'string' || !TOKEN.test(name)) throw optionError('cookie.name', 'a valid cookie name', name)
  const secure = o.secure ?? COOKIE_DEFAULTS.secure
  if (secure !== 'auto' && typeof secure !== 'boolean') throw optionError('cookie.secure', "true, false or 'auto'", secure)
  const cookie: ResolvedCookieOptions = {
    name,
    path: optionalString(o, 'path') ?? COOKIE_DEFAULTS.path,
    domain: optionalString(o, 'domain'),
    httpOnly: booleanOption(o.httpOnly, 'cookie.httpOnly', COOKIE_DEFAULTS.httpOnly),
    sameSite: oneOfOption(o.sameSite, 'cookie.sameSite', ['lax', 'strict', 'none'] as const) ?? COOKIE_DEFAULTS.sameSite,
    secure,
    maxAge: o.maxAge === undefined ? undefined : secondsOption(o.maxAge, 'cookie.maxAge'),
    partitioned: booleanOption(o.partitioned, 'cookie.partitioned', false),
    priority: oneOfOption(o.priority, 'cookie.priority', ['low', 'medium', 'high'] as const),
  }
  assertBrowsersAccept(cookie)
  return cookie
}

/** A string option without spaces or semicolons (`path`, `domain`), or `undefined`. */
function optionalString(o: Record<string, unknown>, key: string): string | undefined {
  const v = o[key]
  if (v !== undefined && (typeof v !== 'string' || v === '' || /[;\s]/.test(v))) {
    throw optionError(`cookie.${key}`, 'a non-empty string without spaces or semicolons', v)
  }
  return v
}

/** Rejects combinations browsers drop (`SameSite=None` or a prefixed name without `Secure`, ...). */
function assertBrowsersAccept(cookie: ResolvedCookieOptions): void {
  const { name } = cookie
  if (cookie.sameSite === 'none' && cookie.secure === false) {
    throw optionError(
      'cookie.secure',
      "true or 'auto' when cookie.sameSite is 'none' (browsers drop insecure SameSite=None cookies)",
      false,
    )
  }
  if (name.startsWith('__Host-') || name.startsWith('__Secure-')) {
    if (cookie.secure === false) throw optionError('cookie.secure', `true or 'auto' for a cookie named ${name}`, false)
  }
  if (name.startsWith('__Host-')) {
    if (cookie.path !== '/') throw optionError('cookie.path', `'/' for a __Host- cookie`, cookie.path)
    if (cookie.domain !== undefined) throw optionError('cookie.domain', 'absent for a __Host- cookie', cookie.domain)
  }
  for (const key of ['path', 'domain'] as const) {
    // The cookie library's own rules, checked now rather than by the first response's Set-Cookie.
    try {
      serialize(name, '', { [key]: cookie[key] })
    } catch {
      throw optionError(`cookie.${key}`, `a valid cookie ${key} (printable ASCII, no spaces or semicolons)`, cookie[key])
    }
  }
}
