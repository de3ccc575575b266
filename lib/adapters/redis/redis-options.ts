/**
 * The options of `redisAdapter()`: how it reaches Redis ({@link RedisConnection}), its own
 * settings ({@link RedisAdapterOptions}), and their validation into {@link ResolvedRedisOptions}
 * (every bad option throws at once, before any connection is made).
 * @module
 */
import { optionError } from '../../errors.js'
import type { RedisClientLike } from './redis-client.js'
import { driverFor } from './redis-driver.js'

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
}

/**
 * How `redisAdapter` reaches Redis: a URL string, `{ url, ...clientOptions }` (the adapter
 * creates the client with `redis`, else `ioredis`, and closes it on `close()`), or `{ client }`
 * (a node-redis client or cluster of v4 and later, or an ioredis client or Cluster, left open).
 */
export type RedisConnection =
  | string
  | (RedisAdapterOptions & { url: string; [clientOption: string]: unknown })
  | (RedisAdapterOptions & { client: RedisClientLike })

/** The validated options of one Redis adapter, defaults filled in. */
export interface ResolvedRedisOptions {
  readonly prefix: string
  readonly timeout: number
  readonly maxPending: number
  readonly scanCount: number
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
    url,
    client,
    ...clientOptions
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
  if (client !== undefined) checkClient(client, clientOptions)
  return {
    prefix,
    timeout,
    maxPending,
    scanCount,
    url: url,
    client: client as RedisClientLike | undefined,
    clientOptions,
  }
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
