/**
 * A real local Redis Cluster for tests: three master nodes (no replicas),
 * each a private `redis-server` on a free loopback port whose cluster bus
 * port (port + 10000) is free too.
 *
 * @example
 * ```ts
 * import { createCluster } from 'redis';
 * import { startRedisCluster, type RedisCluster } from './support/redis-cluster.js';
 *
 * const redisCluster: RedisCluster = await startRedisCluster();
 * const client = await createCluster({ rootNodes: redisCluster.rootNodes }).connect();
 * // ...
 * await client.close();
 * await redisCluster.stop();
 * ```
 * @module
 */
import { execFile } from 'node:child_process'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { HOST, rawCommand, requireExecutable, sleep } from './redis-process.js'
import { launchRedis } from './redis-server.js'
import type { RedisServer } from './redis-instance.js'

const execFileAsync = promisify(execFile)

/** Number of master nodes (the minimum `redis-cli --cluster create` accepts). */
const MASTERS = 3
/** How long to wait for every node to report `cluster_state:ok`. */
const CLUSTER_READY_TIMEOUT_MS = 20_000

/** A running local Redis Cluster owned by the test run. */
export interface RedisCluster {
  /** Address of every master node. */
  readonly nodes: ReadonlyArray<{ host: string; port: number }>
  /** Seed nodes in the shape node-redis wants: `createCluster({ rootNodes })`. */
  readonly rootNodes: Array<{ url: string }>
  /** The individual servers, e.g. to `kill()`/`pause()` one node in a fault test. */
  readonly servers: readonly RedisServer[]
  /** Stops every node and removes their data dirs. Idempotent. */
  stop(): Promise<void>
}

/** Returns the `CLUSTER INFO` text of a node, or '' if it does not answer. */
async function clusterInfo(port: number): Promise<string> {
  return (await rawCommand(port, ['CLUSTER', 'INFO'], 1000)) ?? ''
}

/**
 * Starts three cluster-enabled `redis-server`s (`--cluster-enabled yes
 * --cluster-config-file <tmp>/nodes-<port>.conf --cluster-node-timeout 2000`),
 * joins them with `redis-cli --cluster create ... --cluster-replicas 0
 * --cluster-yes`, and waits until every node reports `cluster_state:ok` and
 * knows all three nodes. On any failure, all nodes are stopped before throwing.
 * @throws Error if `redis-server`/`redis-cli` are missing or the cluster does not form within 20 s.
 */
export async function startRedisCluster(): Promise<RedisCluster> {
  const cliBin = requireExecutable('redis-cli')
  const servers: RedisServer[] = []
  const stop = async (): Promise<void> => {
    await Promise.all(servers.map((server) => server.stop()))
  }
  try {
    const used = new Set<number>()
    for (let i = 0; i < MASTERS; i++) {
      const server = await launchRedis({
        busPort: true,
        avoid: used,
        args: (port, dir) => [
          '--cluster-enabled',
          'yes',
          '--cluster-config-file',
          join(dir, `nodes-${port}.conf`),
          '--cluster-node-timeout',
          '2000',
        ],
      })
      servers.push(server)
      used.add(server.port)
    }

    const addresses = servers.map((server) => `${HOST}:${server.port}`)
    try {
      await execFileAsync(cliBin, ['--cluster', 'create', ...addresses, '--cluster-replicas', '0', '--cluster-yes'], {
        timeout: 60_000,
      })
    } catch (err) {
      const { stdout = '', stderr = '' } = err as { stdout?: string; stderr?: string }
      throw new Error(`redis-cli --cluster create failed: ${String(err)}\n${stdout}\n${stderr}`, { cause: err })
    }

    const deadline = Date.now() + CLUSTER_READY_TIMEOUT_MS
    let infos: string[] = []
    while (Date.now() < deadline) {
      infos = await Promise.all(servers.map((server) => clusterInfo(server.port)))
      const ready = infos.every(
        (info) => info.includes('cluster_state:ok') && info.includes(`cluster_known_nodes:${MASTERS}\r\n`),
      )
      if (ready) {
        return {
          nodes: servers.map((server) => ({ host: HOST, port: server.port })),
          rootNodes: servers.map((server) => ({ url: server.url })),
          servers,
          stop,
        }
      }
      await sleep(100)
    }
    throw new Error(
      `Redis Cluster did not reach cluster_state:ok within ${CLUSTER_READY_TIMEOUT_MS} ms:\n` +
        infos.map((info, i) => `--- ${addresses[i] ?? '?'}\n${info}`).join('\n'),
    )
  } catch (err) {
    await stop()
    throw err
  }
}
