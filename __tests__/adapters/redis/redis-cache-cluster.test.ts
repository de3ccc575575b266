/**
 * The near cache on a real local Redis Cluster (three masters), as deployed: two app processes on
 * the built package, each with a cluster client and a cache of its own. No read is ever stale: a
 * client reads its own write on the other node at once, another writer's change once the master
 * holding the record reports it; a killed subscriber, a restarted master, a slot moved to another
 * master (resharding) and a slot moved to a master that joined the cluster each empty the cache,
 * and reads stay correct after (the new master's changes reported by a subscriber of its own).
 */
import { join } from 'node:path'
import { CookieJar, freePort, get, startFixture, type NodeProcess } from '../../support/peer-nodes.js'
import { startRedisCluster, type RedisCluster } from '../../support/redis-cluster.js'
import type { RedisServer } from '../../support/redis-instance.js'
import { launchRedis } from '../../support/redis-server.js'
import {
  cacheOf,
  expectExitOnSigterm,
  commandCounts,
  eventually,
  expectOwnWritesEverywhere,
  untilCached,
} from '../../support/near-cache.js'

let cluster: RedisCluster
/** Nodes a test added to the cluster. */
const added: RedisServer[] = []

beforeAll(async () => {
  cluster = await startRedisCluster()
}, 60_000)
afterAll(async () => {
  await Promise.all(added.map((node) => node.stop()))
  await cluster?.stop()
})

/** Every command the masters ran since their last `CONFIG RESETSTAT`, summed by name. */
async function clusterCommands(): Promise<Record<string, number>> {
  const total: Record<string, number> = {}
  for (const server of cluster.servers) {
    for (const [name, calls] of Object.entries(commandCounts(await server.cli('INFO', 'commandstats')))) {
      total[name] = (total[name] ?? 0) + calls
    }
  }
  return total
}

/** Every key on each master. */
async function keysByServer(): Promise<Map<RedisServer, string[]>> {
  const keys = new Map<RedisServer, string[]>()
  for (const server of cluster.servers)
    keys.set(
      server,
      (await server.cli('KEYS', '*')).split('\n').filter((key) => key !== ''),
    )
  return keys
}

/** The first write of a new client on `port`: the record key it created, and the master holding it. */
async function firstWrite(jar: CookieJar, port: number): Promise<{ server: RedisServer; key: string }> {
  const before = new Set([...(await keysByServer()).values()].flat())
  await jar.get(port, '/count')
  for (const [server, keys] of await keysByServer()) {
    const created = keys.filter((key) => !before.has(key))
    if (created.length === 1) return { server, key: created[0]! }
  }
  throw new Error('the first write created no single record key')
}

/** Moves `key`'s slot (and the key) from `from` to `to`, as `redis-cli --cluster reshard` does. */
async function moveSlot(key: string, from: RedisServer, to: RedisServer, servers = cluster.servers): Promise<void> {
  const slot = (await from.cli('CLUSTER', 'KEYSLOT', key)).trim()
  const [fromId, toId] = [(await from.cli('CLUSTER', 'MYID')).trim(), (await to.cli('CLUSTER', 'MYID')).trim()]
  await to.cli('CLUSTER', 'SETSLOT', slot, 'IMPORTING', fromId)
  await from.cli('CLUSTER', 'SETSLOT', slot, 'MIGRATING', toId)
  await from.cli('MIGRATE', '127.0.0.1', String(to.port), '', '0', '5000', 'KEYS', key)
  for (const server of servers) await server.cli('CLUSTER', 'SETSLOT', slot, 'NODE', toId)
}

/** Starts one more cluster node and has every node meet it: a master without slots, until one is moved to it. */
async function addNode(): Promise<RedisServer> {
  const node = await launchRedis({
    busPort: true,
    args: (port, dir) => ['--cluster-enabled', 'yes', '--cluster-config-file', join(dir, `nodes-${port}.conf`)],
  })
  added.push(node)
  await cluster.servers[0]!.cli('CLUSTER', 'MEET', '127.0.0.1', String(node.port))
  const known = cluster.servers.length + added.length
  await eventually(async () => {
    const infos = await Promise.all([...cluster.servers, ...added].map((server) => server.cli('CLUSTER', 'INFO')))
    return infos.every((info) => info.includes(`cluster_known_nodes:${known}\r\n`) && info.includes('cluster_state:ok'))
  }, 10_000)
  return node
}

describe.each(['node-redis-cluster', 'ioredis-cluster'])(
  'the near cache on Redis Cluster across two processes (%s)',
  (client) => {
    let a: NodeProcess
    let b: NodeProcess

    beforeAll(async () => {
      const env = { CLIENT: client, REDIS_NODES: cluster.nodes.map(({ host, port }) => `${host}:${port}`).join(',') }
      ;[a, b] = await Promise.all([
        freePort().then((port) => startFixture('cache-app.cjs', port, { ...env, NODE_NAME: 'a' })),
        freePort().then((port) => startFixture('cache-app.cjs', port, { ...env, NODE_NAME: 'b' })),
      ])
    }, 30_000)
    afterAll(() => Promise.all([a?.kill(), b?.kill()]))

    it('answers a repeated read from memory: no command on any master', async () => {
      const jar = new CookieJar()
      await jar.get(a.port, '/count')
      await untilCached(a.port, jar.cookie!)
      for (const server of cluster.servers) await server.cli('CONFIG', 'RESETSTAT')
      const before = cacheOf((await jar.get(a.port, '/peek')).body).hits
      const read = await jar.get(a.port, '/peek')
      expect(read.body.count).toBe(1)
      expect(cacheOf(read.body).hits).toBe(before + 1)
      // The channel's own CLUSTER SLOTS polls and PINGs go on; no command reads or writes a record.
      const counts = await clusterCommands()
      expect(Object.keys(counts).filter((name) => !['config|resetstat', 'info', 'ping', 'cluster|slots'].includes(name))).toEqual(
        [],
      )
    })

    it('shuts down on SIGTERM: closing the stash releases every master subscriber and the slot-map poll, and the process exits by itself', async () => {
      const nodes = cluster.nodes.map(({ host, port }) => `${host}:${port}`).join(',')
      const node = await startFixture('cache-app.cjs', await freePort(), { CLIENT: client, REDIS_NODES: nodes, NODE_NAME: 'c' })
      await expectExitOnSigterm(node)
      await node.kill()
    }, 15_000)

    it('reads its own writes on the other node at once, every time', async () => {
      await expectOwnWritesEverywhere(a, b, 40)
    })

    it("sees another writer's change once the record's master reports it", async () => {
      const jar = new CookieJar()
      await jar.get(a.port, '/count')
      const stale = jar.cookie! // a second tab that keeps the first cookie
      await untilCached(a.port, stale)
      const invalidated = cacheOf((await get(a.port, '/peek', stale)).body).invalidations
      await jar.get(b.port, '/count')
      await eventually(async () => cacheOf((await get(a.port, '/peek')).body).invalidations > invalidated)
      expect((await get(a.port, '/peek', stale)).body.count).toBe(2)
    })

    it('empties itself when its subscribers are killed, and serves fresh data after', async () => {
      const jar = new CookieJar()
      await jar.get(a.port, '/count')
      await untilCached(a.port, jar.cookie!)
      const flushes = cacheOf((await jar.get(a.port, '/peek')).body).flushes
      for (const server of cluster.servers) await server.cli('CLIENT', 'KILL', 'TYPE', 'pubsub')
      await eventually(async () => cacheOf((await get(a.port, '/peek')).body).flushes > flushes)
      const stale = jar.cookie!
      await jar.get(b.port, '/count')
      await eventually(async () => (await get(a.port, '/peek', stale)).body.count === 2)
      await untilCached(a.port, stale, 10_000) // confirmed again
      expect((await jar.get(a.port, '/count')).body.count).toBe(3)
    })

    it('empties itself when a slot moves to another master, and reads what is written there', async () => {
      const jar = new CookieJar()
      const { server, key } = await firstWrite(jar, a.port)
      await untilCached(a.port, jar.cookie!)
      const flushes = cacheOf((await jar.get(a.port, '/peek')).body).flushes
      const stale = jar.cookie!
      await moveSlot(
        key,
        server,
        cluster.servers.find((other) => other !== server)!,
      )
      await eventually(async () => cacheOf((await get(a.port, '/peek')).body).flushes > flushes, 5000)
      await jar.get(b.port, '/count') // written on the slot's new master
      await eventually(async () => (await get(a.port, '/peek', stale)).body.count === 2, 5000)
      await untilCached(a.port, stale, 10_000)
      await jar.get(b.port, '/count')
      await eventually(async () => (await get(a.port, '/peek', stale)).body.count === 3, 5000)
    }, 30_000)

    it('follows a slot to a master that joined the cluster: flushed, then cached and invalidated by the new master', async () => {
      const jar = new CookieJar()
      const { server, key } = await firstWrite(jar, a.port)
      await untilCached(a.port, jar.cookie!)
      const flushes = cacheOf((await jar.get(a.port, '/peek')).body).flushes
      const stale = jar.cookie!
      const node = await addNode()
      await moveSlot(key, server, node, [...cluster.servers, ...added])
      await eventually(async () => cacheOf((await get(a.port, '/peek')).body).flushes > flushes, 5000)
      await jar.get(b.port, '/count') // written on the new master
      await eventually(async () => (await get(a.port, '/peek', stale)).body.count === 2, 5000)
      await untilCached(a.port, stale, 10_000) // confirmed again: the new master has its subscriber
      const invalidated = cacheOf((await get(a.port, '/peek', stale)).body).invalidations
      await jar.get(b.port, '/count')
      await eventually(async () => cacheOf((await get(a.port, '/peek')).body).invalidations > invalidated, 5000)
      expect((await get(a.port, '/peek', stale)).body.count).toBe(3)
    }, 40_000)

    it('empties itself when a master restarts, and is correct on both nodes after', async () => {
      const jar = new CookieJar()
      const { server } = await firstWrite(jar, a.port)
      await untilCached(a.port, jar.cookie!)
      const flushes = cacheOf((await jar.get(a.port, '/peek')).body).flushes
      await server.restart() // no persistence: the record is gone with the master's data
      await eventually(async () => cacheOf((await get(a.port, '/peek')).body).flushes > flushes, 10_000)
      await eventually(async () => (await get(a.port, '/peek', jar.cookie)).body.count === null, 20_000)
      expect((await get(b.port, '/peek', jar.cookie)).body.count).toBeNull()
    }, 40_000)
  },
)
