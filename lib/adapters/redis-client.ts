import { StashError, StashUnavailableError } from '../errors.js'
import type { RedisScript } from './redis-scripts.js'

/**
 * The part of a node-redis client (v4 and later) the adapter uses.
 *
 * `options` is typed `object`: the adapter passes {@link NodeRedisCommandOptions}, which
 * node-redis 4's `ClientCommandOptions` does not declare (v4 ignores `timeout`), and a typed
 * `timeout` would make v4's `sendCommand` fail to match (TS2322).
 */
export interface NodeRedisClient {
  readonly isReady: boolean
  sendCommand(args: string[], options?: object): Promise<unknown>
  close?(): Promise<unknown>
  quit?(): Promise<unknown>
}

/** The command options the adapter passes to node-redis (v4 ignores them). */
export interface NodeRedisCommandOptions {
  /** node-redis 5 and 6: milliseconds the command may wait to be written; 0: no timer. */
  readonly timeout?: number
}

/**
 * The part of a node-redis cluster client (`createCluster`, v4 and later) the adapter uses;
 * `options` is typed `object` as in {@link NodeRedisClient}.
 */
export interface NodeRedisCluster {
  sendCommand(firstKey: string | undefined, isReadonly: boolean | undefined, args: string[], options?: object): Promise<unknown>
  readonly masters?: readonly unknown[]
  getMasters?(): readonly { client?: unknown }[]
  nodeClient?(node: unknown): unknown
  close?(): Promise<unknown>
  quit?(): Promise<unknown>
}

/** The part of an ioredis client or `Cluster` the adapter uses. */
export interface IoRedisClient {
  readonly status: string
  readonly isCluster?: boolean
  call(command: string, ...args: string[]): Promise<unknown>
  quit(): Promise<unknown>
  /** ioredis `Cluster` only. */
  nodes?(role: 'master'): IoRedisClient[]
}

/** Any client `redisAdapter({ client })` accepts. */
export type RedisClientLike = NodeRedisClient | NodeRedisCluster | IoRedisClient

/**
 * One way to talk to Redis, whatever the client: a command routed by its first key, scripts
 * with `EVALSHA` falling back to `EVAL`, readiness, and closing.
 */
export interface RedisDriver {
  readonly label: string
  /** Keys in different hash slots may live on different nodes. */
  readonly cluster: boolean
  /** The last connection error the client reported (for clients the adapter created). */
  lastError?: Error
  /** Calls in flight through {@link bounded}. */
  pending?: number
  /** Whether the client is connected now. */
  isReady(): boolean
  /** Whether the client is connected within `ms` milliseconds (at once when it already is). */
  ready(ms: number): Promise<boolean>
  command(key: string | undefined, args: string[]): Promise<unknown>
  /** One command function per master node, for commands that must visit every node (SCAN). */
  masters(): Promise<((args: string[]) => Promise<unknown>)[]>
  close(): Promise<void>
}

/**
 * node-redis 6 creates an `AbortSignal.timeout` for every command (its `commandOptions.timeout`,
 * 5 s by default), which only covers the wait before the command is written and is removed then.
 * The adapter writes only to a connected client and bounds each whole call by its own `timeout`,
 * so its commands go without that signal (node-redis 4 ignores the option).
 */
const ADAPTER_TIMEOUT_ONLY: NodeRedisCommandOptions = Object.freeze({ timeout: 0 })

/** Recognizes the kind of client by shape, without importing any Redis package. */
export function driverFor(client: RedisClientLike): RedisDriver {
  const any = client as unknown as Record<string, unknown>
  if (typeof any.call === 'function' && typeof any.status === 'string') {
    const io = client as IoRedisClient
    const call =
      (node: IoRedisClient) =>
      ([command, ...args]: string[]) =>
        node.call(command!, ...args)
    return {
      label: io.isCluster === true ? 'ioredis cluster' : 'ioredis',
      cluster: io.isCluster === true,
      // An ioredis Cluster is 'ready' once its slots are known.
      isReady: () => io.status === 'ready',
      ready: readiness(client, () => io.status === 'ready'),
      command: (_key, args) => call(io)(args),
      masters: async () => (io.isCluster === true ? io.nodes!('master') : [io]).map(call),
      close: async () => void (await io.quit()),
    }
  }
  // A node-redis cluster client has `isReady` too (v6): recognize it by its masters first.
  if (typeof any.sendCommand === 'function' && ('masters' in any || typeof any.getMasters === 'function')) {
    const cluster = client as NodeRedisCluster
    return {
      label: 'node-redis cluster',
      cluster: true,
      // The cluster client routes and reconnects per node; the per-call timeout bounds the wait.
      isReady: () => true,
      ready: async () => true,
      command: (key, args) => cluster.sendCommand(key, false, args, ADAPTER_TIMEOUT_ONLY),
      masters: async () => {
        // v4.6 and later: `masters` + `nodeClient()`; older v4: `getMasters()` nodes carry `client`.
        const nodes = cluster.masters ?? cluster.getMasters?.() ?? []
        const clients = await Promise.all(
          nodes.map((node) => (cluster.nodeClient ? cluster.nodeClient(node) : (node as { client?: unknown }).client)),
        )
        return clients.map((node) => (args: string[]) => (node as NodeRedisClient).sendCommand(args, ADAPTER_TIMEOUT_ONLY))
      },
      close: () => closeNodeRedis(cluster),
    }
  }
  if (typeof any.sendCommand === 'function' && typeof any.isReady === 'boolean') {
    const node = client as NodeRedisClient
    return {
      label: 'node-redis',
      cluster: false,
      isReady: () => node.isReady,
      ready: readiness(client, () => node.isReady),
      command: (_key, args) => node.sendCommand(args, ADAPTER_TIMEOUT_ONLY),
      masters: async () => [(args: string[]) => node.sendCommand(args, ADAPTER_TIMEOUT_ONLY)],
      close: () => closeNodeRedis(node),
    }
  }
  throw new TypeError(
    'express-stash: option `redisAdapter.client` must be a node-redis client or cluster (v4 and later), or an ioredis client or Cluster',
  )
}

/**
 * Waits for a client's `'ready'` event, bounded: one shared listener however many requests
 * wait, so an outage never piles up listeners or queued commands.
 */
function readiness(client: unknown, isReady: () => boolean): (ms: number) => Promise<boolean> {
  const emitter = client as { once?(event: 'ready', listener: () => void): unknown }
  let next: Promise<void> | undefined
  return async (ms) => {
    if (isReady()) return true
    if (typeof emitter.once !== 'function') return false
    next ??= new Promise<void>((resolve) => {
      emitter.once!('ready', () => {
        next = undefined
        resolve()
      })
    })
    let timer: NodeJS.Timeout | undefined
    await Promise.race([next, new Promise<void>((resolve) => (timer = setTimeout(resolve, ms)))])
    clearTimeout(timer)
    return isReady()
  }
}

async function closeNodeRedis(client: { close?(): Promise<unknown>; quit?(): Promise<unknown> }): Promise<void> {
  if (typeof client.close === 'function') await client.close()
  else await client.quit?.()
}

/** Where a command goes: routed by this key (`undefined`: any node), or sent to this one node. */
export type CommandTarget = string | undefined | ((args: string[]) => Promise<unknown>)

/** A script's `EVALSHA` command: {@link bounded} retries it with `EVAL` when the server lacks the script. */
export function scriptCommand(script: RedisScript, keys: string[], args: string[]): string[] {
  return ['EVALSHA', script.sha, String(keys.length), ...keys, ...args]
}

/**
 * Sends `command` to `target`, bounded by `timeout` milliseconds: waits for the connection
 * within that budget and never sends a command to a disconnected client (it would wait in an
 * offline queue and could run long after the request gave up). At most `maxPending` calls are in
 * flight: a stalled server makes the next ones fail at once instead of queueing without end.
 *
 * The reply goes through `read` (whose throw fails the call). With `script`, a server that does
 * not know the script (restart, `SCRIPT FLUSH`) gets it whole with `EVAL`. A call to a connected
 * client adds one promise and one timer to the command, nothing more.
 */
export function bounded<T = unknown>(
  driver: RedisDriver,
  { timeout, maxPending }: { timeout: number; maxPending: number },
  command: string[],
  target: CommandTarget,
  read?: (reply: unknown) => T,
  script?: RedisScript,
): Promise<T> {
  if ((driver.pending ?? 0) >= maxPending) {
    return Promise.reject(
      new StashUnavailableError(`${driver.label}: ${maxPending} calls already waiting for Redis (maxPending)`),
    )
  }
  driver.pending = (driver.pending ?? 0) + 1
  const call: BoundedCall<T> = { driver, deadline: Date.now() + timeout, timeout, command, target, read, script }
  return driver.isReady() ? callBy(call) : connectThenCall(call)
}

/** One call of {@link bounded}. */
interface BoundedCall<T> {
  readonly driver: RedisDriver
  readonly deadline: number
  readonly timeout: number
  readonly command: string[]
  readonly target: CommandTarget
  readonly read: ((reply: unknown) => T) | undefined
  readonly script: RedisScript | undefined
}

/** {@link bounded} for a client that is not connected yet: waits for it within the budget. */
async function connectThenCall<T>(call: BoundedCall<T>): Promise<T> {
  const { driver, timeout } = call
  let connected: boolean
  try {
    connected = await driver.ready(timeout)
  } catch (err) {
    driver.pending!--
    throw err
  }
  if (!connected) {
    driver.pending!--
    const reason = driver.lastError === undefined ? '' : `: ${driver.lastError.message}`
    throw new StashUnavailableError(`${driver.label} client is not connected (waited ${timeout} ms)${reason}`, {
      cause: driver.lastError,
    })
  }
  return callBy(call)
}

/** Sends the call's command, failing it at its deadline; its pending slot is released when it settles or times out. */
function callBy<T>({ driver, deadline, timeout, command, target, read, script }: BoundedCall<T>): Promise<T> {
  const send = (): Promise<unknown> => (typeof target === 'function' ? target(command) : driver.command(target, command))
  return new Promise<T>((resolve, reject) => {
    let settled = false
    const settle = (): boolean => {
      if (settled) return false
      settled = true
      clearTimeout(timer)
      driver.pending!--
      return true
    }
    const timer = setTimeout(
      () => {
        if (settle()) reject(new StashUnavailableError(`${driver.label} did not answer within ${timeout} ms`))
      },
      Math.max(0, deadline - Date.now()),
    )
    const answered = (reply: unknown): void => {
      if (!settle()) return
      if (read === undefined) return resolve(reply as T)
      try {
        resolve(read(reply))
      } catch (err) {
        reject(err)
      }
    }
    const failed = (err: unknown): void => {
      if (
        !settled &&
        script !== undefined &&
        command[0] === 'EVALSHA' &&
        String((err as Error)?.message).startsWith('NOSCRIPT')
      ) {
        command[0] = 'EVAL'
        command[1] = script.source
        return attempt()
      }
      if (settle()) reject(isAnswer(err) ? err : unanswered(driver, err))
    }
    const attempt = (): void => {
      try {
        send().then(answered, failed)
      } catch (err) {
        failed(err) // a client that throws instead of rejecting
      }
    }
    attempt()
  })
}

/**
 * Whether a failure is Redis's own answer (an error reply such as OOM, READONLY or a script
 * error: node-redis `ErrorReply`, ioredis `ReplyError`) or already classified, as opposed to a
 * failure of the client or its connection (socket closed, client closed).
 */
export function isAnswer(err: unknown): boolean {
  if (err instanceof StashError) return true
  if (typeof err !== 'object' || err === null) return false
  for (
    let proto = Object.getPrototypeOf(err);
    proto !== null && proto !== Error.prototype;
    proto = Object.getPrototypeOf(proto)
  ) {
    const name = (proto as { constructor?: { name?: string } }).constructor?.name
    if (name === 'ErrorReply' || name === 'ReplyError') return true
  }
  return false
}

/** A call the server never answered (its connection failed): the store is unavailable. */
function unanswered(driver: RedisDriver, err: unknown): StashUnavailableError {
  return new StashUnavailableError(`${driver.label} lost the call: ${(err as Error)?.message ?? String(err)}`, { cause: err })
}
