/**
 * The Redis clients `redisAdapter({ client })` accepts, described by the few members the adapter
 * uses, so that no Redis package is imported: node-redis clients and clusters (v4 and later),
 * ioredis clients and `Cluster`s. `driverFor` (redis-driver.ts) tells them apart.
 * @module
 */

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
