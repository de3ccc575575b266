/**
 * The Redis adapter, `redisAdapter()`: assembles one adapter from its options
 * (redis-options.ts), its connection (redis-link.ts) and its calls: `load` (redis-load.ts), the
 * record calls (redis-records.ts), the owner calls (redis-owners.ts) and the admin calls
 * (redis-admin.ts).
 * @module
 */
import type { StashAdapter } from '../../store/adapter.js'
import { redisAdmin } from './redis-admin.js'
import { cachedCalls } from './redis-cached.js'
import { openRedisLink } from './redis-link.js'
import { observedLoad, redisLoad } from './redis-load.js'
import { resolveRedisOptions, type RedisAdapterOptions, type RedisConnection } from './redis-options.js'
import { ownerCalls } from './redis-owners.js'
import { recordCalls } from './redis-records.js'

/** The Redis adapter. */
export interface RedisAdapter extends StashAdapter {
  /** The prefix of this adapter's keys. */
  readonly prefix: string
}

/**
 * Stores each stash as one Redis hash (one field per stored key, and a marker field holding each
 * field's expiry and the record's creation time) under `prefix` + a hash of the ID. A load is one
 * plain `HMGET`; a write is one Lua script; each touches a single key (and its owner index, in the
 * same hash slot), so every per-request operation stays in one hash slot on Redis Cluster. The
 * expiries live in the marker, not in Redis's own per-field expiry (`HPEXPIRE`, Redis 7.4 and
 * later): every Redis version serves them alike. With `cache`, each process answers the loads of
 * records it holds from memory, kept correct by Redis's client tracking (redis-cached.ts).
 *
 * @example
 * createStash({ adapter: redisAdapter(process.env.REDIS_URL) })
 * createStash({ adapter: redisAdapter({ client: existingClient, prefix: 'app:stash:' }) })
 */
export function redisAdapter(connection: RedisConnection, options: RedisAdapterOptions = {}): RedisAdapter {
  const link = openRedisLink(resolveRedisOptions(connection, options))
  const calls = { load: redisLoad(link), ...recordCalls(link), ...ownerCalls(link), ...redisAdmin(link) }
  return {
    kind: 'redis',
    prefix: link.settings.prefix,
    ...calls,
    ...(link.cache === undefined ? {} : cachedCalls(link, link.cache, calls, observedLoad(link))),
    ready: link.ready,
    close: link.close,
  }
}
