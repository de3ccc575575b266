import { randomBytes } from 'node:crypto'
import Redis from 'ioredis'
import Redis5 from 'ioredis5'
import { createClient } from 'redis'
import { createClient as createClient4 } from 'redis4'
import { createClient as createClient5 } from 'redis5'
import { redisAdapter, StashUnavailableError, type LoadedRecord, type RedisAdapter } from '../../../lib/index.js'
import { sleep } from '../../support/redis-process.js'
import { startRedis, type RedisServer } from '../../support/redis-server.js'
import { runAdapterContract } from '../../../lib/testing/index.js'

const jestGlobals = { describe, test, beforeAll, afterAll }

let server: RedisServer
let nodeRedis: ReturnType<typeof createClient>
let ioredis: Redis
// Older supported majors: node-redis 4 and 5, ioredis 5.
let nodeRedis4: ReturnType<typeof createClient4>
let nodeRedis5: ReturnType<typeof createClient5>
let ioredis5: Redis5
const prefix = () => `test:${randomBytes(6).toString('base64url')}:`

beforeAll(async () => {
  server = await startRedis()
  // Applications own their clients' error listeners; these tests break the server on purpose.
  nodeRedis = createClient({ url: server.url })
  nodeRedis.on('error', () => {})
  await nodeRedis.connect()
  ioredis = new Redis(server.url).on('error', () => {})
  nodeRedis4 = createClient4({ url: server.url })
  nodeRedis5 = createClient5({ url: server.url })
  for (const client of [nodeRedis4, nodeRedis5]) {
    client.on('error', () => {})
    await client.connect()
  }
  ioredis5 = new Redis5(server.url).on('error', () => {})
})

afterAll(async () => {
  await nodeRedis?.close()
  await ioredis?.quit()
  await nodeRedis4?.quit()
  await nodeRedis5?.close()
  await ioredis5?.quit()
  await server?.stop()
})

runAdapterContract(jestGlobals, 'redis via node-redis', () => redisAdapter({ client: nodeRedis, prefix: prefix() }))
runAdapterContract(jestGlobals, 'redis via ioredis', () => redisAdapter({ client: ioredis, prefix: prefix() }))
runAdapterContract(jestGlobals, 'redis via node-redis 4', () => redisAdapter({ client: nodeRedis4, prefix: prefix() }))
runAdapterContract(jestGlobals, 'redis via node-redis 5', () => redisAdapter({ client: nodeRedis5, prefix: prefix() }))
runAdapterContract(jestGlobals, 'redis via ioredis 5', () => redisAdapter({ client: ioredis5, prefix: prefix() }))
runAdapterContract(jestGlobals, 'redis via URL', () => redisAdapter(server.url, { prefix: prefix() }))
runAdapterContract(jestGlobals, 'redis with the near cache, node-redis', () =>
  redisAdapter({ client: nodeRedis, prefix: prefix(), cache: true }),
)
runAdapterContract(jestGlobals, 'redis with the near cache, ioredis', () =>
  redisAdapter({ client: ioredis, prefix: prefix(), cache: true }),
)

describe('redisAdapter', () => {
  const write = (adapter: RedisAdapter, record: string) =>
    adapter.write(record, { set: { a: '1' }, del: [], expiresAt: { a: Date.now() + 60_000 } })
  const valuesOf = async (loading: Promise<LoadedRecord | undefined>) => (await loading)?.values

  it('leaves a handed-in client open, and closes a client it created', async () => {
    const handed = redisAdapter({ client: nodeRedis })
    await write(handed, 'open')
    await handed.close()
    expect(nodeRedis.isReady).toBe(true)
    const clientsBefore = await connectedClients()
    const owned = redisAdapter({ url: server.url, name: 'owned-by-stash' })
    await write(owned, 'owned')
    expect(await connectedClients()).toContain('owned-by-stash') // client options reach the client
    await owned.close()
    // The client closes its socket; the server drops the connection when it reads the close.
    const deadline = Date.now() + 2_000
    while ((await connectedClients()).includes('owned-by-stash') && Date.now() < deadline) await sleep(20)
    expect(await connectedClients()).toEqual(clientsBefore)
    await expect(owned.load('owned', ['a'])).rejects.toMatchObject({ code: 'ERR_STASH_CLOSED' })
  })

  it('connects with a user and password in the URL, and reports a wrong one as the cause', async () => {
    await server.cli('ACL', 'SETUSER', 'stasher', 'on', '>s3cret', '~*', '+@all')
    const good = redisAdapter(`redis://stasher:s3cret@127.0.0.1:${server.port}`, { timeout: 2000 })
    await write(good, 'acl')
    expect(await valuesOf(good.load('acl', ['a']))).toEqual(['1'])
    await good.close()
    const bad = redisAdapter(`redis://stasher:wrong@127.0.0.1:${server.port}`, { timeout: 500 })
    const err = await bad.load('acl', ['a']).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(StashUnavailableError)
    expect(String((err as Error).message)).toMatch(/WRONGPASS|invalid username-password/)
    await bad.close()
  })

  it('bounds every call by the timeout when the server stops answering', async () => {
    const adapter = redisAdapter({ client: ioredis, timeout: 300 })
    await write(adapter, 'slow')
    await server.pause()
    try {
      const started = Date.now()
      const results = await Promise.allSettled([
        adapter.load('slow', ['a']),
        adapter.write('slow', { set: { b: '2' }, del: [], expiresAt: { b: Date.now() + 60_000 } }),
      ])
      expect(Date.now() - started).toBeLessThan(800)
      expect(results.map((r) => (r as PromiseRejectedResult).reason)).toEqual([
        expect.any(StashUnavailableError),
        expect.any(StashUnavailableError),
      ])
    } finally {
      await server.resume()
    }
    expect(await valuesOf(adapter.load('slow', ['a']))).toEqual(['1'])
  })

  it('fails fast without queueing while the server is down, and recovers when it returns', async () => {
    const adapter = redisAdapter(server.url, { timeout: 400 })
    try {
      await write(adapter, 'down')
      await server.kill()
      try {
        // Rejected with StashUnavailableError, whether the client saw the drop first or the
        // command was in flight. Each call is bounded by the 400 ms timeout (waiting for a
        // reconnect counts against it).
        let started = Date.now()
        await expect(
          adapter.write('down', { set: { late: 'x' }, del: [], expiresAt: { late: Date.now() + 60_000 } }),
        ).rejects.toBeInstanceOf(StashUnavailableError)
        expect(Date.now() - started).toBeLessThan(400 + 250)
        started = Date.now()
        await expect(adapter.load('down', ['a'])).rejects.toBeInstanceOf(StashUnavailableError)
        expect(Date.now() - started).toBeLessThan(400 + 250)
      } finally {
        await server.restart()
      }
      await waitFor(async () => (await adapter.load('down', ['a']).catch(() => 'unavailable')) === undefined)
      expect(await adapter.readAll('down')).toBeUndefined() // a fresh server; the refused write never landed later
    } finally {
      await adapter.close()
    }
    // The shared clients reconnect too.
    await waitFor(async () => nodeRedis.isReady && ioredis.status === 'ready')
  })

  it('sends node-redis commands without the client timer that only covers the wait before writing', async () => {
    // node-redis 6 creates an AbortSignal.timeout for every command, removed once the command is
    // written; the adapter writes only to a connected client and bounds the whole call itself.
    const seen: unknown[] = []
    const recording = {
      get isReady() {
        return nodeRedis.isReady
      },
      sendCommand(args: string[], options?: unknown) {
        seen.push(options)
        return nodeRedis.sendCommand(args, options as never)
      },
    }
    const adapter = redisAdapter({ client: recording, prefix: prefix() })
    await write(adapter, 'timer')
    expect(await valuesOf(adapter.load('timer', ['a']))).toEqual(['1'])
    for await (const batch of adapter.keys!()) expect(batch).toEqual(['timer'])
    expect(seen.length).toBeGreaterThanOrEqual(3)
    expect(new Set(seen.map((options) => JSON.stringify(options)))).toEqual(new Set(['{"timeout":0}']))
  })

  // node-redis fails the commands a dropped connection leaves unanswered. (ioredis keeps them
  // for a reconnect, so there the timeout ends the call: 'bounds every call by the timeout'.)
  it.each([
    [
      'a node-redis client of the caller',
      async (url: string) => {
        const client = createClient({ url }).on('error', () => {})
        await client.connect()
        return { adapter: redisAdapter({ client, timeout: 5000 }), close: async () => client.destroy() }
      },
    ],
    [
      'the client it created from a URL',
      async (url: string) => {
        const adapter = redisAdapter(url, { timeout: 5000 })
        return { adapter, close: () => adapter.close() }
      },
    ],
  ])(
    'a connection lost with a call in flight (%s): StashUnavailableError at once, the client error as cause',
    async (_name, open) => {
      const lost = await startRedis()
      const { adapter, close } = await open(lost.url)
      try {
        await write(adapter, 'in-flight')
        await lost.pause()
        const started = Date.now()
        const loading = adapter.load('in-flight', ['a']).then(
          () => new Error('resolved'),
          (err: Error) => err,
        )
        await sleep(100) // the command is on the wire when the server dies
        await lost.kill()
        const err = await loading
        expect(err).toBeInstanceOf(StashUnavailableError)
        // The cause is the client's own error (ECONNRESET, or SocketClosedUnexpectedlyError on a clean close).
        expect(err.message).toBe(`express-stash: node-redis lost the call: ${(err.cause as Error)?.message}`)
        expect(Date.now() - started).toBeLessThan(2500) // the drop ended it, not the 5 s timeout
      } finally {
        await close()
        await lost.stop()
      }
    },
  )

  it.each([
    [{ url: 'http://x' }, /`redisAdapter.url` must be a redis:\/\/ or rediss:\/\/ URL/],
    [{}, /a URL string, \{ url, ...clientOptions \} or \{ client \}/],
    [{ url: 'redis://x', client: {} }, /a URL string/],
    [{ client: {} }, /must be a node-redis client or cluster/],
    [{ client: { status: 'ready', call() {}, quit() {} }, name: 'x' }, /unknown option `redisAdapter.name`/],
    [{ url: 'redis://x', timeout: 0 }, /`redisAdapter.timeout`/],
    [{ url: 'redis://x', prefix: 3 }, /`redisAdapter.prefix`/],
    [{ url: 'redis://x', maxPending: 0 }, /`redisAdapter.maxPending`/],
    [{ url: 'redis://x', scanCount: 0 }, /`redisAdapter.scanCount` must be a positive integer/],
    [{ url: 'redis://x', scanCount: 2.5 }, /`redisAdapter.scanCount`/],
  ])('refuses %j with a TypeError', (connection, message) => {
    expect(() => redisAdapter(connection as never)).toThrow(TypeError)
    expect(() => redisAdapter(connection as never)).toThrow(message)
  })

  it('scanCount is the COUNT of the admin SCANs: a small count takes more round trips, same keys', async () => {
    const scanCalls = async () => {
      const stats = String(await nodeRedis.sendCommand<string>(['INFO', 'commandstats']))
      return Number(/cmdstat_scan:calls=(\d+)/.exec(stats)?.[1] ?? 0)
    }
    const shared = prefix()
    const small = redisAdapter({ client: nodeRedis, prefix: shared, scanCount: 5 })
    const large = redisAdapter({ client: nodeRedis, prefix: shared })
    for (let i = 0; i < 60; i++) await write(small, `r${i}`)
    const idsOf = async (adapter: RedisAdapter) => {
      const before = await scanCalls()
      const ids: string[] = []
      for await (const batch of adapter.keys!()) ids.push(...batch)
      return { ids: ids.sort(), calls: (await scanCalls()) - before }
    }
    const [bySmall, byLarge] = [await idsOf(small), await idsOf(large)]
    expect(bySmall.ids).toHaveLength(60)
    expect(bySmall.ids).toEqual(byLarge.ids)
    // Redis gathers about COUNT matching keys per SCAN (more when a bucket holds several): 60
    // keys take roughly 12 calls at COUNT 5, and one at COUNT 200.
    expect(bySmall.calls).toBeGreaterThanOrEqual(6)
    expect(byLarge.calls).toBeLessThanOrEqual(2)
    await small.clear!()
  })

  async function connectedClients(): Promise<string[]> {
    const list = String(await nodeRedis.sendCommand<string>(['CLIENT', 'LIST']))
    return [...list.matchAll(/ name=(\S*)/g)].map((m) => m[1]!).filter((name) => name !== '')
  }
})

async function waitFor(condition: () => Promise<boolean>, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error('condition not met in time')
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
}
