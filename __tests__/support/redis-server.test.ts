import { execFileSync } from 'node:child_process'
import { existsSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createClient, createCluster } from 'redis'
import { startRedisCluster, type RedisCluster } from './redis-cluster.js'
import { redisUrlForTests, startRedis, type RedisServer } from './redis-server.js'

/** Polls `condition` every 20 ms until it holds, failing after `timeoutMs`. */
async function waitFor(condition: () => boolean, what: string, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
}

/** True if a process with this pid exists (signal 0 only checks). */
function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch {
    return false
  }
}

/** Command lines of every redis-server on the machine (for "none of ours left" checks). */
function redisServerCommandLines(): string[] {
  const out = execFileSync('ps', ['-eo', 'args'], { encoding: 'utf8' })
  return out.split('\n').filter((line) => line.startsWith('redis-server') || line.includes('/redis-server '))
}

describe('startRedis', () => {
  let server: RedisServer

  beforeAll(async () => {
    server = await startRedis({ args: ['--maxmemory', '16mb'] })
  })

  afterAll(async () => {
    await server?.stop()
  })

  it('listens on a private loopback port, never 6379', async () => {
    expect(server.port).not.toBe(6379)
    expect(server.url).toBe(`redis://127.0.0.1:${server.port}`)
    expect(await server.cli('CONFIG', 'GET', 'maxmemory')).toBe(`maxmemory\n${16 * 1024 * 1024}`)
    expect(await server.cli('CONFIG', 'GET', 'save')).toBe('save')
  })

  it('answers PING via node-redis, fails while killed, and works again after restart on the same port', async () => {
    const client = createClient({ url: server.url, disableOfflineQueue: true, socket: { reconnectStrategy: 50 } })
    client.on('error', () => {}) // reconnect errors are expected while the server is down
    await client.connect()
    try {
      expect(await client.ping()).toBe('PONG')
      await client.set('support:key', 'value')
      const { port } = server

      await server.kill()
      expect(server.pid).toBeUndefined()
      await waitFor(() => !client.isReady, 'client to notice the server is gone')
      await expect(client.ping()).rejects.toThrow()
      const fresh = createClient({ url: server.url, socket: { reconnectStrategy: false } })
      fresh.on('error', () => {})
      await expect(fresh.connect()).rejects.toThrow(/ECONNREFUSED/)

      await server.restart()
      expect(server.port).toBe(port)
      await waitFor(() => client.isReady, 'client to reconnect')
      expect(await client.ping()).toBe('PONG')
      expect(await client.get('support:key')).toBeNull() // no persistence across restarts
    } finally {
      client.destroy()
    }
  }, 20_000)

  it('pause() freezes the server until resume()', async () => {
    const client = await createClient({ url: server.url })
      .on('error', () => {})
      .connect()
    try {
      await server.pause()
      const reply = client.ping()
      const winner = await Promise.race([reply, new Promise((resolve) => setTimeout(resolve, 300, 'timer'))])
      expect(winner).toBe('timer')
      await server.resume()
      expect(await reply).toBe('PONG')

      await server.pause(200) // auto-resumes
      expect(await client.ping()).toBe('PONG')
    } finally {
      client.destroy()
    }
  })

  it('cli() returns trimmed stdout', async () => {
    expect(await server.cli('SET', 'support:cli', 'x y')).toBe('OK')
    expect(await server.cli('GET', 'support:cli')).toBe('x y')
  })
})

describe('stop() and restart()', () => {
  it('stop() ends the process and removes its data dir; restart() brings it back on the same port', async () => {
    const server = await startRedis()
    const dir = (await server.cli('CONFIG', 'GET', 'dir')).split('\n')[1] ?? ''
    const pid = server.pid
    expect(existsSync(dir)).toBe(true)
    expect(pid).toBeDefined()

    await server.stop()
    expect(isAlive(pid ?? -1)).toBe(false)
    expect(existsSync(dir)).toBe(false)

    await server.restart()
    expect(await server.cli('PING')).toBe('PONG')
    await server.stop()
    await server.stop() // idempotent
    expect(server.pid).toBeUndefined()
  }, 20_000)
})

describe('errors', () => {
  it('throws a clear error when redis-server is not on PATH', async () => {
    const emptyDir = mkdtempSync(join(tmpdir(), 'no-redis-'))
    const savedPath = process.env['PATH']
    process.env['PATH'] = emptyDir
    try {
      await expect(startRedis()).rejects.toThrow(
        'redis-server not found: install it (apt-get install -y redis-server) or set REDIS_URL',
      )
    } finally {
      process.env['PATH'] = savedPath
      rmSync(emptyDir, { recursive: true, force: true })
    }
  })

  it('reports the server output when redis-server refuses to start', async () => {
    await expect(startRedis({ args: ['--no-such-option', 'x'] })).rejects.toThrow(/no-such-option/)
  })
})

describe('redisUrlForTests', () => {
  const saved = process.env['REDIS_URL']
  afterEach(() => {
    if (saved === undefined) delete process.env['REDIS_URL']
    else process.env['REDIS_URL'] = saved
  })

  it('returns REDIS_URL untouched when it is set', async () => {
    process.env['REDIS_URL'] = 'redis://example.invalid:1234'
    const target = await redisUrlForTests()
    expect(target.url).toBe('redis://example.invalid:1234')
    await target.stop() // no-op
  })

  it('starts a private server otherwise', async () => {
    delete process.env['REDIS_URL']
    const target = await redisUrlForTests()
    try {
      expect(target.url).toMatch(/^redis:\/\/127\.0\.0\.1:\d+$/)
      expect(target.url).not.toMatch(/:6379$/)
      const client = await createClient({ url: target.url }).connect()
      expect(await client.ping()).toBe('PONG')
      client.destroy()
    } finally {
      await target.stop()
    }
  })
})

describe('startRedisCluster', () => {
  let cluster: RedisCluster

  beforeAll(async () => {
    cluster = await startRedisCluster()
  }, 60_000)

  afterAll(async () => {
    await cluster?.stop()
  })

  it('serves keys from every slot range through a node-redis cluster client', async () => {
    expect(cluster.nodes).toHaveLength(3)
    expect(cluster.nodes.map((node) => node.port)).not.toContain(6379)
    const client = await createCluster({ rootNodes: cluster.rootNodes })
      .on('error', () => {})
      .connect()
    try {
      const keys = Array.from({ length: 30 }, (_, i) => `support:cluster:${i}`)
      for (const key of keys) await client.set(key, `value-${key}`)
      for (const key of keys) expect(await client.get(key)).toBe(`value-${key}`)
      // every master holds some of the keys, so they really live in different slots/nodes
      const sizes = await Promise.all(cluster.servers.map(async (server) => Number(await server.cli('DBSIZE'))))
      expect(sizes.every((size) => size > 0)).toBe(true)
      expect(sizes.reduce((a, b) => a + b, 0)).toBe(keys.length)
    } finally {
      client.destroy()
    }
  }, 20_000)

  it('stop() leaves none of our redis-server processes running', async () => {
    const pids = cluster.servers.map((server) => server.pid)
    const ports = cluster.nodes.map((node) => String(node.port))
    expect(pids.every((pid) => pid !== undefined && isAlive(pid))).toBe(true)

    await cluster.stop()

    expect(pids.some((pid) => pid !== undefined && isAlive(pid))).toBe(false)
    const leftovers = redisServerCommandLines().filter((line) => ports.some((port) => line.includes(`:${port}`)))
    expect(leftovers).toEqual([])
  }, 20_000)
})
