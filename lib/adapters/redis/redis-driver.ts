/**
 * One way to talk to Redis whatever the client: {@link driverFor} recognizes a node-redis
 * client, a node-redis cluster or an ioredis client or `Cluster` by its shape and wraps it in a
 * {@link RedisDriver} (a command routed by its first key, readiness, the masters, closing).
 * @module
 */
import type {
  IoRedisClient,
  NodeRedisClient,
  NodeRedisCluster,
  NodeRedisCommandOptions,
  RedisClientLike,
} from './redis-client.js'

/**
 * One way to talk to Redis, whatever the client: a command routed by its first key, readiness,
 * the master nodes, and closing.
 */
export interface RedisDriver {
  /** The kind of client, for errors: `'node-redis'`, `'ioredis cluster'`... */
  readonly label: string
  /** Keys in different hash slots may live on different nodes. */
  readonly cluster: boolean
  /** The client it drives (the near cache duplicates it for its own connections). */
  readonly client: RedisClientLike
  /** The last connection error the client reported (for clients the adapter created). */
  lastError?: Error
  /** Calls in flight through `bounded` (redis-call.ts). */
  pending?: number
  /** Whether the client is connected now. */
  isReady(): boolean
  /** Whether the client is connected within `ms` milliseconds (at once when it already is). */
  ready(ms: number): Promise<boolean>
  /** Sends one command, routed by `key` on a cluster (`undefined`: any node). */
  command(key: string | undefined, args: string[]): Promise<unknown>
  /** One command function per master node, for commands that must visit every node (SCAN). */
  masters(): Promise<((args: string[]) => Promise<unknown>)[]>
  /** Closes the client. */
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
  if (typeof any.call === 'function' && typeof any.status === 'string') return ioRedisDriver(client as IoRedisClient)
  // A node-redis cluster client has `isReady` too (v6): recognize it by its masters first.
  if (typeof any.sendCommand === 'function' && ('masters' in any || typeof any.getMasters === 'function')) {
    return nodeRedisClusterDriver(client as NodeRedisCluster)
  }
  if (typeof any.sendCommand === 'function' && typeof any.isReady === 'boolean') {
    return nodeRedisDriver(client as NodeRedisClient)
  }
  throw new TypeError(
    'express-stash: option `redisAdapter.client` must be a node-redis client or cluster (v4 and later), or an ioredis client or Cluster',
  )
}

/** The driver of an ioredis client or `Cluster`. */
function ioRedisDriver(io: IoRedisClient): RedisDriver {
  const call =
    (node: IoRedisClient) =>
    ([command, ...args]: string[]) =>
      node.call(command!, ...args)
  return {
    label: io.isCluster === true ? 'ioredis cluster' : 'ioredis',
    cluster: io.isCluster === true,
    client: io,
    // An ioredis Cluster is 'ready' once its slots are known.
    isReady: () => io.status === 'ready',
    ready: readiness(io, () => io.status === 'ready'),
    command: (_key, args) => call(io)(args),
    masters: async () => (io.isCluster === true ? io.nodes!('master') : [io]).map(call),
    close: async () => void (await io.quit()),
  }
}

/** The driver of a node-redis cluster client (`createCluster`). */
function nodeRedisClusterDriver(cluster: NodeRedisCluster): RedisDriver {
  return {
    label: 'node-redis cluster',
    cluster: true,
    client: cluster,
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

/** The driver of a node-redis client (`createClient`). */
function nodeRedisDriver(node: NodeRedisClient): RedisDriver {
  return {
    label: 'node-redis',
    cluster: false,
    client: node,
    isReady: () => node.isReady,
    ready: readiness(node, () => node.isReady),
    command: (_key, args) => node.sendCommand(args, ADAPTER_TIMEOUT_ONLY),
    masters: async () => [(args: string[]) => node.sendCommand(args, ADAPTER_TIMEOUT_ONLY)],
    close: () => closeNodeRedis(node),
  }
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

/** Closes a node-redis client or cluster: `close()` (v5 and later), else `quit()`. */
async function closeNodeRedis(client: { close?(): Promise<unknown>; quit?(): Promise<unknown> }): Promise<void> {
  if (typeof client.close === 'function') await client.close()
  else await client.quit?.()
}
