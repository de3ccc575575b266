/** The option and adapter types of every entry point, as an application or adapter author writes them. */
import { after, before, describe as nodeDescribe, test as nodeTest } from 'node:test'
import {
  memoryAdapter,
  redisAdapter,
  type MemoryAdapterOptions,
  type RedisAdapterOptions,
  type StashAdapter,
  type StashOptions,
} from 'express-stash'
import { StashSessionStore, type StashSessionStoreOptions } from 'express-stash/session-store'
import { runAdapterContract, type ContractOptions, type TestApi } from 'express-stash/testing'
import { Store } from 'express-session'
import { expectAssignable } from './helpers.js'

expectAssignable<StashOptions>({ ttl: 60, cookie: { sameSite: 'strict', maxAge: 3600 }, onUnavailable: 'continue' })
// @ts-expect-error onUnavailable is 'error' or 'continue'
expectAssignable<StashOptions>({ onUnavailable: 'ignore' })
expectAssignable<MemoryAdapterOptions>({ name: 'shared', maxEntries: 10_000 })
expectAssignable<RedisAdapterOptions>({ prefix: 'app:', timeout: 500, scanCount: 100 })
// @ts-expect-error scanCount is a number
expectAssignable<RedisAdapterOptions>({ scanCount: '100' })

// The session store is an express-session Store, built on any adapter.
const store = new StashSessionStore({ adapter: redisAdapter('redis://127.0.0.1:6379'), ttl: 3600 })
expectAssignable<Store>(store)
expectAssignable<StashSessionStoreOptions>({ adapter: memoryAdapter(), ttl: (s) => (s.cookie.maxAge ?? 60_000) / 1000 })
// The adapter defaults to a memoryAdapter() of the store's own.
expectAssignable<StashSessionStoreOptions>({ ttl: 60 })
// @ts-expect-error connect-redis's client option does not exist: wrap the client in redisAdapter()
expectAssignable<StashSessionStoreOptions>({ adapter: memoryAdapter(), client: {} })
void store.get('sid').then((session) => session?.cookie)

// The contract suite takes jest's globals or node:test's functions.
const adapter = (): StashAdapter => memoryAdapter()
runAdapterContract({ describe, test, beforeAll, afterAll }, 'memory', adapter)
runAdapterContract({ describe: nodeDescribe, test: nodeTest, before, after }, 'memory', adapter, { without: ['admin'] })
expectAssignable<ContractOptions>({ ttlSlack: 200 })
// @ts-expect-error an unknown group
expectAssignable<ContractOptions>({ without: ['caching'] })
// @ts-expect-error a test API needs test()
expectAssignable<TestApi>({ describe })
