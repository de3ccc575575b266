import { performance } from 'node:perf_hooks'
import { ownerOfKey, type CompareAndSetResult, type StashAdapter } from '../adapter.js'
import { optionError, StashError, StashUnavailableError, tooLargeError } from '../errors.js'
import { bounded, driverFor, isAnswer, scriptCommand, type RedisClientLike, type RedisDriver } from './redis-client.js'
import { RecentTouches } from './recent-touches.js'
import { redisAdmin } from './redis-admin.js'
import { connectUrl } from './redis-connect.js'
import {
  COMPARE_AND_SET,
  DELETE,
  DELETE_OWNER,
  LOAD,
  MARKER,
  MOVE,
  NOT_A_HASH,
  OWNER_KEYS,
  READ_ALL,
  REPLACE,
  TOUCH,
  WRITE,
  type RedisScript,
} from './redis-scripts.js'

/** Options of {@link redisAdapter} that are not client options. */
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

/** The Redis adapter. */
export interface RedisAdapter extends StashAdapter {
  /** The prefix of this adapter's keys. */
  readonly prefix: string
}

const DEFAULT_PREFIX = 'stash:'
const DEFAULT_TIMEOUT = 1000
const DEFAULT_MAX_PENDING = 1000
const DEFAULT_SCAN_COUNT = 200

/**
 * Stores each stash as one Redis hash (one field per stored key) under `prefix` + a hash of the
 * ID. Loading (with touch) and writing are one round trip each, as Lua scripts touching a single
 * key, so every per-request operation stays in one hash slot on Redis Cluster.
 *
 * @example
 * createStash({ adapter: redisAdapter(process.env.REDIS_URL) })
 * createStash({ adapter: redisAdapter({ client: existingClient, prefix: 'app:stash:' }) })
 */
export function redisAdapter(connection: RedisConnection, options: RedisAdapterOptions = {}): RedisAdapter {
  const settings = resolve(connection, options)
  const ownsClient = settings.client === undefined
  const connecting = ownsClient ? connectUrl(settings.url!, settings.clientOptions) : undefined
  // A failure to create the client is reported by every call (StashUnavailableError), not as an
  // unhandled rejection that would crash the process before the first request.
  connecting?.catch(() => {})
  const direct = settings.client === undefined ? undefined : driverFor(settings.client)
  let closed = false
  /** Loads take plain commands (`HMGET`, `PEXPIRE GT`) until a server turns out to lack `PEXPIRE GT` (Redis < 7). */
  let plainLoads = true
  const recentTouches = new RecentTouches()

  const key = (record: string): string => settings.prefix + record
  const indexOf = (owner: string): string => `${settings.prefix}{${owner}}`
  // A record's key, plus its owner's index when it has an owner (same hash slot).
  const keys = (record: string): string[] => {
    const owner = ownerOfKey(record)
    return owner === undefined ? [key(record)] : [key(record), indexOf(owner)]
  }
  const driver = async (): Promise<RedisDriver> => {
    if (closed) throw new StashError('ERR_STASH_CLOSED', 'the redis adapter was closed')
    if (direct !== undefined) return direct
    try {
      return await connecting!
    } catch (err) {
      throw new StashUnavailableError(`cannot create a Redis client: ${(err as Error).message}`, { cause: err })
    }
  }
  // A caller's own client is used without awaiting driver(): one promise fewer per call.
  const script = <T = unknown>(name: RedisScript, keys: string[], args: string[], read?: (reply: unknown) => T): Promise<T> => {
    const command = scriptCommand(name, keys, args)
    if (direct !== undefined && !closed) return bounded(direct, settings, command, keys[0], read, name)
    return driver().then((d) => bounded(d, settings, command, keys[0], read, name))
  }
  const command = (record: string, args: string[]): Promise<unknown> => {
    if (direct !== undefined && !closed) return bounded(direct, settings, args, record)
    return driver().then((d) => bounded(d, settings, args, record))
  }

  const loadByScript = (record: string, fields: readonly string[], ttl: number | undefined) =>
    script(LOAD, keys(record), [String(ttl ?? 0), ...fields], (reply) => loaded(reply, key(record)))

  /**
   * The hot path of every request, in one round trip without Lua (a script costs Redis several
   * times what its commands do): `HMGET` of the marker and the fields and, unless this process
   * slid the expiry moments ago ({@link RecentTouches}), `PEXPIRE ... GT` of the record (and its
   * owner index), which only ever pushes an expiry out and never creates a key. Whatever these
   * cannot settle goes to the LOAD script: no marker and no value (a missing record, or one
   * written before the marker), a key of another type, a server without `GT`.
   */
  const loadByCommands = (
    d: RedisDriver,
    record: string,
    fields: readonly string[],
    ttl: number | undefined,
  ): Promise<(string | undefined)[] | undefined> => {
    const target = key(record)
    const read = ['HMGET', target, MARKER, ...fields]
    const now = performance.now()
    const ttlMs = (ttl ?? 0) * 1000
    const touched = ttlMs > 0 && recentTouches.due(target, ttlMs, now) ? keys(record) : []
    const send = (): Promise<unknown> => {
      if (touched.length === 0) return d.command(target, read)
      const sent = [d.command(target, read)]
      for (const touch of touched) sent.push(d.command(target, ['PEXPIRE', touch, String(ttlMs), 'GT']))
      return Promise.all(sent)
    }
    const byScript = () => loadByScript(record, fields, ttl)
    // The values, or undefined when neither the marker nor any value came back: the script decides.
    const valuesOf = (reply: unknown): (string | undefined)[] | undefined => {
      const values = (touched.length === 0 ? reply : (reply as unknown[])[0]) as (string | null)[]
      const marker = values.shift()
      if (!withoutNulls(values) && marker === null) return undefined
      if (touched.length > 0) recentTouches.touched(target, ttlMs, now)
      return values as (string | undefined)[]
    }
    return bounded(d, settings, read, send, valuesOf).then(
      (values) => values ?? byScript(),
      (err: unknown) => {
        // Redis's own error answer: a key of another type (HMGET), or PEXPIRE without GT (Redis < 7).
        if (!isAnswer(err) || err instanceof StashError) throw err
        const wrongType = String((err as Error)?.message).startsWith('WRONGTYPE')
        return byScript().then((values) => {
          if (!wrongType) plainLoads = false // the script could do what the commands could not
          return values
        })
      },
    )
  }

  return {
    kind: 'redis',
    prefix: settings.prefix,
    load(record, fields, ttl) {
      if (!plainLoads) return loadByScript(record, fields, ttl)
      if (direct !== undefined && !closed) return loadByCommands(direct, record, fields, ttl)
      return driver().then((d) => loadByCommands(d, record, fields, ttl))
    },
    async write(record, change) {
      const set = Object.entries(change.set).flat()
      const flags = change.existing === true ? 'e' : ''
      const args = [ttlArgument(change), String(change.maxBytes ?? 0), flags, String(change.del.length), ...change.del, ...set]
      const size = Number(await script(WRITE, keys(record), args))
      if (size < 0) return 'gone'
      if (size > 0) throw tooLargeError(size, change.maxBytes!)
    },
    async compareAndSet(record, swap): Promise<CompareAndSetResult> {
      const { field, expected, next, maxBytes } = swap
      const args = [
        field,
        expected === undefined ? '0' : '1',
        expected ?? '',
        next === undefined ? '0' : '1',
        next ?? '',
        ttlArgument(swap),
        String(maxBytes ?? 0),
        swap.existing === true ? 'e' : '',
      ]
      const [status, value] = (await script(COMPARE_AND_SET, keys(record), args)) as [number, string | number | null]
      if (status === 3) return { ok: false, current: undefined, gone: true }
      if (status === 2) throw tooLargeError(Number(value), maxBytes!)
      return status === 1 ? { ok: true } : { ok: false, current: (value as string | null) ?? undefined }
    },
    async touch(record, ttl) {
      return Number(await script(TOUCH, keys(record), [String(ttl)])) === 1
    },
    async readAll(record) {
      const flat = (await script(READ_ALL, [key(record)], [])) as string[]
      if (flat.length === 0) return undefined
      const fields: Record<string, string> = {}
      for (let i = 0; i < flat.length; i += 2) if (flat[i] !== MARKER) fields[flat[i]!] = flat[i + 1]!
      return fields
    },
    async move(from, to, fields, ttl) {
      const pairs = Object.entries(fields).flat()
      const fromOwner = ownerOfKey(from)
      const toOwner = ownerOfKey(to)
      const oneSlot = from === to || (fromOwner !== undefined && fromOwner === toOwner)
      if (oneSlot || !(await driver()).cluster) {
        // One hash slot (one owner), or one server: atomic everywhere, the owner indexes included.
        const [layout, indexes] = moveIndexes(fromOwner, toOwner, indexOf)
        const moved = Number(await script(MOVE, [key(from), key(to), ...indexes], [String(ttl), layout, ...pairs]))
        if (moved === 0) return 'gone'
      } else {
        // Two hash slots: write the new record first, so a failure never loses the data; if the
        // old one is gone by then (revoked meanwhile), take the new one back: its ID was never sent.
        await script(REPLACE, keys(to), [String(ttl), ...pairs])
        if (Number(await script(DELETE, keys(from), [])) === 0) {
          await script(DELETE, keys(to), [])
          return 'gone'
        }
      }
    },
    async delete(record) {
      await script(DELETE, keys(record), [])
    },
    ...redisAdmin({ settings, driver, command, script }),
    async ownerKeys(owner) {
      const live = (await script(OWNER_KEYS, [indexOf(owner)], [])) as string[]
      return live.map((k) => k.slice(settings.prefix.length))
    },
    async deleteOwner(owner) {
      return Number(await script(DELETE_OWNER, [indexOf(owner)], []))
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

/** The ttl argument of WRITE and COMPARE_AND_SET: the seconds, after `=` when `exact`. */
const ttlArgument = ({ ttl, exact }: { ttl: number; exact?: boolean }): string => (exact === true ? `=${ttl}` : String(ttl))

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

/** Which owner indexes a MOVE keeps (see the script), and their keys. */
function moveIndexes(
  from: string | undefined,
  to: string | undefined,
  indexOf: (owner: string) => string,
): [layout: string, indexes: string[]] {
  if (from === to) return from === undefined ? ['', []] : ['same', [indexOf(from)]]
  if (from !== undefined && to !== undefined) return ['both', [indexOf(from), indexOf(to)]]
  if (from !== undefined) return ['from', [indexOf(from)]]
  return to === undefined ? ['', []] : ['to', [indexOf(to)]]
}

/** A LOAD reply as `load` returns it: `undefined` for no record, and for each missing field. */
function loaded(reply: unknown, key: string): (string | undefined)[] | undefined {
  if (reply === null || reply === undefined) return undefined
  if (reply === NOT_A_HASH) throw new StashError('ERR_STASH_CORRUPT', `the record under ${key} was not a hash; it was deleted`)
  const values = reply as (string | null)[]
  withoutNulls(values)
  return values as (string | undefined)[]
}

/** Turns the nils of an `HMGET` reply into `undefined`, in place; whether any value was there. */
function withoutNulls(values: (string | null | undefined)[]): boolean {
  let any = false
  for (let i = 0; i < values.length; i++) {
    if (values[i] === null) values[i] = undefined
    else any = true
  }
  return any
}

interface ResolvedRedisOptions {
  prefix: string
  timeout: number
  maxPending: number
  scanCount: number
  url?: string
  client?: RedisClientLike
  clientOptions: Record<string, unknown>
}

function resolve(connection: RedisConnection, options: RedisAdapterOptions): ResolvedRedisOptions {
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
  if (typeof timeout !== 'number' || !Number.isSafeInteger(timeout) || timeout <= 0) {
    throw optionError('redisAdapter.timeout', 'a positive integer of milliseconds', timeout)
  }
  if (typeof maxPending !== 'number' || !Number.isSafeInteger(maxPending) || maxPending <= 0) {
    throw optionError('redisAdapter.maxPending', 'a positive integer', maxPending)
  }
  if (typeof scanCount !== 'number' || !Number.isSafeInteger(scanCount) || scanCount <= 0) {
    throw optionError('redisAdapter.scanCount', 'a positive integer', scanCount)
  }
  if ((url === undefined) === (client === undefined)) {
    throw optionError('redisAdapter connection', 'a URL string, { url, ...clientOptions } or { client }', connection)
  }
  if (url !== undefined && (typeof url !== 'string' || !/^rediss?:\/\//.test(url))) {
    throw optionError('redisAdapter.url', 'a redis:// or rediss:// URL', url)
  }
  if (client !== undefined) {
    if (Object.keys(clientOptions).length > 0) {
      throw new TypeError(
        `express-stash: unknown option \`redisAdapter.${Object.keys(clientOptions)[0]}\` (client options go with \`url\`, not \`client\`)`,
      )
    }
    if (typeof client !== 'object' || client === null) throw optionError('redisAdapter.client', 'a Redis client', client)
    driverFor(client as RedisClientLike) // validates the shape now
  }
  return {
    prefix,
    timeout,
    maxPending,
    scanCount,
    url: url as string | undefined,
    client: client as RedisClientLike | undefined,
    clientOptions,
  }
}
