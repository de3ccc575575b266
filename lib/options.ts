import type { IncomingMessage } from 'node:http'
import { serialize } from 'cookie'
import type { StashAdapter } from './adapter.js'
import type { StashData, StoredKey } from './types.js'
import { describe, optionError } from './errors.js'
import { RESERVED_NAMES } from './reserved.js'

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

/** Options of one route's stash (`stash.route(options)`). */
export interface RouteOptions<Data extends object = StashData> {
  /** Extra keys this route persists, on top of the instance's `storedKeys`. @default [] */
  storedKeys?: readonly StoredKey<Data>[]
  /** Seconds of inactivity before stored state expires, for this route's writes and touch. @default the instance's ttl */
  ttl?: number
}

/** Options of {@link createStash}. Every duration is in seconds. */
export interface StashOptions<Data extends object = StashData> extends RouteOptions<Data> {
  /**
   * Secret(s) signing the cookie and authenticating stored values. The first signs, all verify
   * (rotation). Required when `NODE_ENV=production`.
   * @default a development secret, with a one-time warning
   */
  secret?: string | readonly string[]
  /** Where state lives. @default memoryAdapter() */
  adapter?: StashAdapter
  /** Keys persisted on every route this instance serves. @default [] */
  storedKeys?: readonly StoredKey<Data>[]
  /** Seconds of inactivity before stored state expires; fractions round up. @default 300 */
  ttl?: number
  /** A request that loads the stash slides its expiry. @default true */
  touch?: boolean
  /** The ID cookie. */
  cookie?: CookieOptions
  /** Re-send the cookie on every response that has a stash ID (useful with `cookie.maxAge`). @default false */
  rolling?: boolean
  /**
   * Binds each stash to the user's session: a key looked up in `req.session`, then
   * `req.signedCookies`, or a function returning the value (a string or a number). Its SHA-256
   * becomes part of the record key. A request without a value has an anonymous stash, which
   * `rotate()` binds on the request that brings the value (the login). @default none
   */
  sessionKey?: string | ((req: IncomingMessage) => string | number | undefined)
  /** Stored state written under another version is discarded and deleted. @default none */
  version?: string | number
  /** What a request gets when the store cannot answer: a 503 error, or an empty stash. @default 'error' */
  onUnavailable?: 'error' | 'continue'
  /** Largest serialized stash in bytes. @default 1048576 (1 MiB) */
  maxBytes?: number
  /**
   * Encrypt stored values (AES-256-GCM, key derived from the secret), for state that must stay
   * unreadable even to someone who can read the store. @default false: values are authenticated, not encrypted
   */
  encrypt?: boolean
}

/** The defaults of every option. */
export const DEFAULTS = Object.freeze({
  storedKeys: Object.freeze([]) as readonly string[],
  ttl: 300,
  touch: true,
  rolling: false,
  onUnavailable: 'error' as const,
  maxBytes: 1024 * 1024,
  encrypt: false,
  cookie: Object.freeze({ name: 'stash', path: '/', httpOnly: true, sameSite: 'lax' as const, secure: 'auto' as const }),
})

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

/** Options after validation and defaults (adapter and secrets are resolved by createStash). @internal */
export interface ResolvedOptions {
  secrets: readonly string[] | undefined
  adapter: StashAdapter | undefined
  storedKeys: readonly string[]
  ttl: number
  touch: boolean
  cookie: ResolvedCookieOptions
  rolling: boolean
  sessionKey: StashOptions['sessionKey']
  version: string | undefined
  onUnavailable: 'error' | 'continue'
  maxBytes: number
  encrypt: boolean
}

const STASH_OPTIONS = new Set([
  'secret',
  'adapter',
  'storedKeys',
  'ttl',
  'touch',
  'cookie',
  'rolling',
  'sessionKey',
  'version',
  'onUnavailable',
  'maxBytes',
  'encrypt',
])
const ROUTE_OPTIONS = new Set(['storedKeys', 'ttl'])
/** Shortest secret accepted when NODE_ENV is production (HMAC-SHA256 keys guessable below it). */
const MIN_PRODUCTION_SECRET = 32
const COOKIE_OPTIONS = new Set(['name', 'path', 'domain', 'httpOnly', 'sameSite', 'secure', 'maxAge', 'partitioned', 'priority'])
// RFC 6265 cookie-name: an HTTP token.
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/
const ADAPTER_METHODS = ['load', 'write', 'compareAndSet', 'touch', 'readAll', 'move', 'delete', 'close'] as const

/** Validates `createStash` options and applies the defaults. Throws `TypeError` naming the option. */
export function resolveOptions(options: unknown): ResolvedOptions {
  const o = plainObject(options ?? {}, 'options', STASH_OPTIONS)
  const version = o.version
  if (version !== undefined && !(typeof version === 'string' && version !== '') && !Number.isFinite(version)) {
    throw optionError('version', 'a non-empty string or a finite number', version)
  }
  return {
    secrets: resolveSecrets(o.secret),
    adapter: resolveAdapter(o.adapter),
    storedKeys: resolveStoredKeys(o.storedKeys, 'storedKeys'),
    ttl: o.ttl === undefined ? DEFAULTS.ttl : resolveSeconds(o.ttl, 'ttl'),
    touch: resolveBoolean(o.touch, 'touch', DEFAULTS.touch),
    cookie: resolveCookie(o.cookie),
    rolling: resolveBoolean(o.rolling, 'rolling', DEFAULTS.rolling),
    sessionKey: resolveSessionKey(o.sessionKey),
    version: version === undefined ? undefined : String(version),
    onUnavailable: oneOf(o.onUnavailable, 'onUnavailable', ['error', 'continue'] as const) ?? DEFAULTS.onUnavailable,
    maxBytes: o.maxBytes === undefined ? DEFAULTS.maxBytes : positiveInteger(o.maxBytes, 'maxBytes'),
    encrypt: resolveBoolean(o.encrypt, 'encrypt', DEFAULTS.encrypt),
  }
}

/** Validates `stash.route()` options. */
export function resolveRouteOptions(options: unknown): { storedKeys: readonly string[]; ttl: number | undefined } {
  const o = plainObject(options ?? {}, 'route options', ROUTE_OPTIONS)
  return {
    storedKeys: resolveStoredKeys(o.storedKeys, 'route.storedKeys'),
    ttl: o.ttl === undefined ? undefined : resolveSeconds(o.ttl, 'route.ttl'),
  }
}

function plainObject(value: unknown, name: string, known: Set<string>): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw optionError(name, 'an object', value)
  }
  for (const key of Object.keys(value)) {
    if (!known.has(key)) throw new TypeError(`express-stash: unknown option \`${name === 'options' ? key : `${name}.${key}`}\``)
  }
  return value as Record<string, unknown>
}

function resolveSecrets(secret: unknown): readonly string[] | undefined {
  if (secret === undefined) return undefined
  const list = typeof secret === 'string' ? [secret] : secret
  if (!Array.isArray(list) || list.length === 0 || !list.every((s) => typeof s === 'string' && s.length > 0)) {
    throw optionError('secret', 'a non-empty string or a non-empty array of non-empty strings', secret)
  }
  if (process.env.NODE_ENV === 'production') {
    const short = list.findIndex((s: string) => s.length < MIN_PRODUCTION_SECRET)
    if (short >= 0) {
      throw optionError(
        'secret',
        `at least ${MIN_PRODUCTION_SECRET} characters long when NODE_ENV is production (${typeof secret === 'string' ? 'it' : `entry ${short}`} has ${list[short].length}); generate one with: node -e "console.log(require('crypto').randomBytes(32).toString('base64url'))"`,
      )
    }
  }
  return Object.freeze([...list])
}

function resolveAdapter(adapter: unknown): StashAdapter | undefined {
  if (adapter === undefined) return undefined
  const missing = ADAPTER_METHODS.filter((m) => typeof (adapter as Record<string, unknown> | null)?.[m] !== 'function')
  if (typeof adapter !== 'object' || adapter === null || missing.length > 0) {
    throw optionError('adapter', `a StashAdapter (missing ${missing.join(', ')})`, adapter)
  }
  return adapter as StashAdapter
}

/** Validates a list of stored keys: non-empty strings, unique, not reserved. @internal */
export function resolveStoredKeys(keys: unknown, name: string): readonly string[] {
  if (keys === undefined) return DEFAULTS.storedKeys
  if (!Array.isArray(keys)) throw optionError(name, 'an array of key names', keys)
  const seen = new Set<string>()
  for (const key of keys) {
    if (typeof key !== 'string' || key === '') throw optionError(name, 'an array of non-empty strings', key)
    if (RESERVED_NAMES.has(key)) {
      throw new TypeError(
        `express-stash: \`${name}\` entry ${describe(key)} is reserved (a method or built-in name of req.stash)`,
      )
    }
    if (seen.has(key)) throw new TypeError(`express-stash: \`${name}\` lists ${describe(key)} twice`)
    seen.add(key)
  }
  return Object.freeze([...seen])
}

function resolveSeconds(value: unknown, name: string): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) {
    throw optionError(name, 'a positive number of seconds', value)
  }
  return Math.ceil(value)
}

function positiveInteger(value: unknown, name: string): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value <= 0) {
    throw optionError(name, 'a positive integer', value)
  }
  return value
}

function resolveBoolean(value: unknown, name: string, fallback: boolean): boolean {
  if (value === undefined) return fallback
  if (typeof value !== 'boolean') throw optionError(name, 'a boolean', value)
  return value
}

function oneOf<T extends string>(value: unknown, name: string, allowed: readonly T[]): T | undefined {
  if (value === undefined) return undefined
  if (!allowed.includes(value as T)) throw optionError(name, `one of ${allowed.map((a) => `'${a}'`).join(', ')}`, value)
  return value as T
}

function resolveSessionKey(value: unknown): StashOptions['sessionKey'] {
  if (value === undefined || typeof value === 'function') return value as StashOptions['sessionKey']
  if (typeof value !== 'string' || value === '') throw optionError('sessionKey', 'a non-empty string or a function', value)
  return value
}

function resolveCookie(value: unknown): ResolvedCookieOptions {
  const o = plainObject(value ?? {}, 'cookie', COOKIE_OPTIONS)
  const name = o.name ?? DEFAULTS.cookie.name
  if (typeof name !== 'string' || !TOKEN.test(name)) throw optionError('cookie.name', 'a valid cookie name', name)
  const optionalString = (key: string): string | undefined => {
    const v = o[key]
    if (v !== undefined && (typeof v !== 'string' || v === '' || /[;\s]/.test(v))) {
      throw optionError(`cookie.${key}`, 'a non-empty string without spaces or semicolons', v)
    }
    return v as string | undefined
  }
  const secure = o.secure ?? DEFAULTS.cookie.secure
  if (secure !== 'auto' && typeof secure !== 'boolean') throw optionError('cookie.secure', "true, false or 'auto'", secure)
  const cookie: ResolvedCookieOptions = {
    name,
    path: optionalString('path') ?? DEFAULTS.cookie.path,
    domain: optionalString('domain'),
    httpOnly: resolveBoolean(o.httpOnly, 'cookie.httpOnly', DEFAULTS.cookie.httpOnly),
    sameSite: oneOf(o.sameSite, 'cookie.sameSite', ['lax', 'strict', 'none'] as const) ?? DEFAULTS.cookie.sameSite,
    secure,
    maxAge: o.maxAge === undefined ? undefined : resolveSeconds(o.maxAge, 'cookie.maxAge'),
    partitioned: resolveBoolean(o.partitioned, 'cookie.partitioned', false),
    priority: oneOf(o.priority, 'cookie.priority', ['low', 'medium', 'high'] as const),
  }
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
  return cookie
}
