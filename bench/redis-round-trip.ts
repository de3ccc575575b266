/**
 * How should one store call be sent to Redis? Compares, on one node-redis client, the Lua
 * scripts the adapter uses with MULTI and with a plain pipeline doing the same commands:
 *
 *   load:  EXISTS + HMGET 2 fields + PEXPIRE      (the read-only request)
 *   write: HSET 1 field + PEXPIRE                 (the end of a modifying request)
 *
 * Run: npx tsx bench/redis-round-trip.ts   (starts its own redis-server on a free port)
 */
import { spawn } from 'node:child_process'
import { createServer } from 'node:net'
import { createClient } from 'redis'
import { LOAD, WRITE } from '../lib/adapters/redis/redis-scripts.js'

const OPERATIONS = 40_000
const CONCURRENCY = 16
const ROUNDS = 5

async function main(): Promise<void> {
  const port = await freePort()
  const server = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], {
    stdio: 'ignore',
  })
  await new Promise((resolve) => setTimeout(resolve, 300))
  const client = createClient({ url: `redis://127.0.0.1:${port}` })
  await client.connect()
  const key = 'stash:bench'
  await client.sendCommand(['HSET', key, 'a', '1', 'b', '2'])
  await client.sendCommand(['SCRIPT', 'LOAD', LOAD.source])
  await client.sendCommand(['SCRIPT', 'LOAD', WRITE.source])

  const variants: Record<string, () => Promise<unknown>> = {
    'load: Lua script': () => client.sendCommand(['EVALSHA', LOAD.sha, '1', key, '300', 'a', 'b']),
    'load: MULTI': () =>
      client
        .multi()
        .addCommand(['EXISTS', key])
        .addCommand(['HMGET', key, 'a', 'b'])
        .addCommand(['PEXPIRE', key, '300000'])
        .exec(),
    'load: pipeline': () =>
      client
        .multi()
        .addCommand(['EXISTS', key])
        .addCommand(['HMGET', key, 'a', 'b'])
        .addCommand(['PEXPIRE', key, '300000'])
        .execAsPipeline(),
    'write: Lua script': () => client.sendCommand(['EVALSHA', WRITE.sha, '1', key, '300', '0', '0', 'a', '3']),
    'write: MULTI': () => client.multi().addCommand(['HSET', key, 'a', '3']).addCommand(['PEXPIRE', key, '300000']).exec(),
    'write: pipeline': () =>
      client.multi().addCommand(['HSET', key, 'a', '3']).addCommand(['PEXPIRE', key, '300000']).execAsPipeline(),
  }

  const redisCpu = async (): Promise<number> => {
    const info = String(await client.sendCommand<string>(['INFO', 'cpu']))
    return Number(/used_cpu_user:([\d.]+)/.exec(info)![1]) + Number(/used_cpu_sys:([\d.]+)/.exec(info)![1])
  }
  const results: { name: string; opsPerSecond: number; nodeMicros: number; redisMicros: number }[] = []
  for (const [name, run] of Object.entries(variants)) {
    await throughput(run, 2_000) // warm-up
    const rounds: { opsPerSecond: number; nodeMicros: number; redisMicros: number }[] = []
    for (let i = 0; i < ROUNDS; i++) {
      const node = process.cpuUsage()
      const redis = await redisCpu()
      const opsPerSecond = await throughput(run, OPERATIONS)
      const used = process.cpuUsage(node)
      rounds.push({
        opsPerSecond,
        nodeMicros: (used.user + used.system) / OPERATIONS,
        redisMicros: (((await redisCpu()) - redis) * 1e6) / OPERATIONS,
      })
    }
    rounds.sort((a, b) => a.opsPerSecond - b.opsPerSecond)
    results.push({ name, ...rounds[Math.floor(ROUNDS / 2)]! })
  }
  console.log(`| variant | ops/s (median of ${ROUNDS}) | vs Lua | Node CPU µs/op | Redis CPU µs/op |`)
  console.log('|---|---|---|---|---|')
  for (const { name, opsPerSecond, nodeMicros, redisMicros } of results) {
    const lua = results.find((r) => r.name === `${name.split(':')[0]}: Lua script`)!
    console.log(
      `| ${name} | ${Math.round(opsPerSecond)} | ${(opsPerSecond / lua.opsPerSecond).toFixed(2)}× | ${nodeMicros.toFixed(1)} | ${redisMicros.toFixed(1)} |`,
    )
  }
  await client.close()
  server.kill()
}

async function throughput(run: () => Promise<unknown>, operations: number): Promise<number> {
  let next = 0
  const started = process.hrtime.bigint()
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (next++ < operations) await run()
    }),
  )
  return operations / (Number(process.hrtime.bigint() - started) / 1e9)
}

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const probe = createServer().listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as { port: number }
      probe.close(() => resolve(port))
    })
  })
}

void main()
