/**
 * The public face of express-stash: everything an application imports from `express-stash`.
 * @module
 */
export {
  ownerOfKey,
  type AdapterRequest,
  type CompareAndSetResult,
  type FieldSwap,
  type LoadedRecord,
  type RecordChange,
  type StashAdapter,
  type StashCacheStats,
  type StashEviction,
  type StoredRecord,
  type WriteReceipt,
} from './store/adapter.js'
export { memoryAdapter, type MemoryAdapter, type MemoryAdapterOptions } from './adapters/memory/memory.js'
export { cookieAdapter, type CookieAdapter, type CookieAdapterOptions } from './adapters/cookie/cookie.js'
export type { HttpPeers, MemoryPeers } from './peers/peer-options.js'
export type { PeerHandler } from './peers/peer-http.js'
export { clusterPrimary, type ClusterPrimary } from './peers/cluster-primary.js'
export type { StashRecovery } from './store/recovery.js'
export type { IoRedisClient, NodeRedisClient, NodeRedisCluster, RedisClientLike } from './adapters/redis/redis-client.js'
export { redisAdapter, type RedisAdapter } from './adapters/redis/redis.js'
export type { RedisAdapterOptions, RedisConnection } from './adapters/redis/redis-options.js'
export { createStash } from './create-stash.js'
export { stashSession, type StashSession, type StashSessionOptions, type StashSessionRequest } from './passport/stash-session.js'
export { StashError, StashUnavailableError, type StashErrorCode } from './errors.js'
export type { IsJsonSafe, JsonPrimitive, JsonSafeKey, JsonValue } from './json-types.js'
export { DEFAULTS, type CookieOptions, type StashOptions } from './options.js'
export type {
  StashCommitContext,
  StashCommitOperation,
  StashCommitOutcome,
  StashLoadContext,
  StashLoadOutcome,
} from './tracing/contexts.js'
export type {
  NextFunction,
  RouteOptions,
  Stash,
  StashAdmin,
  StashCookie,
  StashData,
  StashDataOf,
  StashEntry,
  StashExpiry,
  StashFlash,
  StashFlashKey,
  StashFlashMessage,
  StashFlashMessages,
  StashLatency,
  StashHandler,
  StashMethods,
  StashMiddleware,
  StashRequest,
  StashStats,
  StoredKey,
} from './types.js'
