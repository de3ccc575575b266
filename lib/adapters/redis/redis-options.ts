/**
 * The options of `redisAdapter()`: how it reaches Redis ({@link RedisConnection}), its own
 * settings ({@link RedisAdapterOptions}), and their validation into {@link ResolvedRedisOptions}
 * (every bad option throws at once, before any connection is made).
 * @module
 */
import { optionError } from '../../errors.js'
import { CLIENT_OPTION_NAMES } from './client-option-names.js'
import type { RedisClientLike } from './redis-client.js'
import { driverFor } from './redis-driver.js'
import { CACHE_DEFAULTS, type CacheSettings } from './redis-cache.js'
import { canTrack } from './redis-tracking-open.js'

/** Options of `redisAdapter` that are not client options. */
export interface RedisAdapterOptions {
  /** Prepended to every key. @default 'stash:' */
  prefix?: string
  /** Milliseconds each store call may take before the request gets `StashUnavailableError`. @default 1000 */
  timeout?: number
  /**
   * Most store calls in flight at once; beyond it calls fail at once with `StashUnavailableError`,
   * so a stalled server never accumulates an unbounded queue of commands. @default 1000
   */
  maxPending?: number
  /**
   * The `COUNT` hint of each `SCAN` the admin calls (`ids()`, `length()`, `clear()`) make: how
   * many keys Redis looks at per call. Smaller means shorter calls but more round trips. @default 200
   */
  scanCount?: number
  /**
   * The near cache: each process keeps the records it loaded or wrote lately and answers their
   * loads without a round trip, kept correct by Redis's client tracking (two more connections
   * per process). `true` for the defaults, or the bounds. A client reads its own writes on every
   * node; another client's write is seen once its invalidation arrives. Not on Redis Cluster.
   * @default false
   */
  cache?: boolean | RedisCacheOptions
}

/** The bounds of the near cache (`redisAdapter({ cache: { ... } })`). */
export interface RedisCacheOptions {
  /** Most records held per process; the least recently used go first. @default 10000 */
  maxEntries?: number
  /** Most bytes held per process (UTF-8 of cached values, names and markers). @default 16777216 (16 MiB) */
  maxBytes?: number
}

/**
 * How `redisAdapter` reaches Redis: a URL string, `{ url, ...clientOptions }` (the adapter
 * creates the client with `redis`, else `ioredis`, and closes it on `close()`; the keys beside
 * the adapter's own must be options of node-redis's `createClient` or of ioredis, and
 * `clientOptions: { ... }` passes any others on as they are), or `{ client }` (a node-redis client
 * or cluster of v4 and later, or an ioredis client or Cluster, left open).
 */
export type RedisConnection =
  | string
  | (RedisAdapterOptions & { url: string; clientOptions?: Record<string, unknown>; [clientOption: string]: unknown })
  | (RedisAdapterOptions & { client: RedisClientLike })

/** The validated options of one Redis adapter, defaults filled in. */
export interface ResolvedRedisOptions {
  readonly prefix: string
  readonly timeout: number
  readonly maxPending: number
  readonly scanCount: number
  /** The near cache's bounds; `undefined` without a cache. */
  readonly cache: CacheSettings | undefined
  /** The URL of a client the adapter creates (exactly one of `url` and `client` is set). */
  readonly url?: string
  /** The caller's own client, left open on `close()`. */
  readonly client?: RedisClientLike
  /** What goes to the client the adapter creates for `url`. */
  readonly clientOptions: Record<string, unknown>
}

const DEFAULT_PREFIX = 'stash:'
const DEFAULT_TIMEOUT = 1000
const DEFAULT_MAX_PENDING = 1000
const DEFAULT_SCAN_COUNT = 200

/** Validates the arguments of `redisAdapter(connection, options)` (`options` win); throws `TypeError` on a bad one. */
export function resolveRedisOptions(connection: RedisConnection, options: RedisAdapterOptions): ResolvedRedisOptions {
  const given: Record<string, unknown> =
    typeof connection === 'string'
      ? { url: connection, ...options }
      : typeof connection === 'object' && connection !== null
        ? { ...connection, ...options }
        : {}
  const {
    prefix = DEFAULT_PREFIX,
    timeout = DEFAULT_TIMEOUT,
    maxPending = DEFAULT_MAX_PENDING,
    scanCount = DEFAULT_SCAN_COUNT,
    cache,
    url,
    client,
    clientOptions: explicit,
    ...named
  } = given
  if (typeof prefix !== 'string') throw optionError('redisAdapter.prefix', 'a string', prefix)
  if (!isPositiveInteger(timeout)) throw optionError('redisAdapter.timeout', 'a positive integer of milliseconds', timeout)
  if (!isPositiveInteger(maxPending)) throw optionError('redisAdapter.maxPending', 'a positive integer', maxPending)
  if (!isPositiveInteger(scanCount)) throw optionError('redisAdapter.scanCount', 'a positive integer', scanCount)
  if ((url === undefined) === (client === undefined)) {
    throw optionError('redisAdapter connection', 'a URL string, { url, ...clientOptions } or { client }', connection)
  }
  if (url !== undefined && (typeof url !== 'string' || !/^rediss?:\/\//.test(url))) {
    throw optionError('redisAdapter.url', 'a redis:// or rediss:// URL', url)
  }
  if (client !== undefined) checkClient(client, { ...named, ...(explicit === undefined ? {} : { clientOptions: explicit }) })
  const cacheSettings = cacheSettingsOf(cache)
  if (cacheSettings !== undefined && client !== undefined && !canTrack(client)) {
    throw optionError(
      'redisAdapter.cache',
      'used with a node-redis (v4 and later) or ioredis (v5 and later) client or cluster',
      cache,
    )
  }
  const clientOptions = { ...named, ...clientOptionsOf(explicit) }
  for (const key of Object.keys(named)) {
    if (!CLIENT_OPTION_NAMES.has(key)) {
      throw new TypeError(
        `express-stash: unknown option \`redisAdapter.${key}\`: neither an adapter option nor a node-redis or ioredis client option (pass other client options in \`clientOptions: { ${key} }\`)`,
      )
    }
  }
  return {
    prefix,
    timeout,
    maxPending,
    scanCount,
    cache: cacheSettings,
    url: url,
    client: client as RedisClientLike | undefined,
    clientOptions,
  }
}

/** The `clientOptions` object, checked. */
function clientOptionsOf(explicit: unknown): Record<string, unknown> {
  if (explicit === undefined) return {}
  if (typeof explicit !== 'object' || explicit === null || Array.isArray(explicit)) {
    throw optionError('redisAdapter.clientOptions', 'an object of client options', explicit)
  }
  return explicit as Record<string, unknown>
}

/** The near cache's settings from the `cache` option, or `undefined` without a cache. */
function cacheSettingsOf(cache: unknown): CacheSettings | undefined {
  if (cache === undefined || cache === false) return undefined
  if (cache === true) return CACHE_DEFAULTS
  if (typeof cache !== 'object' || cache === null || Array.isArray(cache)) {
    throw optionError('redisAdapter.cache', 'true, false, or { maxEntries, maxBytes }', cache)
  }
  const { maxEntries = CACHE_DEFAULTS.maxEntries, maxBytes = CACHE_DEFAULTS.maxBytes, ...unknown } = cache as RedisCacheOptions
  const extra = Object.keys(unknown)[0]
  if (extra !== undefined) throw new TypeError(`express-stash: unknown option \`redisAdapter.cache.${extra}\``)
  if (!isPositiveInteger(maxEntries)) throw optionError('redisAdapter.cache.maxEntries', 'a positive integer', maxEntries)
  if (!isPositiveInteger(maxBytes)) throw optionError('redisAdapter.cache.maxBytes', 'a positive integer of bytes', maxBytes)
  return { maxEntries, maxBytes }
}

/** Whether `value` is a whole number of at least 1. */
function isPositiveInteger(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value > 0
}

/** Checks the caller's own client: a client of a known shape, and no client options beside it. */
function checkClient(client: unknown, clientOptions: Record<string, unknown>): void {
  if (Object.keys(clientOptions).length > 0) {
    throw new TypeError(
      `express-stash: unknown option \`redisAdapter.${Object.keys(clientOptions)[0]}\` (client options go with \`url\`, not \`client\`)`,
    )
  }
  if (typeof client !== 'object' || client === null) throw optionError('redisAdapter.client', 'a Redis client', client)
  driverFor(client as RedisClientLike) // validates the shape now
}
