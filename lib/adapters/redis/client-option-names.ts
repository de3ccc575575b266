/**
 * The client options `redisAdapter({ url, ...clientOptions })` passes on to the client it
 * creates: every option of node-redis (v4–v6) `createClient` and of ioredis (v5–v6) `new Redis`.
 * A key that is neither one of these nor an adapter option is refused, so a misspelt or
 * misplaced option never vanishes into a client that ignores it; `clientOptions: { ... }` passes
 * anything on as it is.
 * @module
 */

/** Options of node-redis `createClient` (v4 to v6). */
const NODE_REDIS = [
  'socket',
  'username',
  'password',
  'credentialsProvider',
  'name',
  'database',
  'keyPrefix',
  'modules',
  'scripts',
  'functions',
  'RESP',
  'unstableResp3',
  'typeMapping',
  'commandsQueueMaxLength',
  'disableOfflineQueue',
  'readonly',
  'legacyMode',
  'isolationPoolOptions',
  'pingInterval',
  'commandOptions',
  'clientSideCache',
  'emitInvalidate',
  'disableClientInfo',
  'clientInfoTag',
  'maintNotifications',
  'maintEndpointType',
  'maintRelaxedCommandTimeout',
  'maintRelaxedSocketTimeout',
]

/** Options of ioredis `new Redis(url, options)` (v5 and v6). */
const IOREDIS = [
  'host',
  'port',
  'path',
  'family',
  'tls',
  'db',
  'connectionName',
  'retryStrategy',
  'reconnectOnError',
  'connectTimeout',
  'commandTimeout',
  'socketTimeout',
  'keepAlive',
  'noDelay',
  'enableReadyCheck',
  'enableOfflineQueue',
  'lazyConnect',
  'maxRetriesPerRequest',
  'maxLoadingRetryTime',
  'autoResubscribe',
  'autoResendUnfulfilledCommands',
  'enableAutoPipelining',
  'autoPipeliningIgnoredCommands',
  'readOnly',
  'stringNumbers',
  'disconnectTimeout',
  'showFriendlyErrorStack',
  'blockingTimeout',
  'blockingTimeoutGrace',
  'sentinels',
  'role',
  'preferredSlaves',
  'sentinelUsername',
  'sentinelPassword',
  'sentinelTLS',
  'sentinelRetryStrategy',
  'sentinelReconnectStrategy',
  'sentinelCommandTimeout',
  'sentinelMaxConnections',
  'updateSentinels',
  'enableTLSForSentinelMode',
  'natMap',
  'failoverDetector',
  'Connector',
]

/** Every key `{ url, ...clientOptions }` may pass on to the client the adapter creates. */
export const CLIENT_OPTION_NAMES: ReadonlySet<string> = new Set([...NODE_REDIS, ...IOREDIS])
