import { randomBytes } from 'node:crypto'
import { Cluster } from 'ioredis'
import { createCluster } from 'redis'
import { redisAdapter } from '../../lib/index.js'
import { startRedisCluster, type RedisCluster } from '../support/redis-cluster.js'
import { runAdapterContract } from './contract.js'

// A real local Redis Cluster: 3 masters started by the test support code.
let cluster: RedisCluster
let nodeRedis: ReturnType<typeof createCluster>
let ioredis: Cluster
const prefix = () => `test:${randomBytes(6).toString('base64url')}:`

beforeAll(async () => {
  cluster = await startRedisCluster()
  nodeRedis = createCluster({ rootNodes: cluster.rootNodes })
  nodeRedis.on('error', () => {})
  await nodeRedis.connect()
  ioredis = new Cluster(cluster.nodes.map(({ host, port }) => ({ host, port })))
  ioredis.on('error', () => {})
  await new Promise((resolve) => ioredis.once('ready', resolve))
}, 60_000)

afterAll(async () => {
  await nodeRedis?.close()
  await ioredis?.quit()
  await cluster?.stop()
})

runAdapterContract('redis cluster via node-redis', () => redisAdapter({ client: nodeRedis, prefix: prefix() }))
runAdapterContract('redis cluster via ioredis', () => redisAdapter({ client: ioredis, prefix: prefix() }))

it('spreads records over every master', async () => {
  const adapter = redisAdapter({ client: ioredis, prefix: 'spread:' })
  for (let i = 0; i < 30; i++) await adapter.write(`record-${i}`, { set: { a: String(i) }, del: [], ttl: 60 })
  const counts = await Promise.all(ioredis.nodes('master').map((node) => node.dbsize()))
  expect(counts.every((count) => count > 0)).toBe(true)
  expect(counts.reduce((a, b) => a + b, 0)).toBeGreaterThanOrEqual(30)
  await adapter.close()
})
