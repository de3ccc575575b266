/**
 * The bounded map under the library's caches, a measurement (not a test): ns per operation, for
 * the access patterns of those caches, of
 *
 *   - `Map`: the hand-written bounded Map each cache used to carry (the reference, ratio 1.00);
 *   - `BoundedMap`: lib/values/bounded-map.ts, the one primitive they now share;
 *   - `lru-cache`: the npm package (v7 or later, with `ttl`), when it can be loaded: it is not a
 *     dependency, so point BENCH_LRU_CACHE at an install (`npm i --prefix /tmp/lru lru-cache` then
 *     BENCH_LRU_CACHE=/tmp/lru/node_modules/lru-cache); without it the column is left out.
 *
 * and, for the memory adapter's record store, 64 shards of `Map` against the ShardedMap of lib/.
 * Each implementation is measured in a child process of its own.
 *
 * Run: npx tsx bench/bounded-map.ts   (about half a minute)
 *
 * Environment: BENCH_LRU_CACHE (see above), BENCH_BOUNDED_ROUNDS (rounds per figure, 7; the fastest is shown).
 */
import { spawnSync } from 'node:child_process'
import { createHash } from 'node:crypto'
import { createRequire } from 'node:module'
import { join } from 'node:path'
import { BoundedMap } from '../lib/values/bounded-map.js'
import { ShardedMap } from '../lib/adapters/memory/sharded-map.js'

/** Entries of every cache measured: the capacity of the library's caches. */
const CAPACITY = 10_000
/** Operations per round. */
const OPERATIONS = 1 << 20
const ROUNDS = Number(process.env['BENCH_BOUNDED_ROUNDS'] ?? 7)

/** Record-key-like strings (base64url SHA-256): the first CAPACITY are held, the rest never are. */
const keys = Array.from({ length: 4 * CAPACITY }, (_, i) => createHash('sha256').update(String(i)).digest('base64url'))
const held = keys.slice(0, CAPACITY)
const absent = keys.slice(CAPACITY * 2)
/** Indexes into `held` and `absent` cycle through the first 8192 (a power of two, for a mask). */
const MASK = 8191

/** The least a measured loop returns, so that no engine can drop its work. */
let sink = 0

/** The lru-cache class, if one with `ttl` (v7+) can be loaded, else undefined. */
interface LruLike {
  get(key: string): unknown
  set(key: string, value: unknown): unknown
  readonly size: number
}
type LruClass = new (options: { max: number; ttl?: number; ttlAutopurge?: boolean }) => LruLike
function loadLruCache(): LruClass | undefined {
  const require = createRequire(join(process.cwd(), 'package.json'))
  for (const path of [process.env['BENCH_LRU_CACHE'], 'lru-cache']) {
    if (path === undefined || path === '') continue
    try {
      const loaded = require(path) as { LRUCache?: LruClass }
      if (typeof loaded.LRUCache === 'function') return loaded.LRUCache
    } catch {
      // not there: try the next
    }
  }
  return undefined
}

/** The ns per operation of `measured` in its fastest round of `operations`. */
function measure(measured: Measured, operations: number): number {
  const times: number[] = []
  const loop = measured(freshLoop())
  loop(operations) // warm up
  for (let round = 0; round < ROUNDS; round++) {
    const start = process.hrtime.bigint()
    sink += loop(operations)
    times.push(Number(process.hrtime.bigint() - start) / operations)
  }
  return Math.min(...times) // the least disturbed round: other processes only ever add time
}

/** One measurement: given its loop, sets up a cache of its own, and returns what runs `n` operations on it. */
type Measured = (run: Loop) => (n: number) => number
/** One access pattern: a measurement per implementation (left out where it has none). */
type Pattern = Record<string, Measured | undefined>

function filledMap(): Map<string, number> {
  return new Map(held.map((key, i) => [key, Number.MAX_SAFE_INTEGER - i]))
}
function filledBounded(expiring = false): BoundedMap<string, number> {
  const map = new BoundedMap<string, number>({ capacity: CAPACITY, ...(expiring ? { expiresAt: (until) => until } : {}) })
  held.forEach((key, i) => map.set(key, Number.MAX_SAFE_INTEGER - i))
  return map
}
function filledLru(Lru: LruClass, ttl?: number): LruLike {
  const lru = new Lru({ max: CAPACITY, ...(ttl === undefined ? {} : { ttl }) })
  held.forEach((key, i) => lru.set(key, i))
  return lru
}

/** The cache patterns: reads that hit and miss, writes at capacity, refreshes, expiring reads. */
function cachePatterns(Lru: LruClass | undefined): Record<string, Pattern> {
  const evictingMapSet = (map: Map<string, number>, key: string, value: number) => {
    if (map.size >= CAPACITY && !map.has(key)) map.delete(map.keys().next().value!)
    map.set(key, value)
  }
  return {
    'get, hit': {
      Map:
        (run, map = filledMap()) =>
        (n) =>
          run(n, (i) => map.get(held[i & MASK]!)!),
      BoundedMap:
        (run, map = filledBounded()) =>
        (n) =>
          run(n, (i) => map.get(held[i & MASK]!)!),
      'lru-cache':
        Lru &&
        ((run, lru = filledLru(Lru)) =>
          (n) =>
            run(n, (i) => lru.get(held[i & MASK]!) as number)),
    },
    'get, miss': {
      Map:
        (run, map = filledMap()) =>
        (n) =>
          run(n, (i) => map.get(absent[i & MASK]!) ?? 1),
      BoundedMap:
        (run, map = filledBounded()) =>
        (n) =>
          run(n, (i) => map.get(absent[i & MASK]!) ?? 1),
      'lru-cache':
        Lru &&
        ((run, lru = filledLru(Lru)) =>
          (n) =>
            run(n, (i) => (lru.get(absent[i & MASK]!) as number) ?? 1)),
    },
    'get, hit, with expiry': {
      Map:
        (run, map = filledMap(), now = performance.now()) =>
        (n) =>
          run(n, (i) => {
            const until = map.get(held[i & MASK]!)!
            return until > now ? until : 0
          }),
      BoundedMap:
        (run, map = filledBounded(true), now = performance.now()) =>
        (n) =>
          run(n, (i) => map.live(held[i & MASK]!, now)!),
      'lru-cache':
        Lru &&
        ((run, lru = filledLru(Lru, 3_600_000)) =>
          (n) =>
            run(n, (i) => lru.get(held[i & MASK]!) as number)),
    },
    'set, new key at capacity (evicts)': {
      Map:
        (run, map = filledMap()) =>
        (n) =>
          run(n, (i) => (evictingMapSet(map, keys[i % keys.length]!, i), i)),
      BoundedMap:
        (run, map = filledBounded()) =>
        (n) =>
          run(n, (i) => (map.set(keys[i % keys.length]!, i), i)),
      'lru-cache':
        Lru &&
        ((run, lru = filledLru(Lru)) =>
          (n) =>
            run(n, (i) => (lru.set(keys[i % keys.length]!, i), i))),
    },
    'refresh (existing key becomes newest)': {
      Map:
        (run, map = filledMap()) =>
        (n) =>
          run(n, (i) => (map.delete(held[i & MASK]!), map.set(held[i & MASK]!, i), i)),
      BoundedMap:
        (run, map = filledBounded()) =>
        (n) =>
          run(n, (i) => (map.refresh(held[i & MASK]!, i), i)),
      'lru-cache':
        Lru &&
        ((run, lru = filledLru(Lru)) =>
          (n) =>
            run(n, (i) => (lru.set(held[i & MASK]!, i), i))),
    },
  }
}

/** A loop running `op` for 0 ≤ i < n, summing what it returns. */
type Loop = (n: number, op: (i: number) => number) => number

/**
 * A loop of its own for one measurement: a fresh function, with its own type feedback, so that the
 * engine sees one `op` there and inlines it as it would in the library (one loop shared by every
 * measurement would call each `op` through a megamorphic call, adding the same cost to all).
 */
function freshLoop(): Loop {
  // eslint-disable-next-line @typescript-eslint/no-implied-eval -- a fresh function is the point
  return new Function('n', 'op', 'let sum = 0; for (let i = 0; i < n; i++) sum += op(i); return sum') as Loop
}

/** A record as the memory adapter stores it, as far as the map sees. */
interface Stamped {
  used: number
  readonly bytes: number
}

/** The record store as it was before BoundedMap: 64 shards of Map (the reference for ShardedMap). */
class MapShards {
  private readonly shards = Array.from({ length: 64 }, () => new Map<string, Stamped>())
  private tick = 0
  get(key: string): Stamped | undefined {
    return this.shard(key).get(key)
  }
  refresh(key: string, value: Stamped): void {
    const shard = this.shard(key)
    shard.delete(key)
    value.used = ++this.tick
    shard.set(key, value)
  }
  set(key: string, value: Stamped): void {
    const shard = this.shard(key)
    if (shard.get(key) !== undefined) shard.delete(key)
    value.used = ++this.tick
    shard.set(key, value)
  }
  oldest(): string | undefined {
    let oldest: [string, Stamped] | undefined
    for (const shard of this.shards) {
      const first = shard.entries().next()
      if (!first.done && (oldest === undefined || first.value[1].used < oldest[1].used)) oldest = first.value
    }
    return oldest?.[0]
  }
  /** The memory table's eviction: delete the least recently used, store a new record. */
  evict(key: string, value: Stamped): void {
    const oldest = this.oldest()!
    this.shard(oldest).delete(oldest)
    this.set(key, value)
  }
  private shard(key: string): Map<string, Stamped> {
    const code = key.charCodeAt(key.length - 1) * 31 + key.charCodeAt(key.length - 2)
    return this.shards[(code || 0) & 63]!
  }
}

/** The record store patterns: read, refresh, replace, and finding the least recently used. */
function shardPatterns(): Record<string, Pattern> {
  const filled = <M extends { set(key: string, value: Stamped): void }>(map: M): M => {
    for (const key of held) map.set(key, { used: 0, bytes: 100 })
    return map
  }
  const record = () => ({ used: 0, bytes: 100 })
  return {
    'record get': {
      'Map shards':
        (run, map = filled(new MapShards())) =>
        (n) =>
          run(n, (i) => map.get(held[i & MASK]!)!.bytes),
      ShardedMap:
        (run, map = filled(new ShardedMap<Stamped>())) =>
        (n) =>
          run(n, (i) => map.get(held[i & MASK]!)!.bytes),
    },
    'record refresh': {
      'Map shards':
        (run, map = filled(new MapShards())) =>
        (n) =>
          run(n, (i) => (map.refresh(held[i & MASK]!, map.get(held[i & MASK]!)!), i)),
      ShardedMap:
        (run, map = filled(new ShardedMap<Stamped>())) =>
        (n) =>
          run(n, (i) => (map.refresh(held[i & MASK]!, map.get(held[i & MASK]!)!), i)),
    },
    'record replace': {
      'Map shards':
        (run, map = filled(new MapShards())) =>
        (n) =>
          run(n, (i) => (map.set(held[i & MASK]!, record()), i)),
      ShardedMap:
        (run, map = filled(new ShardedMap<Stamped>())) =>
        (n) =>
          run(n, (i) => (map.set(held[i & MASK]!, record()), i)),
    },
    'record evict (oldest out, new in)': {
      'Map shards':
        (run, map = filled(new MapShards())) =>
        (n) =>
          run(n, (i) => (map.evict(keys[i % keys.length]!, record()), i)),
      ShardedMap:
        (run, map = filled(new ShardedMap<Stamped>())) =>
        (n) =>
          run(n, (i) => (map.delete(map.oldest()!), map.set(keys[i % keys.length]!, record()), i)),
    },
    'record oldest': {
      'Map shards':
        (run, map = filled(new MapShards())) =>
        (n) =>
          run(n, () => map.oldest()!.length),
      ShardedMap:
        (run, map = filled(new ShardedMap<Stamped>())) =>
        (n) =>
          run(n, () => map.oldest()!.length),
    },
  }
}

/** The tables: a title, and the patterns it measures. */
const SECTIONS: Record<string, { readonly title: string; readonly patterns: () => Record<string, Pattern> }> = {
  caches: { title: 'Caches (ratio to the hand-written Map)', patterns: () => cachePatterns(loadLruCache()) },
  records: { title: 'Memory record store (ratio to 64 shards of Map)', patterns: shardPatterns },
}

/** In a child process: measures one implementation on every pattern of a section, and prints the ns/op as JSON. */
function measureOne(section: string, name: string): void {
  const figures: Record<string, number> = {}
  for (const [label, pattern] of Object.entries(SECTIONS[section]!.patterns())) {
    // The slow ones (the hand-written eviction, finding the oldest of 64 shards) make shorter rounds.
    const operations = /oldest|evict/.test(label) ? OPERATIONS / 16 : OPERATIONS
    const measured = pattern[name]
    if (measured !== undefined) figures[label] = measure(measured, operations)
  }
  console.log(JSON.stringify({ figures, sink }))
}

/**
 * Prints one table: ns/op per implementation, and each one's ratio to the first column. Each
 * implementation runs in a process of its own, so that none runs on code the engine optimised for
 * another (they share the call sites of lib/, as BoundedMap's users share its methods in one process).
 */
function report(section: string): void {
  const { title, patterns } = SECTIONS[section]!
  const labels = Object.keys(patterns())
  const names = [...new Set(Object.values(patterns()).flatMap((pattern) => Object.keys(pattern)))]
  const columns: Array<[string, Record<string, number>]> = []
  for (const name of names) {
    const child = spawnSync(process.execPath, [...process.execArgv, __filename, section, name], { encoding: 'utf8' })
    if (child.status !== 0) throw new Error(`${section} ${name}: ${child.stderr}`)
    const figures = (JSON.parse(child.stdout.trim().split('\n').pop()!) as { figures: Record<string, number> }).figures
    if (Object.keys(figures).length > 0) columns.push([name, figures])
  }
  console.log(`\n${title}\n`)
  console.log(['pattern'.padEnd(40), ...columns.map(([name]) => `${name} ns/op`.padStart(18))].join(''))
  for (const label of labels) {
    const reference = columns[0]![1][label]!
    const cells = columns.map(([, figures]) => {
      const ns = figures[label]
      return ns === undefined ? '—' : `${ns.toFixed(1)} (${(ns / reference).toFixed(2)}×)`
    })
    console.log([label.padEnd(40), ...cells.map((cell) => cell.padStart(18))].join(''))
  }
}

const [section, name] = process.argv.slice(2)
if (section !== undefined && name !== undefined) measureOne(section, name)
else {
  console.log(`${CAPACITY} entries, ${OPERATIONS} operations a round, best of ${ROUNDS} rounds; node ${process.version}`)
  console.log(loadLruCache() === undefined ? 'lru-cache: not loaded (set BENCH_LRU_CACHE), column left out' : 'lru-cache: loaded')
  for (const section of Object.keys(SECTIONS)) report(section)
}
