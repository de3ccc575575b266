/**
 * The connection of one Redis adapter, shared by all its operations: the client (the caller's
 * own, or one created for a URL), the key layout (`prefix` + record key; owner indexes
 * `prefix{owner}`), commands and scripts sent through `bounded`, `ready()` and `close()`; with
 * `cache`, the near cache and its invalidation channel, whose data connection carries every call
 * while the channel is confirmed.
 * @module
 */
import { StashError, StashUnavailableError } from '../../errors.js'
import { ownerOfKey } from '../../store/adapter.js'
import { bounded } from './redis-call.js'
import { connectUrl } from './redis-connect.js'
import { RecordCache } from './redis-cache.js'
import { driverFor, type RedisDriver } from './redis-driver.js'
import type { ResolvedRedisOptions } from './redis-options.js'
import { scriptCommand, type RedisScript } from './redis-scripts.js'
import { trackedVariant } from './redis-tracked-write.js'
import { openChannel } from './redis-tracking-open.js'
import type { Tracking } from './redis-tracking.js'

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
  /** The adapter's `close()`: closes the client it created (a caller's own stays open) and the cache's connections. */
  close(): Promise<void>
  /** The near cache, with `cache`. */
  readonly cache: RecordCache | undefined
}

/** Opens the link of an adapter with these options: creates and connects its client for a URL. */
export function openRedisLink(settings: ResolvedRedisOptions): RedisLink {
  const { prefix } = settings
  const ownsClient = settings.client === undefined
  const connecting = ownsClient ? connectUrl(settings.url!, settings.clientOptions) : undefined
  // A client that cannot be created fails each call (StashUnavailableError), never the process (an unhandled rejection).
  connecting?.catch(() => {})
  const main = settings.client === undefined ? undefined : driverFor(settings.client)
  let closed = false
  const near = settings.cache === undefined ? undefined : nearCache(settings, main ?? connecting!, () => closed)
  // Calls go through the cache's data connection while its channel is confirmed, else the adapter's client.
  const directDriver = (): RedisDriver | undefined => {
    const tracking = near?.tracking()
    return tracking?.confirmed === true ? (tracking.driver ?? main) : main
  }
  const redisKey = (record: string): string => prefix + record
  const indexKey = (owner: string): string => indexKeyOf(prefix, owner)
  const driver = async (): Promise<RedisDriver> => {
    if (closed) throw new StashError('ERR_STASH_CLOSED', 'the redis adapter was closed')
    const direct = directDriver()
    if (direct !== undefined) return direct
    try {
      return await connecting!
    } catch (err) {
      throw new StashUnavailableError(`cannot create a Redis client: ${(err as Error).message}`, { cause: err })
    }
  }
  // A driver at hand is used without awaiting driver(): one promise fewer per call.
  const send = <T>(command: string[], target: string | undefined, read?: (reply: unknown) => T, script?: RedisScript) => {
    const direct = closed ? undefined : directDriver()
    if (direct !== undefined) return bounded(direct, settings, command, target, read, script)
    return driver().then((d) => bounded(d, settings, command, target, read, script))
  }
  return {
    settings,
    redisKey,
    indexKey,
    scriptKeys: (record) => scriptKeysOf(prefix, record),
    directDriver: () => (closed ? undefined : directDriver()),
    driver,
    cache: near?.cache,
    script: (name, keys, args, read) => {
      const script = closed ? name : scriptFor(name, near?.tracking())
      return send(scriptCommand(script, keys, args), keys[0], read, script)
    },
    command: (target, args) => send(args, target),
    async ready(timeout) {
      const started = Date.now()
      const d = await driver()
      await waitUntilReady(d, timeout)
      await bounded(d, { timeout, maxPending: settings.maxPending }, ['PING'], undefined)
      // The near cache serves once its channel is confirmed; the adapter serves without it meanwhile.
      await near?.tracking()?.ready(Math.max(0, timeout - (Date.now() - started)))
    },
    async close() {
      if (closed) return
      closed = true
      await near?.tracking()?.close()
      near?.cache.flush()
      if (ownsClient) await (await connecting!.catch(() => undefined))?.close()
    },
  }
}

/** The key of an owner's index under `prefix`: `prefix{owner}`, in the hash slot of the owner's records. */
function indexKeyOf(prefix: string, owner: string): string {
  return `${prefix}{${owner}}`
}

/** The `KEYS` of a record's scripts: its Redis key, plus its owner's index when it has an owner. */
function scriptKeysOf(prefix: string, record: string): string[] {
  const owner = ownerOfKey(record)
  return owner === undefined ? [prefix + record] : [prefix + record, indexKeyOf(prefix, owner)]
}

/**
 * The script to send now: on the near cache's data connection (a call while its channel is
 * confirmed; a cluster's channel has none), a write that reads its key back last, so that Redis
 * keeps reporting the key's changes to the writer (redis-tracked-write.ts).
 */
function scriptFor(script: RedisScript, tracking: Tracking | undefined): RedisScript {
  return tracking?.confirmed === true && tracking.driver !== undefined ? trackedVariant(script) : script
}

/**
 * The near cache of an adapter and its invalidation channel, opened on the adapter's client
 * (once connected, for a client the adapter creates; never after `closed()`).
 */
function nearCache(
  settings: ResolvedRedisOptions,
  client: RedisDriver | Promise<RedisDriver>,
  closed: () => boolean,
): { readonly cache: RecordCache; tracking(): Tracking | undefined } {
  let tracking: Tracking | undefined
  const cache = new RecordCache(settings.cache!, () => tracking?.confirmed === true)
  const track = (d: RedisDriver): void => {
    if (closed()) return
    tracking = openChannel(d, {
      prefix: settings.prefix,
      onInvalidate: (keys) => {
        for (const key of keys) cache.invalidate(key)
      },
      onFlush: () => cache.flush(),
    })
  }
  if (client instanceof Promise) client.then(track, () => {})
  else track(client)
  return { cache, tracking: () => tracking }
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
