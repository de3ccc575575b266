/**
 * The counters and latency histogram behind `stash.stats()` (typed for the public as `StashStats`
 * in types.ts).
 * @module
 */
import { createHistogram, performance, type RecordableHistogram } from 'node:perf_hooks'

const NS_PER_MS = 1e6

/** The mutable counters behind `stash.stats()` (the public `StashStats`): cheap to update on every request. */
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

  /** A frozen copy of the counters and latency, in the shape of the public `StashStats`. */
  snapshot() {
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
