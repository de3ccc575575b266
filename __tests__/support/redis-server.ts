/**
 * Real `redis-server` processes for tests, on free loopback ports with fresh
 * temp data dirs and no persistence. Never touches the machine's Redis on
 * port 6379 and never runs FLUSHALL. If `redis-server` is not installed the
 * helpers throw instead of letting tests skip.
 *
 * @example
 * ```ts
 * import { startRedis, type RedisServer } from './support/redis-server.js';
 *
 * let redis: RedisServer;
 * beforeAll(async () => { redis = await startRedis(); });
 * afterAll(async () => { await redis.stop(); });
 * ```
 *
 * For a Redis Cluster see `startRedisCluster()` in ./redis-cluster.js.
 * @module
 */
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { findFreePort, requireExecutable } from './redis-process.js'
import { PortInUseError, RedisInstance, type ArgsBuilder, type RedisServer } from './redis-instance.js'

export type { RedisServer } from './redis-instance.js'

/** Options for {@link startRedis}. */
export interface StartRedisOptions {
  /** Extra `redis-server` arguments, e.g. `['--maxmemory', '1mb']`. */
  args?: string[]
}

/**
 * Creates a {@link RedisInstance} on a free port and launches it, retrying on
 * a fresh port (up to 5 attempts) if the port was grabbed by someone else.
 * @internal Shared with ./redis-cluster.js.
 */
export async function launchRedis(options: {
  args?: ArgsBuilder
  busPort?: boolean
  avoid?: ReadonlySet<number>
}): Promise<RedisInstance> {
  requireExecutable('redis-server')
  let lastError: unknown
  for (let attempt = 0; attempt < 5; attempt++) {
    const port = await findFreePort({ busPort: options.busPort, avoid: options.avoid })
    const server = new RedisInstance(port, mkdtempSync(join(tmpdir(), `express-stash-redis-${port}-`)), options.args)
    try {
      await server.launch()
      return server
    } catch (err) {
      await server.stop()
      if (!(err instanceof PortInUseError)) throw err
      lastError = err
    }
  }
  throw new Error(`could not start redis-server after 5 attempts: ${String(lastError)}`)
}

/**
 * Starts a private `redis-server` on a free 127.0.0.1 port with
 * `--save "" --appendonly no --bind 127.0.0.1 --port N --dir <tmp>` plus
 * `options.args`, and waits (up to 10 s) until it answers PING.
 * Always pair with `await server.stop()` (e.g. in `afterAll`); a process-exit
 * hook SIGKILLs anything left over as a last resort.
 * @throws Error if `redis-server` is not on PATH or does not come up (the message includes its output).
 */
export async function startRedis(options: StartRedisOptions = {}): Promise<RedisServer> {
  const extra = options.args ?? []
  return launchRedis({ args: () => [...extra] })
}

/** A Redis URL for tests plus the matching cleanup. */
export interface TestRedisUrl {
  /** `redis://...` URL to connect to. */
  url: string
  /** Stops the server started for this URL; a no-op when the URL came from `REDIS_URL`. */
  stop(): Promise<void>
}

/**
 * Returns `process.env.REDIS_URL` when set (the caller is responsible for
 * that server; `stop()` does nothing), otherwise starts a private server with
 * {@link startRedis}. Tests sharing a `REDIS_URL` server should use unique
 * key prefixes rather than flushing.
 */
export async function redisUrlForTests(): Promise<TestRedisUrl> {
  const fromEnv = process.env['REDIS_URL']
  if (fromEnv !== undefined && fromEnv !== '') return { url: fromEnv, stop: async () => {} }
  const server = await startRedis()
  return { url: server.url, stop: () => server.stop() }
}
