/**
 * The connection of one Redis adapter, shared by all its operations: the client (the caller's
 * own, or one created for a URL), the key layout (`prefix` + record key; owner indexes
 * `prefix{owner}`), commands and scripts sent through `bounded`, `ready()` and `close()`.
 * @module
 */
import { StashError, StashUnavailableError } from '../../errors.js'
import { ownerOfKey } from '../../store/adapter.js'
import { bounded } from './redis-call.js'
import { connectUrl } from './redis-connect.js'
import { driverFor, type RedisDriver } from './redis-driver.js'
import type { ResolvedRedisOptions } from './redis-options.js'
import { scriptCommand, type RedisScript } from './redis-scripts.js'

/** What every operation of one Redis adapter reaches Redis through. */
export interface RedisLink {
  readonly settings: ResolvedRedisOptions
  /** The Redis key of a record: `prefix` + its key. */
  redisKey(record: string): string
  /** The key of an owner's index, `prefix{owner}`: in the hash slot of the owner's records. */
  indexKey(owner: string): string
  /** The `KEYS` of a record's scripts: its Redis key, plus its owner's index when it has an owner. */
  scriptKeys(record: string): string[]
  /**
   * The driver of the caller's own client while the adapter is open, else `undefined` (then
   * {@link RedisLink.driver} it is): a call takes it without awaiting a promise.
   */
  directDriver(): RedisDriver | undefined
  /** The driver; rejects once closed, or when the client for the URL could not be created. */
  driver(): Promise<RedisDriver>
  /** Runs a script on `keys` (routed by the first), its reply through `read`. */
  script<T = unknown>(name: RedisScript, keys: string[], args: string[], read?: (reply: unknown) => T): Promise<T>
  /** One command, routed by the full key `target` on a cluster. */
  command(target: string, args: string[]): Promise<unknown>
  /** The adapter's `ready()`: connected, authenticated and answering within `timeout` ms. */
  ready(timeout: number): Promise<void>
  /** The adapter's `close()`: closes the client it created (a caller's own stays open). */
  close(): Promise<void>
}

/** Opens the link of an adapter with these options: creates and connects its client for a URL. */
export function openRedisLink(settings: ResolvedRedisOptions): RedisLink {
  const { prefix } = settings
  const ownsClient = settings.client === undefined
  const connecting = ownsClient ? connectUrl(settings.url!, settings.clientOptions) : undefined
  // A failure to create the client is reported by every call (StashUnavailableError), not as an
  // unhandled rejection that would crash the process before the first request.
  connecting?.catch(() => {})
  const direct = settings.client === undefined ? undefined : driverFor(settings.client)
  let closed = false

  const redisKey = (record: string): string => prefix + record
  const indexKey = (owner: string): string => `${prefix}{${owner}}`
  const driver = async (): Promise<RedisDriver> => {
    if (closed) throw new StashError('ERR_STASH_CLOSED', 'the redis adapter was closed')
    if (direct !== undefined) return direct
    try {
      return await connecting!
    } catch (err) {
      throw new StashUnavailableError(`cannot create a Redis client: ${(err as Error).message}`, { cause: err })
    }
  }
  return {
    settings,
    redisKey,
    indexKey,
    scriptKeys(record) {
      const owner = ownerOfKey(record)
      return owner === undefined ? [redisKey(record)] : [redisKey(record), indexKey(owner)]
    },
    directDriver: () => (closed ? undefined : direct),
    driver,
    // A caller's own client is used without awaiting driver(): one promise fewer per call.
    script(name, keys, args, read) {
      const command = scriptCommand(name, keys, args)
      if (direct !== undefined && !closed) return bounded(direct, settings, command, keys[0], read, name)
      return driver().then((d) => bounded(d, settings, command, keys[0], read, name))
    },
    command(target, args) {
      if (direct !== undefined && !closed) return bounded(direct, settings, args, target)
      return driver().then((d) => bounded(d, settings, args, target))
    },
    async ready(timeout) {
      const d = await driver()
      await waitUntilReady(d, timeout)
      await bounded(d, { timeout, maxPending: settings.maxPending }, ['PING'], undefined)
    },
    async close() {
      if (closed) return
      closed = true
      if (ownsClient) await (await connecting!.catch(() => undefined))?.close()
    },
  }
}

/** Connection errors no retry can fix: the adapter's `ready()` gives up on them at once. */
const FATAL =
  /WRONGPASS|NOAUTH|NOPERM|invalid password|invalid username|ENOTFOUND|EAI_FAIL|certificate|self.signed|unable to verify/i

/**
 * Waits for the client to be connected, at most `timeout` ms: fails at once on an error no
 * reconnect can fix (wrong credentials, an unknown host, a TLS failure), else at the deadline
 * with the last connection error.
 */
async function waitUntilReady(d: RedisDriver, timeout: number): Promise<void> {
  const started = Date.now()
  const deadline = started + timeout
  for (;;) {
    const left = deadline - Date.now()
    const fatal = d.lastError !== undefined && FATAL.test(d.lastError.message)
    if (!fatal && (await d.ready(Math.max(0, Math.min(left, 100))))) return
    if (fatal || Date.now() >= deadline) {
      const reason = d.lastError === undefined ? 'no answer' : d.lastError.message
      throw new StashUnavailableError(`${d.label} cannot serve: ${reason} (after ${Date.now() - started} ms)`, {
        cause: d.lastError,
      })
    }
  }
}
