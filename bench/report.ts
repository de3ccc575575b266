/**
 * The report of the HTTP benchmark (bench/run.ts): the markdown written to
 * bench/results/latest.md, with the machine, the method and the exact command, and the
 * chart of the same rows (bench/chart.ts).
 */
import { readFileSync } from 'node:fs'
import { cpus, release, totalmem } from 'node:os'
import { join } from 'node:path'
import { PAYLOAD_KEYS, REDIS_SCENARIOS, type Scenario } from './support.js'

/** One measured combination: medians over the rounds. */
export interface Row {
  scenario: Scenario
  route: 'read' | 'write'
  /** `one`: every request with the same cookie; `many`: CLIENTS cookies, round robin. */
  clients: 'one' | 'many'
  requestsPerSecond: number
  /** Milliseconds. */
  p50: number
  p99: number
  /** Requests per second of each round, in the order they ran. */
  rounds: number[]
  /** Cores used by other processes of the machine during each round. */
  otherCores: number[]
  /** Failed requests over all rounds (non-2xx, connection errors, timeouts). */
  failures: number
  /** Redis scenarios: every command Redis ran per request, those run by scripts included. */
  commands?: number
  /** Redis scenarios: commands sent per request, i.e. network round trips. */
  roundTrips?: number
  /** Redis scenarios: calls per request of each command. */
  each?: Record<string, number>
}

/** How and where the run happened. */
export interface RunInfo {
  date: string
  command: string
  seconds: number
  settings: { duration: number; rounds: number; warmup: number; connections: number; clients: number }
  redisVersion: string
  /** Which express-stash was measured. */
  stashSource: string
  pinned: boolean
  /** Cores used on average by other processes of the machine during the run (Linux only). */
  otherCores?: number
  /** Rounds measured again because other processes used more than `disturbed` cores meanwhile. */
  repeated: number
  disturbed: number
}

/** What each scenario is called in the report. */
export const LABELS: Record<Scenario, string> = {
  bare: 'bare Express',
  'bare-middleware': 'bare Express + a no-op middleware',
  'session-memory': 'express-session + MemoryStore',
  'session-redis': 'express-session + connect-redis',
  'raw-get': 'raw node-redis GET',
  'raw-get-set': 'raw node-redis GET + SET',
  'stash-memory': 'express-stash memory',
  'stash-memory-traced': 'express-stash memory, traced',
  'stash-redis': 'express-stash Redis',
  'stash-redis-cache': 'express-stash Redis, near cache',
  'stash-redis-cache-2p': 'express-stash Redis, near cache, 2 processes',
  'payload-session-redis': `connect-redis, ${PAYLOAD_KEYS} keys × 10 KB`,
  'payload-stash-redis': `express-stash Redis, ${PAYLOAD_KEYS} keys × 10 KB`,
}

/**
 * The row each row is compared with: connect-redis for Redis-backed rows, MemoryStore for the
 * others, and the traced row with the same stash without a subscriber (the cost of tracing).
 */
export function peerOf(scenario: Scenario): Scenario | undefined {
  if (scenario === 'payload-stash-redis') return 'payload-session-redis'
  if (scenario === 'stash-memory-traced') return 'stash-memory'
  if (scenario.startsWith('bare') || scenario === 'session-memory' || scenario.includes('session-redis')) return undefined
  return REDIS_SCENARIOS.includes(scenario) ? 'session-redis' : 'session-memory'
}

/** The label of a client mode. */
export function clientsLabel(clients: Row['clients'], info: RunInfo): string {
  return clients === 'one' ? '1 cookie' : `${info.settings.clients} clients`
}

/** One line describing the machine. */
export function machine(info: RunInfo): string {
  const cpu = cpus()
  const memory = Math.round(totalmem() / 2 ** 30)
  return `${cpu[0]?.model.trim() ?? 'unknown CPU'}, ${cpu.length} cores, ${memory} GiB, Linux ${release()}, Node ${process.version}, Redis ${info.redisVersion}`
}

function version(name: string): string {
  try {
    return (JSON.parse(readFileSync(join(__dirname, '..', 'node_modules', name, 'package.json'), 'utf8')) as { version: string })
      .version
  } catch {
    return '?'
  }
}

const number = (value: number, digits = 2): string => value.toFixed(digits)
const rate = (value: number): string => Math.round(value).toLocaleString('en-US')
const ms = (value: number): string => (Number.isInteger(value) ? String(value) : value.toFixed(2))

/** The rows in table order: route, then client mode, then scenario. */
export function ordered(rows: Row[]): Row[] {
  const key = (row: Row): string => `${row.route}|${row.clients === 'one' ? 0 : 1}`
  const scenarios = Object.keys(LABELS)
  return [...rows].sort((a, b) => key(a).localeCompare(key(b)) || scenarios.indexOf(a.scenario) - scenarios.indexOf(b.scenario))
}

/** The results table (one line per row). */
export function markdownTable(info: RunInfo, rows: Row[]): string {
  const lines = [
    '| scenario | route | clients | req/s | p50 ms | p99 ms | × bare Express | × peer | Redis commands/request | round trips/request |',
    '|---|---|---|--:|--:|--:|--:|--:|--:|--:|',
  ]
  const find = (scenario: Scenario | undefined, row: Row): Row | undefined =>
    rows.find((other) => other.scenario === scenario && other.route === row.route && other.clients === row.clients)
  for (const row of ordered(rows)) {
    const bare = find('bare', row)
    const peer = find(peerOf(row.scenario), row)
    const cells = [
      LABELS[row.scenario],
      `/${row.route}`,
      clientsLabel(row.clients, info),
      rate(row.requestsPerSecond) + (row.failures > 0 ? ` (${row.failures} failed)` : ''),
      ms(row.p50),
      ms(row.p99),
      bare ? `${number(row.requestsPerSecond / bare.requestsPerSecond)}×` : '—',
      peer ? `${number(row.requestsPerSecond / peer.requestsPerSecond)}×` : '—',
      row.commands === undefined ? '—' : number(row.commands),
      row.roundTrips === undefined ? '—' : number(row.roundTrips),
    ]
    lines.push(`| ${cells.join(' | ')} |`)
  }
  return lines.join('\n')
}

/** Per Redis row, what Redis ran per request, command by command. */
export function commandTable(info: RunInfo, rows: Row[]): string {
  const lines = ['| scenario | route | clients | calls per request |', '|---|---|---|---|']
  for (const row of ordered(rows)) {
    if (row.each === undefined) continue
    const calls = Object.entries(row.each)
      .filter(([, perRequest]) => perRequest >= 0.005)
      .map(([name, perRequest]) => `${name.toUpperCase()} ${number(perRequest)}`)
    lines.push(`| ${LABELS[row.scenario]} | /${row.route} | ${clientsLabel(row.clients, info)} | ${calls.join(', ') || 'none'} |`)
  }
  return lines.join('\n')
}

/** Per row, the requests per second of each round: how much the medians could move. */
export function roundsTable(info: RunInfo, rows: Row[]): string {
  const lines = [
    '| scenario | route | clients | req/s of each round | spread | cores taken by others |',
    '|---|---|---|---|--:|---|',
  ]
  for (const row of ordered(rows)) {
    const spread = (Math.max(...row.rounds) - Math.min(...row.rounds)) / row.requestsPerSecond
    const others = row.otherCores.map((cores) => cores.toFixed(2)).join(', ')
    const cells = [LABELS[row.scenario], `/${row.route}`, clientsLabel(row.clients, info), row.rounds.map(rate).join(', ')]
    lines.push(`| ${cells.join(' | ')} | ${Math.round(spread * 100)}% | ${others} |`)
  }
  return lines.join('\n')
}

/** The whole of bench/results/latest.md. */
export function renderMarkdown(info: RunInfo, rows: Row[]): string {
  const { duration, rounds, warmup, connections, clients } = info.settings
  const packages = ['express', 'express-session', 'connect-redis', 'redis', 'autocannon'].map(
    (name) => `${name} ${version(name)}`,
  )
  return `# HTTP benchmark: express-stash and its peers

Run on ${info.date.replace('T', ' ').slice(0, 16)} UTC with \`${info.command}\`, which took ${(info.seconds / 60).toFixed(1)} min.

- **Machine:** ${machine(info)}.
- **Packages:** express-stash from ${info.stashSource}; ${packages.join(', ')}.
- **Processes:** ${info.pinned ? 'each app server pinned to core 0 (`taskset -c 0`); the load generator (autocannon) and redis-server on core 1' : 'not pinned to cores (taskset was not found)'}; all traffic on loopback.${
    info.otherCores === undefined
      ? ''
      : ` Other processes and the hypervisor (steal) took ${info.otherCores.toFixed(2)} cores on average during the run.`
  }
- **Method:** per row, a ${warmup} s warm-up, then ${rounds} rounds of ${duration} s with ${connections} connections, interleaved with the other rows' rounds; each figure is the median of the rounds.
  \`1 cookie\`: every request is the same client. \`${clients} clients\`: ${clients} cookies, each request carrying the next one.
  Every client's cookie was obtained first with one \`GET /setup\` (bare Express sets none, so its requests carry none).
  \`/read\` reads a counter; \`/write\` increments it.
  Payload rows: each client's state holds ${PAYLOAD_KEYS} keys of 10,000 characters (about 1 MB), stored by its \`/setup\`; the routes read and write one of them, which holds the counter.
  express-session loads and saves the whole session on every request; express-stash's routes declare only that one key.
- **× peer:** compared with express-session + connect-redis for Redis-backed rows, with express-session + MemoryStore for the others; the traced row (a subscriber on both tracing channels) with express-stash memory.
- **Redis counters:** \`CONFIG RESETSTAT\` before each round, \`INFO commandstats\` after it, divided by the requests served.
  Commands include those run inside Lua scripts; round trips are the commands sent (for express-stash, its write scripts, \`EVALSHA\`, and its loads, one \`HMGET\` each).
- **Raw rows:** the floor of a 1- and a 2-round-trip design: one \`GET\` (or one \`GET\` and one \`SET\`) per request on both routes.

![requests per second per scenario](latest.svg)

${markdownTable(info, rows)}

## What Redis ran per request

Medians over the rounds, from \`INFO commandstats\`, which counts the commands run inside scripts.

${commandTable(info, rows)}

## Rounds

The spread is (fastest − slowest round) ÷ median. The last column is the CPU that other processes of the machine and
the hypervisor (steal) took during each round; ${info.repeated} round(s) during which they took more than ${info.disturbed} cores were measured again.

${roundsTable(info, rows)}
`
}
