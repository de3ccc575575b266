/**
 * Server CPU per request, the figure behind the HTTP ratios without the load generator's and the
 * hypervisor's noise:
 *
 *   npx tsx bench/cpu.ts [read|write] [scenario ...]
 *
 * Starts one bench/server.ts process per scenario (default: bare, stash-memory, raw-get,
 * stash-redis), pinned to core 0, plus its own redis-server, and pins itself (the load
 * generator) to core 1. Each round sends BENCH_CPU_REQUESTS requests (10,000) with 10
 * connections and one client cookie to each server in turn (forward in even rounds, backward in
 * odd ones), and reads the CPU time (user + system, from /proc/<pid>/stat) of the server and of
 * redis-server before and after. Prints the median microseconds of server CPU per request over
 * BENCH_ROUNDS rounds (7), the median of its per-round ratios to the first scenario's (each
 * round's figure over the first scenario's in the same round: this machine's speed drifts over
 * seconds, and a ratio of neighbours cancels most of it), and the median microseconds of Redis
 * CPU per request.
 * A scenario named `<scenario>@<module>` runs express-stash from another build (the path of its
 * compiled index.js, as bench/server.ts takes BENCH_STASH_MODULE): two builds in one run, side by
 * side, e.g. `stash-memory@/tmp/old/bench/.build/cjs/index.js stash-memory` for before and after.
 * Linux only (/proc, taskset).
 */
import { spawnSync } from 'node:child_process'
import { existsSync } from 'node:fs'
import { join, resolve } from 'node:path'
import autocannon from 'autocannon'
import * as support from './support.js'
import { SCENARIOS, median, type Scenario } from './support.js'

const REQUESTS = Math.round(support.envNumber('BENCH_CPU_REQUESTS', 10_000))
const ROUNDS = Math.round(support.envNumber('BENCH_ROUNDS', 7))
const WARMUP_REQUESTS = 5_000

/** Sends `amount` requests, each with `cookie`; rejects on any non-2xx answer. */
function send(url: string, cookie: string | undefined, amount: number): Promise<void> {
  return new Promise((resolve, reject) => {
    autocannon({ url, connections: 10, amount, headers: cookie === undefined ? {} : { cookie } }, (error, result) => {
      if (error) return reject(error instanceof Error ? error : new Error(String(error)))
      const failed = result.non2xx + result.errors + result.timeouts
      return failed > 0 ? reject(new Error(`${url}: ${failed} of ${amount} requests failed`)) : resolve()
    })
  })
}

async function main(): Promise<void> {
  const [route = 'read', ...named] = process.argv.slice(2)
  if (route !== 'read' && route !== 'write') throw new Error(`usage: bench/cpu.ts [read|write] [${SCENARIOS.join('|')} ...]`)
  const rows = (named.length > 0 ? named : ['bare', 'stash-memory', 'raw-get', 'stash-redis']).map((name) => {
    const at = name.indexOf('@')
    if (at < 0) return { name, scenario: name as Scenario }
    const module = resolve(name.slice(at + 1))
    if (!existsSync(module)) throw new Error(`${name}: no compiled express-stash at ${module}`)
    return { name, scenario: name.slice(0, at) as Scenario, module }
  })
  const unknown = rows.map(({ scenario }) => scenario).filter((name) => !SCENARIOS.includes(name))
  if (unknown.length > 0) throw new Error(`unknown scenarios ${unknown.join(', ')}; known: ${SCENARIOS.join(', ')}`)
  if (!support.pinned) throw new Error('bench/cpu.ts needs taskset (util-linux) to pin the processes')
  spawnSync('taskset', ['-cp', String(support.LOAD_CORE), String(process.pid)], { stdio: 'ignore' })

  const stash = support.buildStash()
  const redis = await support.startRedis()
  const servers = []
  try {
    for (const { name, scenario, module = stash.module } of rows) {
      const port = await support.freePort()
      const child = support.spawnPinned(
        support.SERVER_CORE,
        process.execPath,
        ['--import', 'tsx', join(__dirname, 'server.ts'), scenario, String(port), redis.url],
        {
          stdio: ['ignore', 'pipe', 'inherit'],
          env: { ...process.env, NODE_ENV: 'production', BENCH_STASH_MODULE: module },
        },
      )
      const base = `http://127.0.0.1:${port}`
      servers.push({
        name,
        child,
        url: `${base}/${route}`,
        cookie: undefined as string | undefined,
        samples: [] as number[],
        redisSamples: [] as number[],
      })
      await support.waitForOutput(child, 'listening')
      servers[servers.length - 1]!.cookie = (await support.obtainCookies(base, 1))[0] // none for bare Express
    }
    for (const server of servers) await send(server.url, server.cookie, WARMUP_REQUESTS)
    for (let round = 0; round < ROUNDS; round++) {
      for (const server of round % 2 === 0 ? servers : [...servers].reverse()) {
        const before = support.processTicks(server.child.pid!)
        const redisBefore = support.processTicks(redis.pid)
        await send(server.url, server.cookie, REQUESTS)
        const perRequest = (ticks: number): number => (ticks / support.CLOCK_TICKS / REQUESTS) * 1e6
        server.samples.push(perRequest(support.processTicks(server.child.pid!) - before))
        server.redisSamples.push(perRequest(support.processTicks(redis.pid) - redisBefore))
      }
    }
    console.log(
      `Server CPU per request, GET /${route}, one client, ${ROUNDS} rounds of ${REQUESTS} requests (${stash.source}):\n`,
    )
    console.log(
      '| scenario | µs per request (median) | × the first row (median of rounds) | rounds | Redis µs per request (median) |',
    )
    console.log('|---|--:|--:|---|--:|')
    const first = servers[0]!.samples
    for (const { name, samples, redisSamples } of servers) {
      const ratio = median(samples.map((sample, round) => sample / first[round]!))
      const rounds = samples.map((x) => x.toFixed(0)).join(', ')
      console.log(
        `| ${name} | ${median(samples).toFixed(1)} | ${ratio.toFixed(3)}× | ${rounds} | ${median(redisSamples).toFixed(1)} |`,
      )
    }
  } finally {
    for (const server of servers) await support.stop(server.child)
    await redis.stop()
  }
}

main().catch((error: unknown) => {
  console.error(error)
  process.exit(1)
})
