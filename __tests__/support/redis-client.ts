import { createClient } from 'redis'
import { startRedis, type RedisServer } from './redis-server.js'

const clientFor = (url: string) => createClient({ url })

/** A private redis-server and a connected node-redis client, for one test file. */
export interface TestRedis {
  readonly server: RedisServer
  readonly client: ReturnType<typeof clientFor>
}

/**
 * Registers `beforeAll`/`afterAll` hooks that start a private redis-server with a connected
 * node-redis client, and stop both; returns an accessor valid inside tests.
 */
export function useRedis(): () => TestRedis {
  let redis: TestRedis | undefined
  beforeAll(async () => {
    const server = await startRedis()
    const client = clientFor(server.url)
    client.on('error', () => {}) // tests break the server on purpose
    await client.connect()
    redis = { server, client }
  })
  afterAll(async () => {
    await redis?.client.close()
    await redis?.server.stop()
  })
  return () => {
    if (redis === undefined) throw new Error('redis-server has not started (or failed to)')
    return redis
  }
}

/**
 * `commandsDuring(run)`: calls per command Redis counted while `run` ran (scripts' inner commands
 * included, CONFIG and INFO left out), read through the client `client()` gives.
 */
export function commandCounter(
  client: () => TestRedis['client'],
): (run: () => Promise<unknown>) => Promise<Record<string, number>> {
  return async (run) => {
    await client().sendCommand(['CONFIG', 'RESETSTAT'])
    await run()
    const stats: Record<string, number> = {}
    const text = String(await client().sendCommand<string>(['INFO', 'commandstats']))
    for (const [, name, calls] of text.matchAll(/^cmdstat_([^:]+):calls=(\d+)/gm)) {
      if (!/^(config|info)\b/.test(name!)) stats[name!] = Number(calls)
    }
    return stats
  }
}
