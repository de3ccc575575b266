/**
 * The near cache's invalidation channel (lib/adapters/redis/redis-tracking.ts) on a real
 * redis-server, for every supported client: what reaches `onInvalidate` and `onFlush`, and how
 * the channel goes unconfirmed at once and comes back when either connection is killed, the
 * server restarts or freezes, and that `close()` leaves no connection behind.
 */
import Redis, { Cluster } from 'ioredis'
import Redis5 from 'ioredis5'
import { createClient, createCluster } from 'redis'
import { createClient as createClient4 } from 'redis4'
import { createClient as createClient5 } from 'redis5'
import type { RedisClientLike } from '../../../lib/adapters/redis/redis-client.js'
import { driverFor } from '../../../lib/adapters/redis/redis-driver.js'
import { openTracking } from '../../../lib/adapters/redis/redis-tracking.js'
import { canTrack } from '../../../lib/adapters/redis/redis-tracking-open.js'
import { sleep } from '../../support/redis-process.js'
import { startRedis, type RedisServer } from '../../support/redis-server.js'

let server: RedisServer

beforeAll(async () => {
  server = await startRedis()
})

afterAll(async () => {
  await server?.stop()
})

/** The adapter's client, as an application would have created it, and how the application closes it. */
interface AppClient {
  readonly client: RedisClientLike
  close(): Promise<unknown>
}

const CLIENTS: [string, (url: string) => Promise<AppClient>][] = [
  ['node-redis 6', async (url) => nodeRedis(createClient({ url }))],
  ['node-redis 5', async (url) => nodeRedis(createClient5({ url }))],
  ['node-redis 4', async (url) => nodeRedis(createClient4({ url }))],
  ['ioredis 6', async (url) => ioRedis(new Redis(url))],
  ['ioredis 5', async (url) => ioRedis(new Redis5(url))],
]

/** A connected node-redis client (errors are expected: the tests break the server), closed at once. */
async function nodeRedis(client: {
  on(event: 'error', listener: () => void): unknown
  connect(): Promise<unknown>
  destroy?(): void
  disconnect(): Promise<unknown>
}): Promise<AppClient> {
  client.on('error', () => {})
  await client.connect()
  const close = async () => (client.destroy === undefined ? client.disconnect() : client.destroy())
  return { client: client as unknown as RedisClientLike, close }
}

/** A connected ioredis client, closed at once. */
async function ioRedis(client: Redis | Redis5): Promise<AppClient> {
  client.on('error', () => {})
  if (client.status !== 'ready') await new Promise((resolve) => client.once('ready', resolve))
  return { client, close: async () => client.disconnect() }
}

/** A channel on `prefix` with fast liveness checks, and what it reported. */
interface Listening {
  readonly tracking: ReturnType<typeof openTracking>
  /** Every key reported, in order. */
  readonly keys: string[]
  /** How many times `onFlush` was called. */
  flushes: number
}

/**
 * Opens a channel on `prefix` for `client`, PINGing every 100 ms; a PING may take `timeout` ms
 * (1 s: a loaded machine does not lose the channel by accident; the test of a server that stops
 * answering gives less).
 */
function listen(client: RedisClientLike, prefix: string, timeout = 1000): Listening {
  const listening: Omit<Listening, 'tracking'> & { tracking?: ReturnType<typeof openTracking> } = { keys: [], flushes: 0 }
  listening.tracking = openTracking(client, {
    prefix,
    onInvalidate: (keys) => listening.keys.push(...keys),
    onFlush: () => void listening.flushes++,
    pingInterval: 100,
    timeout,
  })
  return listening as Listening
}

/** Waits until `condition` holds, at most `ms` milliseconds. */
async function eventually(condition: () => boolean, ms = 3000): Promise<void> {
  const deadline = Date.now() + ms
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`not within ${ms} ms: ${condition.toString()}`)
    await sleep(10)
  }
}

/** The server's connections (`CLIENT LIST`), one record of fields each. */
async function connections(type?: 'pubsub' | 'normal'): Promise<Record<string, string>[]> {
  const list = await server.cli('CLIENT', 'LIST', ...(type === undefined ? [] : ['TYPE', type]))
  return list
    .split('\n')
    .filter((line) => line.startsWith('id='))
    .map((line) => Object.fromEntries(line.split(' ').map((field) => field.split('=', 2) as [string, string])))
}

/** Reads `key` through the data connection: Redis tracks the keys that connection read (default mode). */
async function readThrough(listening: Listening, ...keys: string[]): Promise<void> {
  for (const key of keys) await listening.tracking.driver.command(undefined, ['EXISTS', key])
}

/** Reads `key` through the data connection, writes it from a connection of its own (redis-cli), and waits until that write was reported, with everything before it. */
async function writeAndSee(listening: Listening, key: string): Promise<void> {
  await readThrough(listening, key)
  await server.cli('SET', key, 'x')
  await eventually(() => listening.keys.includes(key))
}

let tests = 0
const freshPrefix = (): string => `track${++tests}:`

describe.each(CLIENTS)('%s', (_label, connect) => {
  let app: AppClient
  let listening: Listening | undefined

  beforeEach(async () => {
    app = await connect(server.url)
  })

  afterEach(async () => {
    await listening?.tracking.close()
    listening = undefined
    await app.close().catch(() => {})
  })

  it('reports the changes by other connections of the keys it read, not its own (scripts included), and flushes', async () => {
    const prefix = freshPrefix()
    listening = listen(app.client, prefix)
    const { tracking, keys } = listening
    expect(await tracking.ready(5000)).toBe(true)
    await writeAndSee(listening, `${prefix}a`)
    await server.cli('SET', `${prefix}ttl`, '1', 'PX', '300')
    await readThrough(listening, `${prefix}b`, `${prefix}c,d`, `${prefix}own`, `${prefix}script`, `${prefix}ttl`)
    await server.cli('MSET', `${prefix}b`, '1', `${prefix}c,d`, '2')
    await server.cli('SET', `${prefix}unread`, '1') // never read through the data connection: not reported
    await tracking.driver.command(undefined, ['HSET', `${prefix}own`, 'f', 'v']) // NOLOOP: not reported
    // A script's own write is not reported either, and its read afterwards keeps the key tracked.
    const script = "redis.call('HSET', KEYS[1], 'f', 'v'); return redis.call('HEXISTS', KEYS[1], 'f')"
    await tracking.driver.command(undefined, ['EVAL', script, '1', `${prefix}script`])
    await server.cli('SET', `${prefix}script`, 'x')
    await eventually(() => keys.includes(`${prefix}ttl`)) // expired by Redis
    expect(keys).toEqual([`${prefix}a`, `${prefix}b`, `${prefix}c,d`, `${prefix}script`, `${prefix}ttl`])
    expect(listening.flushes).toBe(0)
    await server.cli('FLUSHALL')
    await eventually(() => listening!.flushes === 1)
    expect(tracking.confirmed).toBe(true) // a flush of Redis is not a loss of the channel
    expect(tracking.stats).toEqual({ invalidations: 5, flushes: 1, losses: 0 })
  })

  it('flushes at once when the subscriber is killed, and is confirmed again for a new one', async () => {
    const prefix = freshPrefix()
    listening = listen(app.client, prefix)
    const { tracking } = listening
    expect(await tracking.ready(5000)).toBe(true)
    const [before] = await connections('pubsub')
    const epoch = tracking.epoch
    await server.cli('CLIENT', 'KILL', 'ID', before!.id!)
    await eventually(() => listening!.flushes === 1 && !tracking.confirmed, 500)
    expect(tracking.epoch).not.toBe(epoch)
    expect(await tracking.ready(5000)).toBe(true)
    const [after] = await connections('pubsub')
    expect(after!.id).not.toBe(before!.id)
    // The data connection now redirects to the new subscriber.
    expect((await connections('normal')).filter((c) => c.redir === after!.id)).toHaveLength(1)
    await writeAndSee(listening, `${prefix}after`)
  })

  it('flushes when the data connection is killed, and tracks again once it reconnected', async () => {
    const prefix = freshPrefix()
    listening = listen(app.client, prefix)
    const { tracking, keys } = listening
    expect(await tracking.ready(5000)).toBe(true)
    const [subscriber] = await connections('pubsub')
    const [data] = (await connections('normal')).filter((c) => c.redir === subscriber!.id)
    await server.cli('CLIENT', 'KILL', 'ID', data!.id!)
    await eventually(() => listening!.flushes === 1 && !tracking.confirmed, 500)
    expect(await tracking.ready(5000)).toBe(true)
    await tracking.driver.command(undefined, ['SET', `${prefix}own`, '1'])
    await writeAndSee(listening, `${prefix}other`)
    expect(keys).toEqual([`${prefix}other`])
  })

  it('flushes when redis-server restarts, and tracks again once it is back', async () => {
    const prefix = freshPrefix()
    listening = listen(app.client, prefix)
    const { tracking } = listening
    expect(await tracking.ready(5000)).toBe(true)
    await server.restart()
    await eventually(() => listening!.flushes === 1)
    expect(await tracking.ready(10_000)).toBe(true)
    await writeAndSee(listening, `${prefix}after`)
  })

  it('loses the channel when redis-server stops answering, and tracks again once it answers', async () => {
    const prefix = freshPrefix()
    listening = listen(app.client, prefix, 300)
    const { tracking } = listening
    expect(await tracking.ready(5000)).toBe(true)
    await server.pause(1000) // connections stay open, PINGs get no answer
    await eventually(() => listening!.flushes === 1 && !tracking.confirmed, 900)
    expect(await tracking.ready(10_000)).toBe(true)
    await writeAndSee(listening, `${prefix}after`)
  })

  it('closes both of its connections and its timers, and leaves the client open', async () => {
    const before = (await connections()).length
    listening = listen(app.client, freshPrefix())
    const { tracking, keys } = listening
    expect(await tracking.ready(5000)).toBe(true)
    expect(await connections()).toHaveLength(before + 2)
    const pings = await pingsServed()
    await sleep(300)
    expect(await pingsServed()).toBeGreaterThanOrEqual(pings + 4) // both connections, every 100 ms
    expect(tracking.stats.losses).toBe(0) // answered PINGs keep it confirmed
    await tracking.close()
    expect(tracking.confirmed).toBe(false)
    expect(await tracking.ready(100)).toBe(false)
    await expect(tracking.driver.command(undefined, ['PING'])).rejects.toThrow()
    const pingsAfterClose = await pingsServed()
    await server.cli('SET', 'unreported', '1')
    await sleep(300)
    expect(keys).toEqual([])
    expect(await pingsServed()).toBe(pingsAfterClose) // no timer left
    expect(await driverFor(app.client).command(undefined, ['PING'])).toBe('PONG')
    await waitFor(async () => (await connections()).length === before)
  })

  it('closes without rejecting while redis-server is down', async () => {
    listening = listen(app.client, freshPrefix())
    expect(await listening.tracking.ready(5000)).toBe(true)
    await server.kill()
    try {
      await eventually(() => !listening!.tracking.confirmed)
      await expect(listening.tracking.close()).resolves.toBeUndefined()
    } finally {
      await server.restart()
    }
  })
})

describe('the clients it tracks', () => {
  it('tracks plain clients and clusters (a cluster on a channel of its own), and nothing it cannot duplicate', () => {
    const clusters = [createCluster({ rootNodes: [{ url: server.url }] }), new Cluster([server.url], { lazyConnect: true })]
    for (const cluster of clusters) {
      expect(canTrack(cluster)).toBe(true)
      // The two-connection channel is for a single client; the cluster's is redis-tracking-cluster.ts.
      expect(() =>
        openTracking(cluster as unknown as RedisClientLike, { prefix: 'p:', onInvalidate() {}, onFlush() {} }),
      ).toThrow(
        new TypeError(
          'express-stash: the Redis near cache needs a node-redis (v4 and later) or ioredis (v5 and later) client, not a cluster',
        ),
      )
    }
    expect(canTrack(createClient({ url: server.url }))).toBe(true)
    expect(canTrack(new Redis(server.url, { lazyConnect: true }))).toBe(true)
    expect(canTrack({ sendCommand() {}, isReady: true })).toBe(false) // cannot be duplicated
  })
})

it('tracks the keys an ioredis `keyPrefix` client reads, and reports them without it', async () => {
  const app = await ioRedis(new Redis(server.url, { keyPrefix: 'app:' }))
  const listening = listen(app.client, 'p:')
  try {
    expect(await listening.tracking.ready(5000)).toBe(true)
    await readThrough(listening, 'p:own', 'p:other', 'p:unprefixed') // app:p:own, app:p:other, app:p:unprefixed
    await listening.tracking.driver.command(undefined, ['SET', 'p:own', '1']) // stored as app:p:own; NOLOOP
    expect(await server.cli('EXISTS', 'app:p:own')).toBe('1')
    await server.cli('SET', 'p:unprefixed', '1') // another key than the one read
    await server.cli('SET', 'app:p:other', '1')
    await eventually(() => listening.keys.length > 0)
    expect(listening.keys).toEqual(['p:other'])
  } finally {
    await listening.tracking.close()
    await app.close()
  }
})

/** How many PINGs the server has answered. */
async function pingsServed(): Promise<number> {
  const stats = await server.cli('INFO', 'commandstats')
  return Number(/cmdstat_ping:calls=(\d+)/.exec(stats)?.[1] ?? 0)
}

/** Waits until `condition` resolves true, at most 2 s. */
async function waitFor(condition: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + 2000
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error('not within 2000 ms')
    await sleep(20)
  }
}
