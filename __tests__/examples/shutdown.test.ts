/**
 * Every example stops cleanly on a signal, in real processes and with real signals: started
 * as `npm run example*` would (node --import tsx, on the sources), it serves a few requests, keeps a
 * browser-like keep-alive connection open (and for the SSE example an event stream), gets
 * SIGTERM or SIGINT the way a process manager or a terminal sends it, and must be gone — the
 * cluster example with every worker — within 5 s, having exited by itself with code 0.
 */
import http from 'node:http'
import type { Socket } from 'node:net'
import { childPids, commandLine, isRunning, launchExample, type LaunchedExample } from '../support/example-process.js'
import { startRedis, type RedisServer } from '../support/redis-server.js'

const WITHIN_MS = 5000

let app: LaunchedExample | undefined
let redis: RedisServer | undefined
const agents: http.Agent[] = []

afterEach(async () => {
  agents.splice(0).forEach((agent) => agent.destroy())
  await app?.kill()
  app = undefined
})
afterAll(() => redis?.stop())

/** A request on `agent`'s connection, which stays open afterwards (keep-alive, as browsers do). */
function request(agent: http.Agent, port: number, method: string, path: string): Promise<{ status: number; socket: Socket }> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, method, path, agent }, (res) => {
      res.resume()
      res.on('end', () => resolve({ status: res.statusCode!, socket: req.socket! }))
    })
    req.on('error', reject)
    req.end()
  })
}

/** A browser-like client: one keep-alive connection; resolves the statuses and the open socket. */
async function browse(
  port: number,
  calls: readonly (readonly [string, string])[],
): Promise<{ statuses: number[]; socket: Socket }> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 })
  agents.push(agent)
  const statuses: number[] = []
  let socket: Socket | undefined
  for (const [method, path] of calls) {
    const answer = await request(agent, port, method, path)
    statuses.push(answer.status)
    socket = answer.socket
  }
  return { statuses, socket: socket! }
}

/** Opens an event stream and resolves once its first event arrived; `ended` settles when the server ends it. */
function openStream(port: number, path: string): Promise<{ ended: Promise<void> }> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port, path, agent: false }, (res) => {
      const ended = new Promise<void>((done) => res.once('close', done))
      res.once('data', () => resolve({ ended }))
    })
    req.on('error', reject)
  })
}

/** Resolves once `socket` is closed (by the server: this side never closes it). */
const closedSocket = (socket: Socket): Promise<void> =>
  socket.destroyed ? Promise.resolve() : new Promise((resolve) => socket.once('close', () => resolve()))

/** The node processes of the cluster example under `pid`: the primary's children, then their children. */
function clusterProcesses(pid: number): number[] {
  return childPids(pid).filter((child) => commandLine(child)?.includes('cluster.ts'))
}

/** Every process under `pid`, depth first. */
function descendants(pid: number): number[] {
  return childPids(pid).flatMap((child) => [child, ...descendants(child)])
}

/**
 * Sends `signal` to `target` (a pid, or minus a process group), then waits for the spawned process
 * to exit and for every pid of `pids` to be gone; fails past {@link WITHIN_MS}. Resolves the
 * spawned process's exit and the milliseconds until everything was gone.
 */
async function stop(
  example: LaunchedExample,
  target: number,
  signal: NodeJS.Signals,
  pids: readonly number[],
): Promise<{ code: number | null; signal: NodeJS.Signals | null; ms: number }> {
  const started = Date.now()
  process.kill(target, signal)
  const deadline = started + WITHIN_MS
  const timeout = new Promise<undefined>((resolve) => setTimeout(() => resolve(undefined), WITHIN_MS).unref())
  const exit = await Promise.race([example.exited, timeout])
  while (pids.some(isRunning) && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20))
  const ms = Date.now() - started
  const alive = pids.filter(isRunning)
  if (exit === undefined || alive.length > 0) {
    throw new Error(
      `${signal}: still running after ${WITHIN_MS} ms: ${exit === undefined ? 'the process, ' : ''}${alive.join(',')}\n${example.output()}`,
    )
  }
  return { ...exit, ms }
}

const report = (what: string, ms: number): void => void process.stdout.write(`shutdown: ${what} in ${ms} ms\n`)

describe('single-process examples: SIGTERM with a keep-alive connection open exits with code 0', () => {
  const cases: readonly { file: string; calls: readonly (readonly [string, string])[]; redis?: boolean; stream?: string }[] = [
    {
      file: 'app.ts',
      calls: [
        ['GET', '/count'],
        ['POST', '/cart'],
        ['GET', '/count'],
      ],
    },
    {
      file: 'shop.ts',
      calls: [
        ['GET', '/cart'],
        ['POST', '/logout'],
      ],
    },
    {
      file: 'wizard.ts',
      calls: [
        ['GET', '/step/1'],
        ['GET', '/step/2'],
      ],
    },
    {
      file: 'sse.ts',
      calls: [
        ['GET', '/'],
        ['GET', '/state'],
      ],
      stream: '/events',
    },
    {
      file: 'cart.ts',
      calls: [
        ['POST', '/cart/items/apple'],
        ['GET', '/cart'],
      ],
      redis: true,
    },
  ]
  test.each(cases)('$file', async ({ file, calls, redis: needsRedis, stream }) => {
    const env: Record<string, string> = {}
    if (needsRedis) env.REDIS_URL = (redis ??= await startRedis()).url
    app = await launchExample(file, { env, sources: true })
    const { statuses, socket } = await browse(app.port, calls)
    expect(statuses.every((status) => status < 500)).toBe(true)
    const events = stream === undefined ? undefined : await openStream(app.port, stream)
    const result = await stop(app, app.pid, 'SIGTERM', [app.pid])
    expect({ code: result.code, signal: result.signal }).toEqual({ code: 0, signal: null })
    await closedSocket(socket)
    await events?.ended
    report(`${file} (SIGTERM)`, result.ms)
  })
})

describe('cluster example: the primary and its 4 workers are gone within 5 s', () => {
  /** Starts the cluster, makes requests on a keep-alive connection left open; resolves its processes. */
  async function startCluster(via: 'node' | 'npm', detached = false) {
    app = await launchExample('cluster.ts', { via, detached, sources: true })
    // The primary is the process whose children are the workers (under npm, it may be deeper down).
    const primary = [app.pid, ...descendants(app.pid)].find((pid) => clusterProcesses(pid).length === 4)!
    const workers = clusterProcesses(primary)
    expect(workers).toHaveLength(4)
    const { statuses, socket } = await browse(app.port, [
      ['GET', '/count'],
      ['GET', '/count'],
    ])
    expect(statuses).toEqual([200, 200])
    return { primary, workers, socket, all: [app.pid, ...descendants(app.pid)] }
  }

  test.each(['SIGTERM', 'SIGINT'] as const)('%s to the primary alone (a process manager)', async (signal) => {
    const { primary, all, socket } = await startCluster('node')
    const result = await stop(app!, primary, signal, all)
    expect({ code: result.code, signal: result.signal }).toEqual({ code: 0, signal: null })
    await closedSocket(socket)
    report(`cluster, ${signal} to the primary`, result.ms)
  })

  test.each(['SIGTERM', 'SIGINT'] as const)('%s to `npm run example:cluster`, which relays it down', async (signal) => {
    const { all } = await startCluster('npm')
    const result = await stop(app!, app!.pid, signal, all)
    expect({ code: result.code, signal: result.signal }).toEqual({ code: 0, signal: null })
    report(`cluster, ${signal} to npm run`, result.ms)
  })

  test.each(['SIGINT', 'SIGTERM'] as const)(
    '%s to the whole process group (Ctrl-C, systemd), through npm run',
    async (signal) => {
      const { all } = await startCluster('npm', true)
      const result = await stop(app!, -app!.pid, signal, all)
      expect({ code: result.code, signal: result.signal }).toEqual({ code: 0, signal: null })
      report(`cluster, ${signal} to the process group`, result.ms)
    },
  )
})
