/**
 * `close()` of a client that `redisAdapter(url)` created, in real processes: whatever state the
 * client is in (never connected, a server that accepts and never answers, connected, server
 * killed, restarted or frozen), `stash.close()` resolves and the process then exits by itself,
 * with no unhandled rejection. Each client runs in a process of its own
 * (support/redis-close-app.cjs) on a copy of lib/ whose node_modules holds that one client
 * package, so `import('redis')` fails for the ioredis runs as it does where `redis` is not installed.
 */
import { spawn } from 'node:child_process'
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import { createServer, type Server, type Socket } from 'node:net'
import { tmpdir } from 'node:os'
import path from 'node:path'
import ts from 'typescript'
import { findFreePort, trackChild, trackTempDir } from '../../support/redis-process.js'
import { startRedis } from '../../support/redis-server.js'

const ROOT = path.join(__dirname, '..', '..', '..')
const APP = path.join(ROOT, '__tests__', 'support', 'redis-close-app.cjs')
/** After `close()` resolved, the process must be gone within this. */
const EXIT_WITHIN_MS = 3000

/** A client under test: the package name the adapter imports, and the installed package behind it. */
interface Client {
  readonly label: string
  readonly name: 'redis' | 'ioredis'
  readonly installed: string
  readonly major: string
}
const CLIENTS: readonly Client[] = [
  { label: 'node-redis 6', name: 'redis', installed: 'redis', major: '6' },
  { label: 'node-redis 5', name: 'redis', installed: 'redis5', major: '5' },
  { label: 'node-redis 4', name: 'redis', installed: 'redis4', major: '4' },
  { label: 'ioredis 6 (no redis installed)', name: 'ioredis', installed: 'ioredis', major: '6' },
  { label: 'ioredis 5 (no redis installed)', name: 'ioredis', installed: 'ioredis5', major: '5' },
]
const [NODE_REDIS, , , IOREDIS] = CLIENTS as [Client, Client, Client, Client, Client]

let dir: string
/** The copy of lib/ that sees only `client`. */
const libFor = (client: Client): string => path.join(dir, client.installed, 'lib', 'index.js')

beforeAll(() => {
  // lib/ as CommonJS, the way dist/cjs has it, without type-checking (tsc -p checks the sources).
  const compiled = new Map<string, string>()
  const compile = (folder: string): void => {
    for (const entry of readdirSync(path.join(ROOT, 'lib', folder), { withFileTypes: true })) {
      const file = path.join(folder, entry.name)
      if (entry.isDirectory()) compile(file)
      else if (entry.name.endsWith('.ts')) {
        const source = readFileSync(path.join(ROOT, 'lib', file), 'utf8')
        const options = { module: ts.ModuleKind.CommonJS, target: ts.ScriptTarget.ES2022, esModuleInterop: true }
        compiled.set(file.replace(/\.ts$/, '.js'), ts.transpileModule(source, { compilerOptions: options }).outputText)
      }
    }
  }
  compile('')
  dir = mkdtempSync(path.join(tmpdir(), 'express-stash-close-'))
  trackTempDir(dir, true)
  for (const client of CLIENTS) {
    const home = path.join(dir, client.installed)
    mkdirSync(path.join(home, 'node_modules'), { recursive: true })
    for (const [file, code] of compiled) {
      mkdirSync(path.dirname(path.join(home, 'lib', file)), { recursive: true })
      writeFileSync(path.join(home, 'lib', file), code)
    }
    const link = (name: string, target = name): void =>
      symlinkSync(path.join(ROOT, 'node_modules', target), path.join(home, 'node_modules', name), 'dir')
    link('cookie')
    link('debug')
    link(client.name, client.installed)
  }
})

afterAll(() => {
  rmSync(dir, { recursive: true, force: true })
  trackTempDir(dir, false)
})

/** What the app process printed and how it ended. */
interface Run {
  ready: { statuses: unknown[]; clients: Record<string, string | null> }
  closed: { closed: string; ms: number; status: unknown; inFlight: string }
  unhandled: string[]
  exitCode: number | null
  signal: NodeJS.Signals | null
  /** Milliseconds from "closed" to the process's exit. */
  exitedAfter: number
}

/** How a run starts and what happens before the close. */
interface RunOptions {
  /** Redis answers at first: wait for the connection, and give each call 500 ms (else 150 ms). */
  connected?: boolean
  /** Runs after "ready", before the close (kill or freeze the server). */
  beforeClose?: () => Promise<void>
}

/**
 * Runs the app with `client` against `url`: waits for "ready", runs `beforeClose`, sends SIGUSR2
 * (close), and waits for "closed" and the exit (killing the process past {@link EXIT_WITHIN_MS}).
 */
async function run(client: Client, url: string, { connected = false, beforeClose }: RunOptions = {}): Promise<Run> {
  const child = spawn(process.execPath, [APP], {
    cwd: dir,
    env: {
      ...process.env,
      STASH_LIB: libFor(client),
      REDIS_URL: url,
      TIMEOUT: connected ? '500' : '150',
      CONNECTED: connected ? '1' : '0',
      DEBUG: '',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  const exited = trackChild(child)
  let stderr = ''
  child.stderr.on('data', (chunk: Buffer) => void (stderr += chunk.toString()))
  const events: Record<string, unknown>[] = []
  const waiters: (() => void)[] = []
  let buffer = ''
  child.stdout.on('data', (chunk: Buffer) => {
    buffer += chunk.toString()
    for (let end = buffer.indexOf('\n'); end >= 0; end = buffer.indexOf('\n')) {
      events.push(JSON.parse(buffer.slice(0, end)) as Record<string, unknown>)
      buffer = buffer.slice(end + 1)
      waiters.splice(0).forEach((wake) => wake())
    }
  })
  let exitedAt = 0
  child.once('exit', () => void (exitedAt = Date.now()))
  // 'close' comes after 'exit' once stdout is drained: every event printed has been read by then.
  const gone = new Promise<void>((resolve) => child.once('close', () => resolve()))
  const next = async (event: string, ms: number): Promise<Record<string, unknown>> => {
    const deadline = Date.now() + ms
    for (;;) {
      const found = events.find((e) => e.event === event)
      if (found !== undefined) return found
      const left = deadline - Date.now()
      const woke = await Promise.race([
        new Promise<'event'>((resolve) => waiters.push(() => resolve('event'))),
        gone.then(() => 'exit' as const),
        new Promise<'timeout'>((resolve) => setTimeout(() => resolve('timeout'), Math.max(0, left)).unref()),
      ])
      if (woke !== 'event' && events.find((e) => e.event === event) === undefined) {
        child.kill('SIGKILL')
        throw new Error(
          `no "${event}" from the ${client.label} app (${woke} ${child.exitCode} ${child.signalCode}); events ${JSON.stringify(events)}\n${stderr}`,
        )
      }
    }
  }
  try {
    const ready = await next('ready', 15_000)
    await beforeClose?.()
    child.kill('SIGUSR2')
    const closed = await next('closed', 10_000)
    const closedAt = Date.now()
    const timer = setTimeout(() => child.kill('SIGKILL'), EXIT_WITHIN_MS)
    await gone
    clearTimeout(timer)
    return {
      ready: ready as unknown as Run['ready'],
      closed: closed as unknown as Run['closed'],
      unhandled: events.filter((e) => e.event === 'unhandledRejection').map((e) => String(e.message)),
      exitCode: child.exitCode,
      signal: child.signalCode,
      exitedAfter: exitedAt - closedAt,
    }
  } finally {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
    await exited
  }
}

/** The process closed cleanly and exited by itself, in time, with code 0. */
function expectCleanExit(result: Run): void {
  expect(result.unhandled).toEqual([])
  expect(result.closed.closed).toBe('resolved')
  expect({ signal: result.signal, exitCode: result.exitCode }).toEqual({ signal: null, exitCode: 0 })
  expect(result.exitedAfter).toBeLessThan(EXIT_WITHIN_MS)
}

/** The app saw only `client`'s package. */
function expectClient(result: Run, client: Client): void {
  const other = client.name === 'redis' ? 'ioredis' : 'redis'
  expect(result.ready.clients[client.name]?.split('.')[0]).toBe(client.major)
  if (client.name === 'ioredis') expect(result.ready.clients[other]).toBeNull()
}

describe.each(CLIENTS)('%s', (client) => {
  test('no server on the port (never connected): close() resolves and the process exits', async () => {
    const port = await findFreePort()
    const result = await run(client, `redis://127.0.0.1:${port}`)
    expectClient(result, client)
    expect(result.ready.statuses).toEqual([503, 503])
    expectCleanExit(result)
  })

  test('connected: close() is graceful (the call in flight gets its answer) and the process exits', async () => {
    const redis = await startRedis()
    try {
      const result = await run(client, redis.url, { connected: true })
      expect(result.ready.statuses).toEqual([200, 200])
      expect(result.closed.status).toBe(200)
      expect(result.closed.inFlight).toBe('resolved')
      expectCleanExit(result)
    } finally {
      await redis.stop()
    }
  })
})

// node-redis clients reconnect on the adapter's timer (node-redis's own wait could not be cancelled).
describe.each(CLIENTS.filter((client) => client.name === 'redis'))('%s', (client) => {
  test('server restarted while connected: the client reconnects by itself, then closes', async () => {
    const redis = await startRedis()
    try {
      const result = await run(client, redis.url, {
        connected: true,
        beforeClose: async () => {
          await redis.restart()
          await new Promise((resolve) => setTimeout(resolve, 1500)) // a few reconnect attempts (50 ms, 100 ms, ...)
        },
      })
      expect(result.ready.statuses).toEqual([200, 200])
      expect(result.closed.status).toBe(200)
      expectCleanExit(result)
    } finally {
      await redis.stop()
    }
  })
})

describe.each([NODE_REDIS, IOREDIS])('%s', (client) => {
  test('server killed before close(): close() resolves, no reconnect keeps the process alive', async () => {
    const redis = await startRedis()
    const result = await run(client, redis.url, {
      connected: true,
      beforeClose: async () => {
        await redis.kill()
        await new Promise((resolve) => setTimeout(resolve, 300)) // the client notices and starts reconnecting
      },
    })
    expect(result.ready.statuses).toEqual([200, 200])
    expect(result.closed.status).toBe(503)
    expectCleanExit(result)
    await redis.stop()
  })

  test('server frozen (SIGSTOP) while connected: close() gives up on the graceful close and forces it', async () => {
    const redis = await startRedis()
    try {
      const result = await run(client, redis.url, { connected: true, beforeClose: () => redis.pause() })
      expect(result.ready.statuses).toEqual([200, 200])
      expect(result.closed.status).toBe(503)
      expect(result.closed.ms).toBeLessThan(2500) // the graceful close is bounded (1 s)
      expectCleanExit(result)
    } finally {
      await redis.resume()
      await redis.stop()
    }
  })

  test('a server that accepts and never answers (a connect in flight): close() resolves and the process exits', async () => {
    const sockets = new Set<Socket>()
    const silent: Server = createServer((socket) => {
      sockets.add(socket)
      socket.on('error', () => {})
      socket.on('close', () => sockets.delete(socket))
    })
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve))
    try {
      const { port } = silent.address() as { port: number }
      const result = await run(client, `redis://127.0.0.1:${port}`)
      expect(result.ready.statuses).toEqual([503, 503])
      expectCleanExit(result)
    } finally {
      for (const socket of sockets) socket.destroy()
      await new Promise((resolve) => silent.close(resolve))
    }
  })
})
