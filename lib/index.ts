export type { StashAdmin, StashEntry } from './admin.js'
export {
  ownerOfKey,
  type CompareAndSetResult,
  type FieldSwap,
  type RecordChange,
  type StashAdapter,
  type StashEviction,
} from './adapter.js'
export { memoryAdapter, type MemoryAdapter, type MemoryAdapterOptions } from './adapters/memory.js'
export type { HttpPeers, MemoryPeers } from './adapters/memory-peer-options.js'
export type { PeerHandler } from './adapters/peer-http.js'
export { clusterPrimary, type ClusterPrimary } from './cluster-primary.js'
export type { StashRecovery } from './recovery.js'
export type { IoRedisClient, NodeRedisClient, NodeRedisCluster, RedisClientLike } from './adapters/redis-client.js'
export { redisAdapter, type RedisAdapter, type RedisAdapterOptions, type RedisConnection } from './adapters/redis.js'
export { createStash } from './create-stash.js'
export type { StashCookie } from './request-cookie.js'
export { StashError, StashUnavailableError, type StashErrorCode } from './errors.js'
export type { IsJsonSafe, JsonPrimitive, JsonSafeKey, JsonValue } from './json-types.js'
export type { StashLatency, StashStats } from './stats.js'
export { DEFAULTS, type CookieOptions, type RouteOptions, type StashOptions } from './options.js'
export type {
  NextFunction,
  Stash,
  StashData,
  StashDataOf,
  StashHandler,
  StashMethods,
  StashMiddleware,
  StashRequest,
  StoredKey,
} from './types.js'
