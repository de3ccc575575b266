/**
 * The near cache (`redisAdapter({ cache: true })`) as deployed: two app processes on the built
 * package share one real redis-server, each with its own cache; a client's requests land on
 * either. No read is ever stale: a client reads its own write on the other node at once (the
 * version signed in its cookie), and another writer's change once its invalidation arrives; the
 * cache empties itself when Redis restarts or its tracking connection is killed.
 */
import { redisAdapter } from '../../../lib/index.js'
import { CookieJar, freePort, get, startFixture, type NodeProcess } from '../../support/peer-nodes.js'
import { startRedis, type RedisServer } from '../../support/redis-server.js'
import {
  cacheOf,
  expectExitOnSigterm,
  commandCounts,
  eventually,
  expectOwnWritesEverywhere,
  untilCached,
} from '../../support/near-cache.js'

/** Commands `redis` ran since its last `CONFIG RESETSTAT`, by name. */
const commandsOf = async (redis: RedisServer) => commandCounts(await redis.cli('INFO', 'commandstats'))

describe.each(['url', 'node-redis', 'ioredis'])('the near cache across two processes (%s)', (client) => {
  let redis: RedisServer
  let a: NodeProcess
  let b: NodeProcess

  beforeAll(async () => {
    redis = await startRedis()
    const env = { REDIS_URL: redis.url, CLIENT: client }
    ;[a, b] = await Promise.all([
      freePort().then((port) => startFixture('cache-app.cjs', port, { ...env, NODE_NAME: 'a' })),
      freePort().then((port) => startFixture('cache-app.cjs', port, { ...env, NODE_NAME: 'b' })),
    ])
  }, 30_000)
  afterAll(async () => {
    await Promise.all([a?.kill(), b?.kill()])
    await redis?.stop()
  })

  it('answers a repeated read from memory: no Redis command at all', async () => {
    const jar = new CookieJar()
    await jar.get(a.port, '/count')
    await untilCached(a.port, jar.cookie!)
    await redis.cli('CONFIG', 'RESETSTAT')
    const before = cacheOf((await jar.get(a.port, '/peek')).body).hits
    const read = await jar.get(a.port, '/peek')
    expect(read.body.count).toBe(1)
    expect(cacheOf(read.body).hits).toBe(before + 1)
    const counts = await commandsOf(redis)
    expect(Object.keys(counts).filter((name) => !['config|resetstat', 'info', 'ping'].includes(name))).toEqual([])
  })

  it('reads its own writes on the other node at once, every time: each write signs its version into the cookie', async () => {
    await expectOwnWritesEverywhere(a, b, 60)
  })

  it("sees another writer's change once its invalidation arrives", async () => {
    const jar = new CookieJar()
    await jar.get(a.port, '/count')
    const stale = jar.cookie! // a second tab that keeps the first cookie
    await untilCached(a.port, stale)
    const invalidated = cacheOf((await get(a.port, '/peek', stale)).body).invalidations
    await jar.get(b.port, '/count') // written on b
    await eventually(async () => cacheOf((await get(a.port, '/peek')).body).invalidations > invalidated)
    expect((await get(a.port, '/peek', stale)).body.count).toBe(2)
  })

  it("keeps the writer's own copy: a cached counter++ is one round trip, the write script", async () => {
    const jar = new CookieJar()
    await jar.get(a.port, '/count')
    await untilCached(a.port, jar.cookie!)
    await redis.cli('CONFIG', 'RESETSTAT')
    for (let i = 0; i < 20; i++) await jar.get(a.port, '/count')
    expect((await jar.get(a.port, '/peek')).body.count).toBe(21)
    const counts = await commandsOf(redis)
    expect(counts.hmget ?? 0).toBe(0) // no load: every request was answered from the copy its write left
    expect(counts.evalsha).toBe(20)
  })

  it('caches what it loads, not what it merely wrote: one-request visitors cannot push out the records in use', async () => {
    const jar = new CookieJar()
    const { entries } = cacheOf((await get(a.port, '/peek')).body)
    await jar.get(a.port, '/count') // a new record, written once
    expect(cacheOf((await get(a.port, '/peek')).body).entries).toBe(entries)
    await jar.get(a.port, '/peek') // loaded: now cached, and kept up to date by its own writes
    expect(cacheOf((await get(a.port, '/peek')).body).entries).toBe(entries + 1)
    await redis.cli('CONFIG', 'RESETSTAT')
    expect((await jar.get(a.port, '/count')).body.count).toBe(2)
    expect((await jar.get(a.port, '/peek')).body.count).toBe(2)
    expect((await commandsOf(redis)).hmget ?? 0).toBe(0)
  })

  it("sees another writer's change that follows its own cached write", async () => {
    const jar = new CookieJar()
    await jar.get(a.port, '/count')
    await untilCached(a.port, jar.cookie!)
    await jar.get(a.port, '/count') // written through a's cache: a keeps this copy
    const stale = jar.cookie! // a second tab that keeps this cookie
    const { invalidations } = cacheOf((await get(a.port, '/peek', stale)).body)
    await jar.get(b.port, '/count') // the next write, on b
    await eventually(async () => cacheOf((await get(a.port, '/peek')).body).invalidations > invalidations)
    expect((await get(a.port, '/peek', stale)).body.count).toBe(3)
  })

  it('never brings back a stash revoked on the other node', async () => {
    const jar = new CookieJar()
    await jar.get(a.port, '/count')
    expect((await jar.get(a.port, '/peek')).body.count).toBe(1)
    await get(b.port, '/revoke')
    await eventually(async () => (await get(a.port, '/peek', jar.cookie)).body.count === null)
    expect((await jar.get(a.port, '/count')).body.count).toBe(1) // a new stash, not the revoked one
  })

  it('empties itself when its tracking connection is killed, and serves fresh data after', async () => {
    const jar = new CookieJar()
    await jar.get(a.port, '/count')
    await untilCached(a.port, jar.cookie!)
    const flushes = cacheOf((await jar.get(a.port, '/peek')).body).flushes
    await redis.cli('CLIENT', 'KILL', 'TYPE', 'pubsub')
    await eventually(async () => cacheOf((await get(a.port, '/peek')).body).flushes > flushes)
    const stale = jar.cookie!
    await jar.get(b.port, '/count') // while a may still be re-enabling tracking
    await eventually(async () => (await get(a.port, '/peek', stale)).body.count === 2)
    expect((await jar.get(a.port, '/count')).body.count).toBe(3)
  })

  it('shuts down on SIGTERM: closing the stash releases the cache connections, and the process exits by itself', async () => {
    const node = await startFixture('cache-app.cjs', await freePort(), { REDIS_URL: redis.url, CLIENT: client, NODE_NAME: 'c' })
    await expectExitOnSigterm(node)
    await node.kill()
  }, 15_000)

  it('survives a Redis restart: flushed, then correct on both nodes', async () => {
    const jar = new CookieJar()
    await jar.get(a.port, '/count')
    await jar.get(b.port, '/peek')
    await untilCached(a.port, jar.cookie!) // a's channel is confirmed (again, after the previous test)
    const flushes = cacheOf((await jar.get(a.port, '/peek')).body).flushes
    await redis.restart() // no persistence: every record is gone
    await eventually(async () => cacheOf((await get(a.port, '/peek')).body).flushes > flushes, 10_000)
    await eventually(async () => (await get(a.port, '/peek', jar.cookie)).body.count === null, 10_000)
    expect((await get(b.port, '/peek', jar.cookie)).body.count).toBeNull()
    const fresh = new CookieJar()
    expect((await fresh.get(b.port, '/count')).body.count).toBe(1)
    expect((await fresh.get(a.port, '/count')).body.count).toBe(2)
  }, 30_000)
})

describe('the near cache of two adapters in one process', () => {
  let redis: RedisServer
  beforeAll(async () => {
    redis = await startRedis()
  })
  afterAll(() => redis?.stop())

  it('never answers older than the version the client saw, even before the invalidation is read', async () => {
    const [a, b] = [redisAdapter({ url: redis.url, cache: true }), redisAdapter({ url: redis.url, cache: true })]
    await Promise.all([a.ready!(2000), b.ready!(2000)])
    const at = () => ({ n: Date.now() + 60_000 })
    const first = (await a.write('ryw', { set: { n: '1' }, del: [], expiresAt: at() })) as { version: number }
    expect(await b.load('ryw', ['n'], first.version)).toMatchObject({ values: ['1'] })
    // Cached on b once no invalidation of the first write overtakes b's read of it.
    await eventually(
      async () => (await b.load('ryw', ['n'], first.version), b.loadNow!('ryw', ['n'], first.version) !== undefined),
    )
    expect(b.loadNow!('ryw', ['n'], first.version)).toMatchObject({ values: ['1'] })
    for (let i = 2; i <= 50; i++) {
      const receipt = (await a.write('ryw', { set: { n: String(i) }, del: [], expiresAt: at(), existing: true })) as {
        version: number
      }
      // Right after the write: b may not have read its invalidation yet, and still never answers the old value.
      const known = b.loadNow!('ryw', ['n'], receipt.version)
      if (known !== undefined) expect(known).toMatchObject({ values: [String(i)] })
      expect(await b.load('ryw', ['n'], receipt.version)).toMatchObject({ values: [String(i)] })
    }
    await Promise.all([a.close(), b.close()])
  })
})
