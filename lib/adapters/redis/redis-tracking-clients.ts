/**
 * The adapter's client as the near cache's invalidation channel duplicates it: which clients can
 * be duplicated (node-redis v4 and later, ioredis v5 and later; not clusters), the few members the
 * duplicates are used by, the options every node-redis duplicate gets, and how they are closed.
 * @module
 */
import type { IoRedisClient, NodeRedisClient } from './redis-client.js'

/** A node-redis client (v4 and later) as duplicated here. */
export interface NodeRedisConnection extends NodeRedisClient {
  readonly isOpen: boolean
  connect(): Promise<unknown>
  /** The string listener of `__redis__:invalidate` gets the keys as strings, or `null`. */
  subscribe(channel: string, listener: (message: unknown) => void): Promise<unknown>
  on(event: 'error', listener: (err: Error) => void): unknown
  on(event: 'end' | 'ready', listener: () => void): unknown
  /** v5 and later. */
  destroy?(): void
  /** v4 (v5 and later: a deprecated alias of `destroy()`). */
  disconnect?(): Promise<unknown>
}
/** A node-redis client that can be duplicated. */
export interface NodeRedisSource extends NodeRedisClient {
  readonly options?: { readonly socket?: object }
  duplicate(overrides: Record<string, unknown>): NodeRedisConnection
}
/** An ioredis client as duplicated here. */
export interface IoRedisConnection extends IoRedisClient {
  connect(): Promise<unknown>
  subscribe(channel: string): Promise<unknown>
  on(event: 'error', listener: (err: Error) => void): unknown
  on(event: 'close' | 'ready', listener: () => void): unknown
  /** `messageBuffer`: the message as Redis sent it, here an array of keys (Buffers) or `null`. */
  on(event: 'messageBuffer', listener: (channel: Buffer, message: unknown) => void): unknown
  disconnect(reconnect?: boolean): void
  readonly stream?: { destroy(): void }
}
/** An ioredis client that can be duplicated. */
export interface IoRedisSource extends IoRedisClient {
  readonly options?: { readonly keyPrefix?: string }
  duplicate(overrides: Record<string, unknown>): IoRedisConnection
}

/** A client the invalidation channel can duplicate, by library. */
export type TrackableClient =
  | { readonly library: 'node-redis'; readonly client: NodeRedisSource }
  | { readonly library: 'ioredis'; readonly client: IoRedisSource }

/** The client's library when its connections can be duplicated for tracking, else `undefined` (clusters, other shapes). */
export function trackableClient(client: unknown): TrackableClient | undefined {
  if (typeof client !== 'object' || client === null) return undefined
  const any = client as Record<string, unknown>
  if (typeof any.duplicate !== 'function') return undefined
  if (typeof any.call === 'function' && typeof any.status === 'string') {
    return any.isCluster === true ? undefined : { library: 'ioredis', client: client as IoRedisSource }
  }
  const cluster = 'masters' in any || typeof any.getMasters === 'function'
  if (typeof any.sendCommand === 'function' && typeof any.isReady === 'boolean' && !cluster) {
    return { library: 'node-redis', client: client as NodeRedisSource }
  }
  return undefined
}

/**
 * The options of every node-redis duplicate: no reconnect by node-redis, none of the client's
 * own caching, maintenance handoffs or pings (the channel pings itself), and the promise API.
 */
export function nodeRedisOverrides(source: NodeRedisSource): Record<string, unknown> {
  return {
    socket: { ...source.options?.socket, reconnectStrategy: false },
    legacyMode: false,
    clientSideCache: undefined,
    emitInvalidate: undefined,
    maintNotifications: 'disabled',
    pingInterval: undefined,
  }
}

/** Closes a node-redis connection at once, whatever its state. */
export function destroyNodeRedis(connection: NodeRedisConnection): void {
  try {
    if (typeof connection.destroy === 'function') connection.destroy()
    else if (connection.isOpen) connection.disconnect?.().catch(() => {})
  } catch {
    // already closed
  }
}

/** Closes an ioredis connection at once, whatever its state; it does not reconnect. */
export function destroyIoRedis(connection: IoRedisConnection): void {
  if (connection.status !== 'end') connection.disconnect()
  connection.stream?.destroy() // a connection still being set up
}

/** How often a connection is PINGed, and how long its answers may take before it counts as lost. */
export interface Liveness {
  /** Milliseconds between two PINGs. */
  readonly pingInterval: number
  /** Milliseconds Redis may take to answer a PING or a setup step. */
  readonly timeout: number
}

/** `promise`, or a rejection once `ms` milliseconds have passed without it settling. */
export function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`Redis did not answer within ${ms} ms (${what})`)), ms)
    timer.unref()
    promise.then(resolve, reject).finally(() => clearTimeout(timer))
  })
}
