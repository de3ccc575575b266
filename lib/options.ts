/**
 * The options of `createStash()`: their types, their defaults, and their validation into the
 * {@link ResolvedOptions} every request reads (the cookie's included); and the validation of
 * `stash.route()` options.
 * @module
 */
import type { IncomingMessage } from 'node:http'
import { COOKIE_DEFAULTS, resolveCookieOptions, type CookieOptions, type ResolvedCookieOptions } from './cookie/cookie-options.js'
import type { StashAdapter } from './store/adapter.js'
import { RESERVED_NAMES, type RouteOptions, type StashData, type StoredKey } from './types.js'
import { booleanOption, describe, oneOfOption, optionError, optionsObject, secondsOption } from './errors.js'

export type { CookieOptions, ResolvedCookieOptions }

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
  /**
   * Seconds of inactivity before the instance's stored keys expire (each route's own keys take
   * the route's `ttl`); fractions round up. @default 300
   */
  ttl?: number
  /** A request that loads the stash slides the expiry of the keys it loads; a route's `touch` wins. @default true */
  touch?: boolean
  /**
   * Seconds after its creation when a stash ends, however active it is (the absolute timeout
   * beside `ttl`'s idle timeout). `rotate()` keeps the creation time; no key and no cookie outlives
   * it. @default none
   */
  maxLifetime?: number
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
  storedKeys: Object.freeze<string[]>([]),
  ttl: 300,
  touch: true,
  rolling: false,
  onUnavailable: 'error' as const,
  maxBytes: 1024 * 1024,
  encrypt: false,
  cookie: COOKIE_DEFAULTS,
})

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
  /** `maxLifetime` in seconds; undefined for none. */
  maxLifetime: number | undefined
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
  'maxLifetime',
])
const ROUTE_OPTIONS = new Set(['storedKeys', 'ttl', 'touch'])
/** Shortest secret accepted when NODE_ENV is production (HMAC-SHA256 keys guessable below it). */
const MIN_PRODUCTION_SECRET = 32
const ADAPTER_METHODS = ['load', 'write', 'compareAndSet', 'readAll', 'move', 'delete', 'close'] as const

/** Validates `createStash` options and applies the defaults. Throws `TypeError` naming the option. */
export function resolveOptions(options: unknown): ResolvedOptions {
  const o = optionsObject(options ?? {}, 'options', STASH_OPTIONS)
  const version = resolveVersion(o.version)
  return {
    secrets: resolveSecrets(o.secret),
    adapter: resolveAdapter(o.adapter),
    storedKeys: resolveStoredKeys(o.storedKeys, 'storedKeys'),
    ttl: o.ttl === undefined ? DEFAULTS.ttl : secondsOption(o.ttl, 'ttl'),
    touch: booleanOption(o.touch, 'touch', DEFAULTS.touch),
    cookie: resolveCookieOptions(o.cookie),
    rolling: booleanOption(o.rolling, 'rolling', DEFAULTS.rolling),
    sessionKey: resolveSessionKey(o.sessionKey),
    version,
    onUnavailable: oneOfOption(o.onUnavailable, 'onUnavailable', ['error', 'continue'] as const) ?? DEFAULTS.onUnavailable,
    maxBytes: o.maxBytes === undefined ? DEFAULTS.maxBytes : positiveInteger(o.maxBytes, 'maxBytes'),
    encrypt: booleanOption(o.encrypt, 'encrypt', DEFAULTS.encrypt),
    maxLifetime: o.maxLifetime === undefined ? undefined : secondsOption(o.maxLifetime, 'maxLifetime'),
  }
}

/** `stash.route()` options after validation; `undefined` where the route takes the instance's. @internal */
export interface ResolvedRouteOptions {
  storedKeys: readonly string[]
  ttl: number | undefined
  touch: boolean | undefined
}

/** Validates `stash.route()` options. */
export function resolveRouteOptions(options: unknown): ResolvedRouteOptions {
  const o = optionsObject(options ?? {}, 'route options', ROUTE_OPTIONS)
  return {
    storedKeys: resolveStoredKeys(o.storedKeys, 'route.storedKeys'),
    ttl: o.ttl === undefined ? undefined : secondsOption(o.ttl, 'route.ttl'),
    touch: o.touch === undefined ? undefined : booleanOption(o.touch, 'route.touch', true),
  }
}

/** `version`: a non-empty string, or a finite number taken as its decimal string. */
function resolveVersion(value: unknown): string | undefined {
  if (value === undefined) return undefined
  if (typeof value === 'string' && value !== '') return value
  if (typeof value === 'number' && Number.isFinite(value)) return String(value)
  throw optionError('version', 'a non-empty string or a finite number', value)
}

function resolveSecrets(secret: unknown): readonly string[] | undefined {
  if (secret === undefined) return undefined
  const list: unknown[] | undefined = typeof secret === 'string' ? [secret] : Array.isArray(secret) ? secret : undefined
  if (list === undefined || list.length === 0 || !list.every((s): s is string => typeof s === 'string' && s.length > 0)) {
    throw optionError('secret', 'a non-empty string or a non-empty array of non-empty strings', secret)
  }
  if (process.env.NODE_ENV === 'production') {
    const short = list.findIndex((s: string) => s.length < MIN_PRODUCTION_SECRET)
    if (short >= 0) {
      throw optionError(
        'secret',
        `at least ${MIN_PRODUCTION_SECRET} characters long when NODE_ENV is production (${typeof secret === 'string' ? 'it' : `entry ${short}`} has ${list[short]!.length}); generate one with: node -e "console.log(require('crypto').randomBytes(32).toString('base64url'))"`,
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

function positiveInteger(value: unknown, name: string): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value <= 0) {
    throw optionError(name, 'a positive integer', value)
  }
  return value
}

function resolveSessionKey(value: unknown): StashOptions['sessionKey'] {
  if (value === undefined || typeof value === 'function') return value as StashOptions['sessionKey']
  if (typeof value !== 'string' || value === '') throw optionError('sessionKey', 'a non-empty string or a function', value)
  return value
}
