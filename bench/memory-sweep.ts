/**
 * The memory adapter at scale, a measurement (not a test):
 *
 *   1. heap bytes per record, for 1,000,000 one-field records (total, and overhead beyond the strings);
 *   2. a sweep of 1,000,000 expired records: its duration, and how long it holds the event loop,
 *      for several `cleanupBatchSize` values (the default 100, 1000, 10000, and one step as reference);
 *   3. the machine's floor: the longest event-loop gap with no sweep running, over the same heap.
 *
 * Run: npx tsx bench/memory-sweep.ts   (about two and a half minutes, ~1 GiB of heap; `npm run bench` runs it too)
 *
 * The measurement itself runs in a child process on plain `node --expose-gc`, from JavaScript that
 * tsc compiles from this file and lib/ (into bench/.build/sweep): tsx's module loader runs on a
 * thread of its own in the measured process, and its garbage collections there showed up as
 * stalls of 10–50 ms in the event loop, which the library does not cause and users never pay.
 *
 * Environment: BENCH_SWEEP_BATCHES (comma-separated cleanupBatchSize values, `100,1000,10000,1000000`),
 * BENCH_SWEEP_REPEATS (sweeps per batch size, 3).
 */
import { spawn, spawnSync } from 'node:child_process'
import { createHash, randomBytes } from 'node:crypto'
import os from 'node:os'
import { join } from 'node:path'
import { monitorEventLoopDelay, performance, PerformanceObserver } from 'node:perf_hooks'
import { setTimeout as sleep } from 'node:timers/promises'
import { memoryAdapter, type MemoryAdapter } from '../lib/adapters/memory/memory.js'
import { createCodec } from '../lib/values/codec.js'

const RECORDS = 1_000_000
const WRITE_BATCH = 10_000
const BATCH_SIZES = (process.env.BENCH_SWEEP_BATCHES ?? `100,1000,10000,${RECORDS}`).split(',').map(Number)
const REPEATS = Number(process.env.BENCH_SWEEP_REPEATS ?? 3) // sweeps per batch size; the table shows medians
const FIELD = 'count'
/** The sweep and the heap per record are measured here, not the budget: nothing may be evicted. */
const UNBOUNDED = Number.MAX_SAFE_INTEGER
const JSON_VALUE = '123'
const HOUR = 3_600_000 // cleanupInterval: no periodic sweep during a phase
const SWEEPER_SETTLE_MS = 500 // after forced collections, before a measurement (see sweepRun)

// V8 string sizes: a sequential one-byte string is a header (map pointer + 32-bit hash + 32-bit
// length) and its characters, rounded up to the object alignment (the pointer size).
const buildFlags = process.config.variables as unknown as Record<string, unknown>
const compressed = Number(buildFlags['v8_enable_pointer_compression'] ?? 0) === 1
const TAGGED = compressed ? 4 : 8
const seqOneByteString = (length: number): number => Math.ceil((TAGGED + 8 + length) / TAGGED) * TAGGED
const KEY_CHARS = 43 // a record key: sha256 base64url, as recordKeyOf() makes it
const VALUE_CHARS = 22 + 1 + JSON_VALUE.length // `<22-char MAC>.<json>`, as the codec makes it
// The field name is one internalized string literal shared by every record: 0 bytes per record.
const DATA_BYTES = seqOneByteString(KEY_CHARS) + seqOneByteString(VALUE_CHARS)

type MakeValue = (key: string, random: Buffer, slot: number) => string

/** A flat (sequential) one-byte string `<22 base64url chars>.123`, built through a scratch buffer. */
const scratch = Buffer.from('x'.repeat(22) + '.' + JSON_VALUE, 'latin1')
const flatValue: MakeValue = (_key, random, slot) => {
  scratch.write(random.toString('base64url', slot * 16, slot * 16 + 16), 0, 'latin1')
  return scratch.toString('latin1')
}

/** The value exactly as express-stash stores it: the codec's `mac + tag + '.' + json`. */
const codec = createCodec(['memory-sweep bench secret, not a real one'], undefined)
const codecValue: MakeValue = (key) => codec.encode(key, FIELD, JSON.stringify(123))

const keyOf = (i: number): string => createHash('sha256').update(`record ${i}`).digest('base64url')

/** Writes RECORDS one-field records; `keys` (precomputed, for the repeated sweeps) saves hashing them again. */
async function fill(adapter: MemoryAdapter, ttl: number, makeValue: MakeValue, keys?: readonly string[]): Promise<void> {
  for (let start = 0; start < RECORDS; start += WRITE_BATCH) {
    const random = randomBytes(16 * WRITE_BATCH)
    const pending: Promise<unknown>[] = []
    const expiresAt = { [FIELD]: Date.now() + ttl * 1000 }
    for (let i = start; i < Math.min(RECORDS, start + WRITE_BATCH); i++) {
      const key = keys?.[i] ?? keyOf(i)
      pending.push(adapter.write(key, { set: { [FIELD]: makeValue(key, random, i - start) }, del: [], expiresAt }))
    }
    await Promise.all(pending)
  }
  if (adapter.size !== RECORDS) throw new Error(`filled ${adapter.size} records, expected ${RECORDS}`)
}

function settle(): void {
  global.gc!()
  global.gc!()
}

interface HeapResult {
  label: string
  perRecord: number
  overhead: number
  fillSeconds: number
}

async function heapPerRecord(label: string, makeValue: MakeValue): Promise<HeapResult> {
  const adapter = memoryAdapter({ cleanupInterval: HOUR, maxMemory: UNBOUNDED })
  settle()
  const before = process.memoryUsage().heapUsed
  const started = performance.now()
  await fill(adapter, 3_600, makeValue)
  const fillSeconds = (performance.now() - started) / 1000
  settle()
  const perRecord = (process.memoryUsage().heapUsed - before) / adapter.size
  await adapter.close()
  return { label, perRecord, overhead: perRecord - DATA_BYTES, fillSeconds }
}

interface SweepResult {
  batchSize: number
  removed: number
  sweepMs: number
  yields: number
  turns: number
  eldMax: number
  eldP99: number
  samplerMax: number
  samplerP99: number
  longestGapAt: number
  gcMax: number
  gcTotal: number
}

/** The largest value (without spreading: the sampler records hundreds of thousands of gaps). */
const maxOf = (values: readonly number[]): number => values.reduce((a, b) => Math.max(a, b), 0)

const percentile = (values: number[], p: number): number => {
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? 0
}

async function sweepRun(batchSize: number, keys: readonly string[]): Promise<SweepResult> {
  const adapter = memoryAdapter({ cleanupInterval: HOUR, cleanupBatchSize: batchSize, maxMemory: UNBOUNDED })
  await fill(adapter, 1, flatValue, keys)
  await sleep(1_100) // the last record written expires 1 s after its write
  settle()
  // The forced collections leave V8 sweeping the old generation on a helper thread; the first
  // allocation that needs it finished waits for it on the main thread. Let it finish first, as it
  // has long finished when a periodic sweep starts in a running application.
  await sleep(SWEEPER_SETTLE_MS)
  const examined = adapter.size

  const gcPauses: { start: number; duration: number }[] = []
  const observer = new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) gcPauses.push({ start: entry.startTime, duration: entry.duration })
  })
  observer.observe({ entryTypes: ['gc'] })
  const histogram = monitorEventLoopDelay({ resolution: 1 })

  // Own sampler: a setImmediate chain, one tick per event-loop turn; the gap between ticks is a turn's length.
  // The records left at the end of each gap show where in the sweep the longest stall happened.
  const gaps: number[] = []
  const left: number[] = []
  let sampling = true
  let last = 0
  const tick = (): void => {
    const now = performance.now()
    gaps.push(now - last)
    left.push(adapter.size)
    last = now
    if (sampling) setImmediate(tick)
  }

  // The histogram records the interval between ticks of a 1-ms timer, from its second tick on: let it tick first.
  histogram.enable()
  await sleep(5)
  last = performance.now()
  setImmediate(tick)
  const started = performance.now()
  const removed = await adapter.sweep()
  const ended = performance.now()
  sampling = false // the tick already queued records the last turn of the sweep, then the chain stops
  await sleep(1) // one timers phase, so that the histogram also records a stall the sweep ended with
  histogram.disable()
  await sleep(50) // let the gc entries arrive
  observer.disconnect()
  if (adapter.size !== 0) throw new Error(`${adapter.size} records left after the sweep`)
  await adapter.close()

  const during = gcPauses.filter((gc) => gc.start >= started && gc.start <= ended)
  return {
    batchSize,
    removed,
    sweepMs: ended - started,
    yields: Math.floor(examined / batchSize), // sweepAll() yields after every `cleanupBatchSize` records examined
    turns: gaps.length,
    eldMax: histogram.max / 1e6,
    eldP99: histogram.percentile(99) / 1e6,
    samplerMax: maxOf(gaps),
    longestGapAt: left[gaps.indexOf(maxOf(gaps))] ?? 0,
    samplerP99: percentile(gaps, 99),
    gcMax: Math.max(0, ...during.map((gc) => gc.duration)),
    gcTotal: during.reduce((sum, gc) => sum + gc.duration, 0),
  }
}

/**
 * The machine's own floor: the same setImmediate sampler for as long as a sweep takes, over the same
 * million live records, with no sweep running. Its longest gap is what the host (scheduler, hypervisor
 * steal, interrupts, GC of this heap) injects on its own; a sweep's stall is only as good as this floor.
 */
async function floorRuns(keys: readonly string[], durationMs: number): Promise<{ max: number; p99: number }[]> {
  const adapter = memoryAdapter({ cleanupInterval: HOUR, maxMemory: UNBOUNDED })
  await fill(adapter, 3_600, flatValue, keys)
  const runs: { max: number; p99: number }[] = []
  for (let i = 0; i < REPEATS; i++) {
    settle()
    await sleep(SWEEPER_SETTLE_MS)
    const gaps: number[] = []
    await new Promise<void>((resolve) => {
      let last = performance.now()
      const end = last + durationMs
      const tick = (): void => {
        const now = performance.now()
        gaps.push(now - last)
        last = now
        if (now < end) setImmediate(tick)
        else resolve()
      }
      setImmediate(tick)
    })
    runs.push({ max: maxOf(gaps), p99: percentile(gaps, 99) })
  }
  await adapter.close()
  return runs
}

/** Compiles this file and lib/ with tsc, and runs the result on plain node; resolves to its exit code. */
function runCompiled(): Promise<number> {
  const out = join(__dirname, '.build', 'sweep')
  const tsc = require.resolve('typescript/bin/tsc')
  const options = ['--outDir', out, '--rootDir', join(__dirname, '..'), '--module', 'commonjs', '--target', 'es2022']
  const flags = [...options, '--strict', '--esModuleInterop', '--skipLibCheck', '--types', 'node']
  if (spawnSync(process.execPath, [tsc, __filename, ...flags], { stdio: 'inherit' }).status !== 0) {
    throw new Error('tsc could not compile bench/memory-sweep.ts')
  }
  const child = spawn(process.execPath, ['--expose-gc', join(out, 'bench', 'memory-sweep.js')], { stdio: 'inherit' })
  return new Promise((resolve) => child.once('exit', (code) => resolve(code ?? 1)))
}

async function main(): Promise<void> {
  if (__filename.endsWith('.ts')) {
    process.exitCode = await runCompiled()
    return
  }
  if (typeof global.gc !== 'function') throw new Error('global.gc is missing: run with node --expose-gc')
  const cpus = os.cpus()
  console.log(
    `node ${process.version} · ${cpus[0]?.model ?? 'unknown CPU'} · ${cpus.length} cores · ` +
      `pointer compression ${compressed ? 'on' : 'off'} · ${RECORDS.toLocaleString('en')} records`,
  )

  const heap = [
    await heapPerRecord('flat value (26-char one-byte string)', flatValue),
    await heapPerRecord("codec.encode() value (as a stash stores it: `mac + tag + '.' + json`)", codecValue),
  ]
  settle()
  const keys = Array.from({ length: RECORDS }, (_, i) => keyOf(i))
  const sweeps: SweepResult[][] = []
  for (const batchSize of BATCH_SIZES) {
    const runs: SweepResult[] = []
    for (let i = 0; i < REPEATS; i++) {
      runs.push(await sweepRun(batchSize, keys))
      settle()
    }
    sweeps.push(runs)
  }
  const longestSweep = Math.max(...sweeps.flat().map((r) => r.sweepMs))
  const floors = await floorRuns(keys, longestSweep)

  const f = (value: number, digits = 1): string => value.toFixed(digits)
  console.log()
  console.log('| records of one field | heap bytes / record | overhead bytes / record (beyond key + value) | fill (s) |')
  console.log('|---|---|---|---|')
  for (const r of heap) console.log(`| ${r.label} | ${f(r.perRecord)} | ${f(r.overhead)} | ${f(r.fillSeconds, 2)} |`)
  console.log()
  console.log(
    `| cleanupBatchSize | removed | sweep (ms) | yields | loop turns seen | ELD max (ms) | ELD p99 (ms) |` +
      ` sampler max gap (ms): median (min–max) | records left after it, each run | sampler p99 gap (ms) |` +
      ` longest GC pause (ms) | GC total (ms) |`,
  )
  console.log('|---|---|---|---|---|---|---|---|---|---|---|---|')
  for (const runs of sweeps) {
    const median = (pick: (r: SweepResult) => number): number => percentile(runs.map(pick), 50)
    const batchSize = runs[0]!.batchSize
    const size = batchSize === RECORDS ? `${batchSize} (one step, reference)` : String(batchSize)
    const gaps = runs.map((r) => r.samplerMax)
    console.log(
      `| ${size} | ${median((r) => r.removed)} | ${f(median((r) => r.sweepMs))} | ${median((r) => r.yields)} |` +
        ` ${median((r) => r.turns)} | ${f(
          median((r) => r.eldMax),
          2,
        )} | ${f(
          median((r) => r.eldP99),
          2,
        )} |` +
        ` ${f(
          median((r) => r.samplerMax),
          2,
        )} (${f(Math.min(...gaps), 1)}–${f(Math.max(...gaps), 1)}) |` +
        ` ${runs.map((r) => r.longestGapAt).join(', ')} | ${f(
          median((r) => r.samplerP99),
          2,
        )} |` +
        ` ${f(
          median((r) => r.gcMax),
          2,
        )} | ${f(median((r) => r.gcTotal))} |`,
    )
  }
  const floorMax = floors.map((r) => r.max)
  console.log(
    `| none: the sampler alone for ${f(longestSweep, 0)} ms over 1M live records (the machine's floor) | — | — | — | — | — | — |` +
      ` ${f(percentile(floorMax, 50), 2)} (${f(Math.min(...floorMax), 1)}–${f(Math.max(...floorMax), 1)}) | — |` +
      ` ${f(
        percentile(
          floors.map((r) => r.p99),
          50,
        ),
        2,
      )} | — | — |`,
  )
  console.log()
  console.log(
    `Data per record = key (${KEY_CHARS} chars) ${seqOneByteString(KEY_CHARS)} B + value (${VALUE_CHARS} chars) ` +
      `${seqOneByteString(VALUE_CHARS)} B = ${DATA_BYTES} B, assuming flat one-byte strings of ` +
      `${TAGGED + 8} + length bytes rounded to ${TAGGED}; the field name '${FIELD}' is one shared literal (0 B per record). ` +
      'The codec row subtracts the same figure: equal rows mean its concatenated values cost no more than flat strings once stored.',
  )
  console.log(
    `Sweeps: median of ${REPEATS} runs per column. ` +
      'ELD = perf_hooks.monitorEventLoopDelay({ resolution: 1 }) during the sweep (intervals between ticks of a 1-ms timer: idle ≈ 1 ms); sampler = setImmediate chain, ' +
      'gap between consecutive ticks (= one event-loop turn); GC = perf_hooks gc entries that started during the sweep. ' +
      'A V8 Map rehashes its whole table in one synchronous step when it shrinks below a quarter of its capacity; ' +
      'the adapter splits its records over 64 Maps, so no rehash touches more than 1/64 of them.',
  )
}

main().catch((error: unknown) => {
  console.error(error)
  process.exit(1)
})
