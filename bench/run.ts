/**
 * `npm run bench`: express-stash side by side with its peers, in one run, on loopback.
 *
 * Starts its own redis-server (a free port, no persistence), then one server process per
 * scenario of bench/server.ts, all pinned to core 0, and drives them one at a time from a load
 * generator process pinned to core 1 (bench/load.ts, autocannon), which redis-server shares.
 * Each scenario × route (`/read`, `/write`) × client mode gets one warm-up of WARMUP seconds,
 * then ROUNDS measured rounds of DURATION seconds with CONNECTIONS connections, the rounds of
 * all scenarios interleaved; the report gives the median of each figure over the rounds.
 * On Redis scenarios, Redis's own counters are zeroed before each round (`CONFIG RESETSTAT`)
 * and read after it (`INFO commandstats`), then divided by the requests served.
 *
 * Client modes. Both send cookies obtained beforehand with one `GET /write` each:
 *   one    every request carries the same cookie: one client, one hot record;
 *   many   CLIENTS cookies (100), the next one on every request, round robin across the
 *          connections: that many distinct clients with live records in the store.
 * Visitors without a cookie are not a mode: on /read they cost no store call in either library
 * (saveUninitialized: false; express-stash stores nothing), and on /write every request would
 * create a new record, a sign-up storm rather than traffic of returning clients.
 *
 * Environment: BENCH_DURATION (seconds, 5), BENCH_ROUNDS (3), BENCH_WARMUP (seconds, 2),
 * BENCH_CONNECTIONS (10), BENCH_CLIENTS (100), BENCH_SCENARIOS (comma-separated names, all).
 * Then the memory adapter at scale (bench/memory-sweep.ts, cleanupBatchSize 100 and 1000) and the
 * server CPU per request of the main scenarios in paired rounds (bench/cpu.ts), whose tables are
 * appended to the report.
 * Writes bench/results/latest.md and bench/results/latest.svg (see bench/report.ts), or the same
 * two files into the directory BENCH_RESULTS names, so that a shorter run leaves the published ones be.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import type { LoadJob, LoadResult } from './load.js'
import { renderSvg } from './chart.js'
import { renderMarkdown, type Row, type RunInfo } from './report.js'
import * as support from './support.js'
import { REDIS_SCENARIOS, SCENARIOS, median, type Scenario } from './support.js'

const DURATION = support.envNumber('BENCH_DURATION', 5)
const ROUNDS = Math.round(support.envNumber('BENCH_ROUNDS', 3))
const WARMUP = support.envNumber('BENCH_WARMUP', 2)
const CONNECTIONS = Math.round(support.envNumber('BENCH_CONNECTIONS', 10))
const CLIENTS = Math.round(support.envNumber('BENCH_CLIENTS', 100))
const DISTURBED = 0.25 // cores used by other processes during a round
const TSX = ['--import', 'tsx']

/** The scenarios to run, from BENCH_SCENARIOS or all of them. */
function selectedScenarios(): Scenario[] {
  const wanted = process.env.BENCH_SCENARIOS?.split(',')
    .map((name) => name.trim())
    .filter(Boolean)
  if (wanted === undefined || wanted.length === 0) return [...SCENARIOS]
  const unknown = wanted.filter((name) => !SCENARIOS.includes(name as Scenario))
  if (unknown.length > 0) throw new Error(`unknown BENCH_SCENARIOS ${unknown.join(', ')}; known: ${SCENARIOS.join(', ')}`)
  return SCENARIOS.filter((name) => wanted.includes(name))
}

/** The load generator process (bench/load.ts). */
interface LoadGenerator {
  pid: number
  run(job: LoadJob): Promise<LoadResult>
  stop(): Promise<void>
}

/** Starts the load generator, pinned to its core; it takes one job at a time over IPC. */
async function startLoadGenerator(): Promise<LoadGenerator> {
  // fork() cannot prefix taskset, so the child is spawned through it with an IPC channel.
  const child: ChildProcess = support.spawnPinned(support.LOAD_CORE, process.execPath, [...TSX, join(__dirname, 'load.ts')], {
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  })
  type Message = { ready?: true; result?: LoadResult; error?: string }
  const next = (): Promise<Message> =>
    new Promise((resolve, reject) => {
      const onExit = (code: number | null) => reject(new Error(`load generator exited with ${code}`))
      child.once('exit', onExit)
      child.once('message', (message: Message) => {
        child.off('exit', onExit)
        resolve(message)
      })
    })
  await next()
  return {
    pid: child.pid!,
    run: async (job) => {
      const answer = next()
      child.send(job)
      const { result, error } = await answer
      if (result === undefined) throw new Error(`load generator: ${error}`)
      return result
    },
    stop: () => support.stop(child),
  }
}

/** One server process under test, with the cookies of its clients. */
interface Target {
  scenario: Scenario
  base: string
  cookies: string[]
  process: ChildProcess
}

/** One row in the making: a target, a route and a client mode, and its rounds so far. */
interface Cell {
  target: Target
  route: Row['route']
  clients: Row['clients']
  job: LoadJob
  rounds: Round[]
}

/** One measured round; `otherCores`: the CPU other processes of the machine used meanwhile. */
type Round = LoadResult & Partial<support.RedisCosts> & { otherCores: number }

async function startServer(scenario: Scenario, redisUrl: string, stashModule: string): Promise<Target> {
  const port = await support.freePort()
  const args = [...TSX, join(__dirname, 'server.ts'), scenario, String(port), redisUrl]
  const child = support.spawnPinned(support.SERVER_CORE, process.execPath, args, {
    stdio: ['ignore', 'pipe', 'inherit'],
    env: { ...process.env, NODE_ENV: 'production', BENCH_STASH_MODULE: stashModule },
  })
  const target = { scenario, base: `http://127.0.0.1:${port}`, cookies: [], process: child }
  await support.waitForOutput(child, 'listening')
  return { ...target, cookies: await support.obtainCookies(target.base, CLIENTS) }
}

/** One measured round of a cell, with Redis's counters when the scenario uses Redis. */
async function measureRound(cell: Cell, load: LoadGenerator, redis: support.BenchRedis, pids: () => number[]): Promise<Round> {
  const counted = REDIS_SCENARIOS.includes(cell.target.scenario)
  if (counted) await redis.resetStats()
  const meter = support.otherCpuMeter()
  meter.start(pids())
  const result = await load.run(cell.job)
  const otherCores = meter.stop(pids()) ?? 0
  return { ...result, otherCores, ...(counted && support.perRequest(await redis.commandStats(), result.sent)) }
}

/** The row of a cell: the median of each figure over its rounds. */
function summarize({ target, route, clients, rounds }: Cell): Row {
  const mid = (pick: (round: Cell['rounds'][number]) => number): number => median(rounds.map(pick))
  const names = [...new Set(rounds.flatMap((round) => Object.keys(round.each ?? {})))].sort()
  return {
    scenario: target.scenario,
    route,
    clients,
    requestsPerSecond: mid((round) => round.requestsPerSecond),
    p50: mid((round) => round.p50),
    p99: mid((round) => round.p99),
    rounds: rounds.map((round) => round.requestsPerSecond),
    otherCores: rounds.map((round) => round.otherCores),
    failures: rounds.reduce((sum, round) => sum + round.failures, 0),
    ...(rounds[0]?.commands !== undefined && {
      commands: mid((round) => round.commands!),
      roundTrips: mid((round) => round.roundTrips!),
      each: Object.fromEntries(names.map((name) => [name, mid((round) => round.each![name] ?? 0)])),
    }),
  }
}

async function main(): Promise<void> {
  const started = Date.now()
  const scenarios = selectedScenarios()
  const minutes = (scenarios.length * 4 * (WARMUP + ROUNDS * DURATION)) / 60
  console.log(`${scenarios.length} scenarios × 2 routes × 2 client modes, about ${minutes.toFixed(1)} min of load`)
  if (!support.pinned) console.warn('taskset not found: processes are not pinned to cores (install util-linux)')
  const stash = support.buildStash()
  const redis = await support.startRedis()
  const load = await startLoadGenerator()
  const targets: Target[] = []
  const cells: Cell[] = []
  const meter = support.otherCpuMeter()
  const pids = (): number[] => [process.pid, load.pid, redis.pid, ...targets.map((target) => target.process.pid!)]
  let otherCores: number | undefined
  // A round during which other processes kept more than DISTURBED of a core busy is measured
  // again at the end, within a budget of a tenth of the rounds, so that a busy machine cannot
  // stretch the run much.
  let repeatsLeft = Math.ceil((scenarios.length * 4 * ROUNDS) / 10)
  let repeated = 0
  try {
    // Every server is up for the whole run (idle ones cost nothing), so that the rounds of all
    // scenarios can be interleaved: a slow spell of this machine then lands on one round of
    // several scenarios, which the medians drop, instead of on every round of one scenario.
    for (const scenario of scenarios) targets.push(await startServer(scenario, redis.url, stash.module))
    for (const route of ['read', 'write'] as const) {
      for (const clients of ['one', 'many'] as const) {
        for (const target of targets) {
          const cookies = clients === 'one' ? target.cookies.slice(0, 1) : target.cookies
          const job = { url: `${target.base}/${route}`, connections: CONNECTIONS, duration: DURATION, cookies }
          cells.push({ target, route, clients, job, rounds: [] })
        }
      }
    }
    meter.start(pids())
    for (const cell of cells) await load.run({ ...cell.job, duration: WARMUP }) // JIT, caches, connections
    const queue: Cell[] = []
    for (let round = 0; round < ROUNDS; round++) {
      for (let index = 0; index < cells.length; index++) {
        // Within each route and client mode, the scenarios take turns at going first.
        const group = Math.floor(index / targets.length) * targets.length
        queue.push(cells[group + ((index - group + round) % targets.length)]!)
      }
    }
    for (let cell = queue.shift(); cell !== undefined; cell = queue.shift()) {
      const last = await measureRound(cell, load, redis, pids)
      const figures = `${Math.round(last.requestsPerSecond)} req/s, p50 ${last.p50.toFixed(2)} ms, p99 ${last.p99.toFixed(2)} ms`
      const notes = `${last.failures > 0 ? `, ${last.failures} FAILED` : ''}, others ${last.otherCores.toFixed(2)} cores`
      const name = `round ${cell.rounds.length + 1}/${ROUNDS} /${cell.route} ${cell.clients} ${cell.target.scenario}`
      console.log(`${name}: ${figures}${notes}`)
      if (last.otherCores > DISTURBED && repeatsLeft-- > 0) {
        repeated++
        queue.push(cell) // later, when the disturbance may be over
        console.log('  disturbed by other processes: to be measured again at the end')
      } else {
        cell.rounds.push(last)
      }
    }
    otherCores = meter.stop(pids())
  } finally {
    await Promise.all(targets.map((target) => support.stop(target.process)))
    await load.stop()
    await redis.stop()
  }
  console.log('\nmemory adapter at scale (bench/memory-sweep.ts)')
  const memory = await printedBy('memory-sweep.ts', [], MEMORY_SETTINGS)
  console.log('\nserver CPU per request, paired (bench/cpu.ts)')
  const cpu = []
  for (const [route, scenarios] of CPU_SCENARIOS) cpu.push(await printedBy('cpu.ts', [route, ...scenarios], CPU_SETTINGS))
  const rows = cells.map(summarize)
  const info: RunInfo = {
    date: new Date().toISOString(),
    command: commandLine(),
    seconds: (Date.now() - started) / 1000,
    settings: { duration: DURATION, rounds: ROUNDS, warmup: WARMUP, connections: CONNECTIONS, clients: CLIENTS },
    redisVersion: redis.version,
    stashSource: stash.source,
    pinned: support.pinned,
    otherCores,
    repeated,
    disturbed: DISTURBED,
  }
  if ((otherCores ?? 0) > 0.1)
    console.warn(`other processes and steal took ${otherCores!.toFixed(2)} cores during the run: figures are skewed`)
  const results = process.env.BENCH_RESULTS ?? join(__dirname, 'results')
  mkdirSync(results, { recursive: true })
  const markdown = `${renderMarkdown(info, rows)}
## Memory adapter at scale

\`${MEMORY_COMMAND}\`, in the same run:

${memory}

## Server CPU per request, paired

${CPU_COMMANDS}, in the same run. The scenarios take turns in short rounds (forward, then
backward), and each ratio is the median of the per-round ratios to the first row: the figure
least moved by this machine's drifts in speed, which the rounds above spread over minutes.

${cpu.join('\n\n')}`
  writeFileSync(join(results, 'latest.md'), markdown)
  writeFileSync(join(results, 'latest.svg'), renderSvg(info, rows))
  console.log(`\n${markdown}`)
  console.log(`written: ${join(results, 'latest.md')}, ${join(results, 'latest.svg')} (${(info.seconds / 60).toFixed(1)} min)`)
}

/** `NAME=value ...` of a script's settings. */
const settingsOf = (env: Record<string, string>): string =>
  Object.entries(env)
    .map(([name, value]) => `${name}=${value}`)
    .join(' ')
const MEMORY_SETTINGS = { BENCH_SWEEP_BATCHES: '100,1000', BENCH_SWEEP_REPEATS: '3' }
const MEMORY_COMMAND = `${settingsOf(MEMORY_SETTINGS)} npx tsx bench/memory-sweep.ts`
// The rounds are short and many: neighbouring rounds of two scenarios see the machine at one speed.
const CPU_SETTINGS = { BENCH_CPU_REQUESTS: '4000', BENCH_ROUNDS: '15' }
const CPU_SCENARIOS = [
  ['read', ['bare', 'bare-middleware', 'stash-memory', 'raw-get', 'stash-redis', 'stash-redis-cache', 'session-redis']],
  ['write', ['bare', 'bare-middleware', 'stash-memory', 'raw-get-set', 'stash-redis', 'stash-redis-cache', 'session-redis']],
] as const
const CPU_COMMANDS = CPU_SCENARIOS.map(
  ([route, scenarios]) => `\`${settingsOf(CPU_SETTINGS)} npx tsx bench/cpu.ts ${route} ${scenarios.join(' ')}\``,
).join(' and ')

/** Runs another bench script with `args` and `env` added, echoes its output, and resolves to it. */
function printedBy(script: string, args: readonly string[], env: Record<string, string>): Promise<string> {
  const child = spawn(process.execPath, [...TSX, join(__dirname, script), ...args], {
    stdio: ['ignore', 'pipe', 'inherit'],
    env: { ...process.env, ...env },
  })
  let output = ''
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
    output += chunk
    process.stdout.write(chunk)
  })
  return new Promise((resolve, reject) =>
    child.once('exit', (code) => (code === 0 ? resolve(output.trim()) : reject(new Error(`${script} exited with ${code}`)))),
  )
}

/** The command that reproduces this run, BENCH_* settings included. */
function commandLine(): string {
  const settings = Object.entries(process.env)
    .filter(([name]) => name.startsWith('BENCH_'))
    .map(([name, value]) => `${name}=${value}`)
  const command = process.env.npm_lifecycle_event === 'bench' ? 'npm run bench' : 'npx tsx bench/run.ts'
  return [...settings.sort(), command].join(' ')
}

main().catch((error: unknown) => {
  console.error(error)
  process.exit(1)
})
