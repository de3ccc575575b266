/**
 * Nothing regresses with `migrateFrom`: the StashSessionStore lifecycle and the express +
 * express-session cases of this folder, run again with a connect-redis 9 store (empty, on a
 * real redis-server) as `migrateFrom`, so every miss asks it and every destroy reaches it.
 * @module
 */
import { randomBytes } from 'node:crypto'
import { RedisStore } from 'connect-redis'
import { memoryAdapter, redisAdapter, type StashAdapter } from '../../lib/index.js'
import { sessionRecordKey } from '../../lib/session-store/keys.js'
import { useRedis } from '../support/redis-client.js'
import type { SessionStoreTarget } from './helpers.js'
import { runSessionHttp } from './http-suite.js'
import { runSessionLifecycle } from './lifecycle-suite.js'

const redis = useRedis()
const client = () => redis().client
const unique = () => randomBytes(6).toString('base64url')

const recordKey = (adapter: StashAdapter, sid: string) => (adapter as { prefix?: string }).prefix + sessionRecordKey(sid)
const scanCalls = async () => {
  const stats = String(await client().sendCommand<string>(['INFO', 'commandstats']))
  return Number(/cmdstat_scan:calls=(\d+)/.exec(stats)?.[1] ?? 0)
}
const migrateFrom = () => ({ migrateFrom: new RedisStore({ client: client(), prefix: `sess:${unique()}:` }) })

const memory: SessionStoreTarget = { adapter: () => memoryAdapter(), storeOptions: migrateFrom }
const onRedis: SessionStoreTarget = {
  adapter: () => redisAdapter({ client: client(), prefix: `sessions:${unique()}:`, scanCount: 10 }),
  remainingTtl: async (adapter, sid) => Number(await client().sendCommand(['TTL', recordKey(adapter, sid)])),
  remainingMs: async (adapter, sid) => Number(await client().sendCommand(['PTTL', recordKey(adapter, sid)])),
  scanCalls,
  storeOptions: migrateFrom,
}

runSessionLifecycle('memory, migrateFrom connect-redis', memory)
runSessionLifecycle('redis (scanCount 10), migrateFrom connect-redis', onRedis)
runSessionHttp('memory, migrateFrom connect-redis', memory)
runSessionHttp('redis, migrateFrom connect-redis', onRedis)
