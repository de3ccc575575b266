/**
 * `redisAdapter({ client })` with the real typings of every supported client: node-redis 4, 5
 * and 6 (`createClient`, `createCluster`) and ioredis 5 and 6 (`Redis`, `Cluster`).
 */
import Redis, { Cluster } from 'ioredis'
import Redis5, { Cluster as Cluster5 } from 'ioredis5'
import { createClient, createCluster } from 'redis'
import { createClient as createClient4, createCluster as createCluster4 } from 'redis4'
import { createClient as createClient5, createCluster as createCluster5 } from 'redis5'
import { redisAdapter, type RedisClientLike } from 'express-stash'

const url = 'redis://127.0.0.1:6380'
const rootNodes = [{ url }]

// node-redis 6
redisAdapter({ client: createClient() })
redisAdapter({ client: createClient({ url, database: 2 }) })
redisAdapter({ client: createClient({ url, RESP: 2 }) })
redisAdapter({ client: createCluster({ rootNodes }) })
redisAdapter({ client: createCluster({ rootNodes, useReplicas: true, RESP: 2 }) })
redisAdapter({ client: createCluster({ rootNodes, defaults: { password: 'secret' } }), prefix: 'app:stash:' })

// node-redis 5
redisAdapter({ client: createClient5() })
redisAdapter({ client: createClient5({ url, database: 2 }) })
redisAdapter({ client: createClient5({ url, RESP: 3 }) })
redisAdapter({ client: createCluster5({ rootNodes }) })
redisAdapter({ client: createCluster5({ rootNodes, useReplicas: true, RESP: 3 }) })

// node-redis 4
redisAdapter({ client: createClient4() })
redisAdapter({ client: createClient4({ url, database: 2 }) })
redisAdapter({ client: createCluster4({ rootNodes }) })
redisAdapter({ client: createCluster4({ rootNodes, useReplicas: true }) })

// ioredis 6 and 5
redisAdapter({ client: new Redis() })
redisAdapter({ client: new Redis(url, { keyPrefix: 'app:' }) })
redisAdapter({ client: new Cluster([{ host: '127.0.0.1', port: 7000 }]) })
redisAdapter({ client: new Redis5() })
redisAdapter({ client: new Redis5(url, { keyPrefix: 'app:' }) })
redisAdapter({ client: new Cluster5([{ host: '127.0.0.1', port: 7000 }]) })

// Every one of them is a RedisClientLike, for code that passes clients around.
const clients: RedisClientLike[] = [createClient(), createCluster({ rootNodes }), createClient4(), new Redis(), new Cluster5([])]
void clients

// @ts-expect-error a URL goes as the connection itself, not as `client`
redisAdapter({ client: url })
// @ts-expect-error an empty object is no client
redisAdapter({ client: {} })
// @ts-expect-error the factory, not a client
redisAdapter({ client: createClient })
// @ts-expect-error a Map is no client
redisAdapter({ client: new Map<string, string>() })
// @ts-expect-error a transaction is no client
redisAdapter({ client: createClient().multi() })
// @ts-expect-error an ioredis pipeline is no client
redisAdapter({ client: new Redis().pipeline() })
// @ts-expect-error a key-value cache with get/set is no client
redisAdapter({ client: { get: async (key: string) => key, set: async (_key: string, _value: string) => 'OK' } })
// @ts-expect-error an ioredis-like object needs quit()
redisAdapter({ client: { status: 'ready', call: async (_command: string, ..._args: string[]) => 'OK' } })
// @ts-expect-error a sendCommand of another signature
redisAdapter({ client: { isReady: true, sendCommand: async (_command: string[], _flag: number) => 'OK' } })
