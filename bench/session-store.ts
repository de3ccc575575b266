/**
 * StashSessionStore over 1,000 sessions: how long each step of connect-redis's lifecycle takes
 * (1,000 sequential `set`, then `length`, `ids`, `all`, `clear`) on the memory adapter and on a
 * private Redis through node-redis with SCAN counts of 10 and 200, and how many SCANs `length()`
 * made. A measurement, not a test.
 *
 * Run: npx tsx bench/session-store.ts   (starts its own redis-server on a free port)
 */
import { performance } from 'node:perf_hooks'
import { createClient } from 'redis'
import { memoryAdapter, redisAdapter, type StashAdapter } from '../lib/index.js'
import { StashSessionStore } from '../lib/session-store/session-store.js'
import { startRedis } from '../__tests__/support/redis-server.js'

const SESSIONS = 1000

async function main(): Promise<void> {
  const server = await startRedis()
  const client = createClient({ url: server.url })
  await client.connect()
  const scans = async () =>
    Number(/cmdstat_scan:calls=(\d+)/.exec(String(await client.sendCommand<string>(['INFO', 'commandstats'])))?.[1] ?? 0)
  const targets: [string, StashAdapter][] = [
    ['memory', memoryAdapter()],
    ['redis, scanCount 10', redisAdapter({ client, prefix: 'bench10:', scanCount: 10 })],
    ['redis, scanCount 200', redisAdapter({ client, prefix: 'bench200:' })],
  ]
  console.log(`| adapter | ${SESSIONS} × set | length | ids | all | clear | SCANs by length() |`)
  console.log('|---|---|---|---|---|---|---|')
  for (const [name, adapter] of targets) {
    const store = new StashSessionStore({ adapter })
    const time = async <T>(fn: () => Promise<T>): Promise<[string, T]> => {
      const start = performance.now()
      const result = await fn()
      return [`${(performance.now() - start).toFixed(1)} ms`, result]
    }
    const [set] = await time(async () => {
      for (let i = 0; i < SESSIONS; i++) await store.set(`s${i}`, { cookie: { expires: new Date(Date.now() + 60_000) } } as never)
    })
    const before = await scans()
    const [length, count] = await time(() => store.length())
    const scanCalls = name === 'memory' ? '–' : String((await scans()) - before)
    const [ids] = await time(() => store.ids())
    const [all] = await time(() => store.all())
    const [clear, cleared] = await time(() => store.clear())
    if (count !== SESSIONS || cleared !== SESSIONS) throw new Error(`${name}: counted ${count}, cleared ${cleared}`)
    console.log(`| ${name} | ${set} | ${length} | ${ids} | ${all} | ${clear} | ${scanCalls} |`)
    await adapter.close()
  }
  await client.close()
  await server.stop()
}

main().catch((err) => {
  console.error(err)
  process.exit(1)
})
