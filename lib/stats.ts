import { createHistogram, performance, type RecordableHistogram } from 'node:perf_hooks'

/** Store-call latency, in milliseconds, since the stash was created. */
export interface StashLatency {
  /** Store calls timed. */
  readonly calls: number
  readonly mean: number
  readonly p50: number
  readonly p99: number
  readonly max: number
}

/**
 * A snapshot of one stash instance's counters since it was created (`stash.stats()`). Counters
 * only grow, so a metrics exporter can read them as monotonic counters and diff two snapshots.
 */
export interface StashStats {
  /** Requests that read their record from the store (one per request and route that loads keys). */
  readonly loads: number
  /** Loads that found the record. */
  readonly hits: number
  /** Loads of a signed ID whose record was gone: expired, revoked, reset elsewhere, or on another store. */
  readonly misses: number
  /** Store calls that change a record and were answered: writes, `update()` swaps (a lost race too), rotations, resets. */
  readonly writes: number
  /** UTF-8 bytes of stored values (and their key names) read by loads. */
  readonly bytesRead: number
  /** UTF-8 bytes of stored values (and their key names) written. */
  readonly bytesWritten: number
  /** Failures: store calls that failed, and problems reported through the `'error'` event. */
  readonly errors: number
  /**
   * Live records the adapter evicted to stay within its budget (the memory adapter's
   * `maxMemory`, `maxEntries`), whichever stash or session store wrote the record that caused
   * it: every instance sharing one table (`memoryAdapter({ name })`) counts all of its evictions.
   */
  readonly evictions: number
  /** Latency of every store call, successful or not. */
  readonly latency: StashLatency
}

const NS_PER_MS = 1e6

/** The mutable counters behind {@link StashStats}: cheap to update on every request. */
export class StatsRecorder {
  loads = 0
  hits = 0
  misses = 0
  writes = 0
  bytesRead = 0
  bytesWritten = 0
  errors = 0
  evictions = 0
  // Nanoseconds, from 1 ns to one hour, with 3 significant digits (node's HDR histogram).
  private readonly histogram: RecordableHistogram = createHistogram({ lowest: 1, highest: 3_600 * 1e9, figures: 3 })

  /** Records the latency of a store call that started at `started` (a `performance.now()` reading). */
  recordCall(started: number): void {
    this.histogram.record(Math.max(1, Math.round((performance.now() - started) * NS_PER_MS)))
  }

  /** A frozen copy of the counters. */
  snapshot(): StashStats {
    const h = this.histogram
    const ms = (ns: number): number => (h.count === 0 ? 0 : ns / NS_PER_MS)
    return Object.freeze({
      loads: this.loads,
      hits: this.hits,
      misses: this.misses,
      writes: this.writes,
      bytesRead: this.bytesRead,
      bytesWritten: this.bytesWritten,
      errors: this.errors,
      evictions: this.evictions,
      latency: Object.freeze({
        calls: h.count,
        mean: ms(h.mean),
        p50: ms(h.percentile(50)),
        p99: ms(h.percentile(99)),
        max: ms(h.max),
      }),
    })
  }
}
