/**
 * Shared pieces of the HTTP benchmark (bench/run.ts): the scenario names, processes pinned to
 * a core, a private redis-server, Redis's own command counters, and medians.
 */
import { spawn, spawnSync, type ChildProcess, type SpawnOptions } from 'node:child_process'
import { existsSync, readFileSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import { createServer } from 'node:net'
import { createClient } from 'redis'

/** The scenario names, in the order of the results table. */
export const SCENARIOS = [
  'bare',
  'bare-middleware',
  'session-memory',
  'session-redis',
  'raw-get',
  'raw-get-set',
  'stash-memory',
  'stash-memory-traced',
  'stash-redis',
  'stash-redis-cache',
  'stash-redis-cache-2p',
  'payload-session-redis',
  'payload-stash-redis',
] as const

/** One scenario name (see bench/server.ts). */
export type Scenario = (typeof SCENARIOS)[number]

/** Scenarios whose state lives in Redis: their Redis commands are counted. */
export const REDIS_SCENARIOS: readonly Scenario[] = [
  'session-redis',
  'raw-get',
  'raw-get-set',
  'stash-redis',
  'stash-redis-cache',
  'stash-redis-cache-2p',
  'payload-session-redis',
  'payload-stash-redis',
]

/** Payload scenarios: each client's state holds PAYLOAD_KEYS keys of PAYLOAD_CHARS characters; the routes use one. */
export const PAYLOAD_KEYS = 100
export const PAYLOAD_CHARS = 10_000

/** The core the app server runs on, and the one the load generator and redis-server share. */
export const SERVER_CORE = 0
export const LOAD_CORE = 1

const HAS_TASKSET = spawnSync('taskset', ['-V'], { stdio: 'ignore' }).status === 0

/** Whether processes are pinned to cores (`taskset`, from util-linux, is installed). */
export const pinned = HAS_TASKSET

/** Spawns `command` pinned to `core` with taskset when it exists, else unpinned. */
export function spawnPinned(core: number, command: string, args: string[], options: SpawnOptions): ChildProcess {
  return HAS_TASKSET ? spawn('taskset', ['-c', String(core), command, ...args], options) : spawn(command, args, options)
}

/**
 * Compiles lib/ with the package's own compiler options (its CommonJS build) into
 * bench/.build/cjs, and returns the path of its entry point and a description of the source.
 */
export function buildStash(): { module: string; source: string } {
  const out = join(__dirname, '.build', 'cjs')
  rmSync(out, { recursive: true, force: true })
  const tsc = require.resolve('typescript/bin/tsc')
  const args = [
    tsc,
    '-p',
    join(__dirname, '..', 'tsconfig.json'),
    '--outDir',
    out,
    '--declaration',
    'false',
    '--sourceMap',
    'false',
  ]
  if (spawnSync(process.execPath, args, { stdio: 'inherit' }).status !== 0) throw new Error('tsc could not compile lib/')
  const git = (...command: string[]): string =>
    spawnSync('git', command, { cwd: __dirname, encoding: 'utf8' }).stdout?.trim() ?? ''
  const commit = git('rev-parse', '--short', 'HEAD') || 'unknown commit'
  const dirty = git('status', '--porcelain', '--', '../lib') === '' ? '' : ', with uncommitted changes'
  return { module: join(out, 'index.js'), source: `lib/ at ${commit}${dirty}, compiled by tsc` }
}

/** A port that was free a moment ago on 127.0.0.1. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer().on('error', reject)
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as { port: number }
      probe.close(() => resolve(port))
    })
  })
}

/** Resolves once `child` prints a line containing `marker`; rejects if it exits first or after `ms`. */
export function waitForOutput(child: ChildProcess, marker: string, ms = 15_000): Promise<void> {
  return new Promise((resolve, reject) => {
    let seen = ''
    const timer = setTimeout(() => reject(new Error(`no "${marker}" within ${ms} ms: ${seen}`)), ms)
    child.stdout!.on('data', (chunk: Buffer) => {
      seen += chunk.toString()
      if (seen.includes(marker)) {
        clearTimeout(timer)
        resolve()
      }
    })
    child.once('exit', (code) => {
      clearTimeout(timer)
      reject(new Error(`exited with ${code} before "${marker}": ${seen}`))
    })
  })
}

/** Ends a child process and waits for it to be gone. */
export async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return
  const gone = new Promise((resolve) => child.once('exit', resolve))
  child.kill('SIGTERM')
  const timer = setTimeout(() => child.kill('SIGKILL'), 3_000)
  await gone
  clearTimeout(timer)
}

/** A private redis-server for the run, and a client to read its counters. */
export interface BenchRedis {
  url: string
  pid: number
  version: string
  /** Zeroes Redis's command counters (`CONFIG RESETSTAT`). */
  resetStats(): Promise<void>
  /** Calls per command since the last reset (`INFO commandstats`, which counts the commands scripts run). */
  commandStats(): Promise<Record<string, number>>
  stop(): Promise<void>
}

/** Starts redis-server on a free port (never 6379), without persistence, pinned to the load core. */
export async function startRedis(): Promise<BenchRedis> {
  const port = await freePort()
  const args = ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no']
  const server = spawnPinned(LOAD_CORE, 'redis-server', args, { stdio: ['ignore', 'pipe', 'inherit'] })
  server.once('error', (error) => console.error('redis-server:', error.message))
  await waitForOutput(server, 'Ready to accept connections')
  const url = `redis://127.0.0.1:${port}`
  const client = createClient({ url })
  client.on('error', () => {})
  await client.connect()
  const info = String(await client.sendCommand<string>(['INFO', 'server']))
  return {
    url,
    pid: server.pid!,
    version: /redis_version:(\S+)/.exec(info)?.[1] ?? 'unknown',
    resetStats: async () => void (await client.sendCommand(['CONFIG', 'RESETSTAT'])),
    commandStats: async () => {
      const stats: Record<string, number> = {}
      const text = String(await client.sendCommand<string>(['INFO', 'commandstats']))
      for (const [, name, calls] of text.matchAll(/^cmdstat_([^:]+):calls=(\d+)/gm)) {
        if (!/^(config|info)\b/.test(name!)) stats[name!] = Number(calls) // the measurement's own commands
      }
      return stats
    },
    stop: async () => {
      await client.close()
      await stop(server)
    },
  }
}

/** The median of some numbers (the mean of the middle two for an even count). */
export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b)
  const middle = Math.floor(sorted.length / 2)
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2
}

/** A positive number from the environment, or `fallback`. */
export function envNumber(name: string, fallback: number): number {
  const raw = process.env[name]
  if (raw === undefined || raw === '') return fallback
  const value = Number(raw)
  if (!Number.isFinite(value) || value <= 0) throw new Error(`${name} must be a positive number, got "${raw}"`)
  return value
}

/**
 * Cookies of `count` distinct clients: the `name=value` pairs of each first `GET /setup` (the
 * same as `/write`, except on payload scenarios, where it stores the whole payload).
 */
export async function obtainCookies(base: string, count: number): Promise<string[]> {
  const cookies: string[] = []
  for (let i = 0; i < count; i++) {
    const response = await fetch(`${base}/setup`)
    if (!response.ok) throw new Error(`GET /setup answered ${response.status}: ${await response.text()}`)
    const pairs = response.headers.getSetCookie().map((header) => header.split(';')[0]!)
    if (pairs.length > 0) cookies.push(pairs.join('; '))
  }
  return cookies // empty for bare Express, which sets no cookie
}

/** What Redis ran per request over one round. */
export interface RedisCosts {
  /** Every command, those run inside scripts included. */
  commands: number
  /** Commands sent: network round trips. */
  roundTrips: number
  /** Calls of each command. */
  each: Record<string, number>
}

/** Per-request rates of Redis's counters over one round. */
export function perRequest(stats: Record<string, number>, requests: number): RedisCosts {
  const each = Object.fromEntries(Object.entries(stats).map(([name, calls]) => [name, calls / requests]))
  const total = Object.values(stats).reduce((sum, calls) => sum + calls, 0)
  // INFO commandstats counts the commands a script runs as well as the script call itself.
  // express-stash sends scripts (its writes) and loads (one HMGET each), so its round trips are
  // its EVALSHA, EVAL and HMGET calls (its load script, which runs an HMGET inside, is not used
  // here: every record has the marker). The other scenarios send neither scripts nor HMGET, so
  // each of their commands is a round trip.
  const stash = (stats.evalsha ?? 0) + (stats.eval ?? 0) + (stats.hmget ?? 0)
  return { commands: total / requests, roundTrips: (stash > 0 ? stash : total) / requests, each }
}

export const CLOCK_TICKS = 100 // USER_HZ: /proc counts CPU time in hundredths of a second on Linux

/**
 * CPU time of the whole machine, in clock ticks: user, nice, system, interrupts and steal (time
 * the hypervisor gave to someone else). Processes are charged the softirq time of the network
 * traffic they cause, so interrupts belong here for their own time to be subtracted.
 */
function machineTicks(): number {
  const [user, nice, system, , , irq, softirq, steal] = readFileSync('/proc/stat', 'utf8')
    .split('\n')[0]!
    .trim()
    .split(/\s+/)
    .slice(1)
    .map(Number)
  return user! + nice! + system! + irq! + softirq! + (steal ?? 0)
}

/**
 * User + system CPU time of one process and of the processes it started (the workers of a
 * two-process scenario), in clock ticks (CLOCK_TICKS per second; 0 once it is gone).
 */
export function processTicks(pid: number): number {
  let own: number
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ')
    own = Number(fields[11]) + Number(fields[12]) // utime, stime
  } catch {
    return 0
  }
  let children: string[] = []
  try {
    children = readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(' ').filter(Boolean)
  } catch {
    // A kernel without the children list: the process's own time only.
  }
  return own + children.reduce((sum, child) => sum + processTicks(Number(child)), 0)
}

/**
 * How busy the machine was with processes other than the benchmark's own, or with the
 * hypervisor's (steal), in cores on average: other work on a 2-core machine skews every figure. Call `start` when the benchmark's processes
 * are up and `stop` before they end; undefined where /proc is not available.
 */
export function otherCpuMeter(): { start(pids: number[]): void; stop(pids: number[]): number | undefined } {
  const available = existsSync('/proc/stat')
  let begin = { at: 0, machine: 0, ours: 0 }
  const ours = (pids: number[]): number => pids.reduce((sum, pid) => sum + processTicks(pid), 0)
  return {
    start: (pids) => {
      if (available) begin = { at: Date.now(), machine: machineTicks(), ours: ours(pids) }
    },
    stop: (pids) => {
      if (!available) return undefined
      const others = machineTicks() - begin.machine - (ours(pids) - begin.ours)
      return Math.max(0, others / CLOCK_TICKS / ((Date.now() - begin.at) / 1000))
    },
  }
}
