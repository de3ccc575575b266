/**
 * What the near cache's two invalidation channels (redis-tracking.ts for a single client,
 * redis-tracking-cluster.ts for a cluster) have in common: their contract ({@link Tracking}) and
 * the state both keep alike ({@link ChannelState}): confirmed or not, the epoch every loss
 * changes, the counters, and the waiters of `ready()`.
 * @module
 */
import type { RedisDriver } from './redis-driver.js'

/** What an invalidation channel tracks and whom it tells. */
export interface TrackingOptions {
  /** The adapter's key prefix: on a cluster, changes of every key that starts with it are reported; on one server, those of the keys the data connection read. */
  readonly prefix: string
  /**
   * Receives the keys (the adapter's prefix included; an ioredis `keyPrefix` left out) that another
   * connection changed or that Redis expired or evicted; keys changed together may come in one call.
   */
  onInvalidate(keys: string[]): void
  /**
   * Everything may have changed: Redis was flushed (FLUSHALL, FLUSHDB), or invalidations may have
   * been missed (a connection was lost; the channel is not confirmed until it is back).
   */
  onFlush(): void
  /**
   * Milliseconds between two PINGs of each connection, which find a connection cut without a word.
   * @default 1000
   */
  readonly pingInterval?: number
  /**
   * Milliseconds Redis may take to answer a PING or a step of (re)enabling tracking before the
   * connection counts as lost.
   * @default 2000
   */
  readonly timeout?: number
}

/** Counters of a {@link Tracking} channel. */
export interface TrackingStats {
  /** Keys reported to `onInvalidate`. */
  invalidations: number
  /** Flushes of Redis (FLUSHALL, FLUSHDB) reported to `onFlush`. */
  flushes: number
  /** Times the confirmed channel was lost (each also reported to `onFlush`). */
  losses: number
}

/** An open invalidation channel: redis-tracking.ts for a single client, redis-tracking-cluster.ts for a cluster. */
export interface Tracking {
  /**
   * The data connection, which the adapter sends its calls through while the channel is
   * confirmed: the changes it makes itself are not reported (NOLOOP), every other one under the
   * prefix is; closing it closes the channel. `undefined` on a cluster (redis-tracking-cluster.ts):
   * calls go through the cluster client, and their own changes are reported too.
   */
  readonly driver: RedisDriver | undefined
  /** Whether every change under the prefix by another connection is being reported now. */
  readonly confirmed: boolean
  /**
   * Changes whenever the channel is lost (and when it is closed): a load that started in an
   * earlier epoch, or while not confirmed, may have missed its invalidation.
   */
  readonly epoch: number
  /** Why the channel was last lost, or could not be confirmed. */
  readonly lastError: Error | undefined
  /** Counters since the channel was opened. */
  readonly stats: Readonly<TrackingStats>
  /** Whether the channel is confirmed within `ms` milliseconds (at once when it already is). */
  ready(ms: number): Promise<boolean>
  /** Closes both connections and stops every timer; never rejects. */
  close(): Promise<void>
}

/**
 * The state of one channel, as both kinds keep it: `confirm()` once every change is reported,
 * `lose()` on anything that may have cost an invalidation (a new epoch, and a flush when it was
 * confirmed), `received()` for each invalidation message, `end()` on close.
 */
export class ChannelState {
  readonly stats: TrackingStats = { invalidations: 0, flushes: 0, losses: 0 }
  readonly #options: TrackingOptions
  /** The client's own key prefix (ioredis's `keyPrefix`), left out of the keys reported. */
  readonly #keyPrefix: string
  readonly #waiters = new Set<() => void>()
  #confirmed = false
  #epoch = 0
  #lastError: Error | undefined
  #ended = false

  constructor(options: TrackingOptions, keyPrefix: string) {
    this.#options = options
    this.#keyPrefix = keyPrefix
  }

  get confirmed(): boolean {
    return this.#confirmed
  }

  get epoch(): number {
    return this.#epoch
  }

  get lastError(): Error | undefined {
    return this.#lastError
  }

  /** {@link Tracking.ready}: at once when confirmed or ended, else once confirmed or after `ms`. */
  ready(ms: number): Promise<boolean> {
    if (this.#confirmed || this.#ended) return Promise.resolve(this.#confirmed)
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(timer)
        this.#waiters.delete(done)
        resolve(this.#confirmed)
      }
      const timer = setTimeout(done, ms)
      this.#waiters.add(done)
    })
  }

  /** Every change is reported from now on: wakes the `ready()` waiting. */
  confirm(): void {
    this.#confirmed = true
    this.#wake()
  }

  /** Reports one invalidation message; a listener that throws may have kept stale records, so that is a loss. */
  received(keys: string[] | null): void {
    try {
      if (keys === null) {
        this.stats.flushes++
        return this.#options.onFlush()
      }
      this.stats.invalidations += keys.length
      const prefix = this.#keyPrefix
      this.#options.onInvalidate(
        prefix === '' ? keys : keys.map((key) => (key.startsWith(prefix) ? key.slice(prefix.length) : key)),
      )
    } catch (err) {
      this.lose(err)
    }
  }

  /** Something that may have cost invalidations: a new epoch, and a flush when the channel was confirmed. */
  lose(err?: unknown): void {
    if (err !== undefined)
      this.#lastError = err instanceof Error ? err : new Error('the invalidation channel was lost', { cause: err })
    this.#epoch++
    if (!this.#confirmed) return
    this.#confirmed = false
    this.stats.losses++
    try {
      this.#options.onFlush()
    } catch (failed) {
      this.#lastError = failed as Error
    }
  }

  /** The channel is closed: not confirmed, a new epoch, and every `ready()` answered. */
  end(): void {
    this.#ended = true
    this.#confirmed = false
    this.#epoch++
    this.#wake()
  }

  #wake(): void {
    for (const done of [...this.#waiters]) done()
  }
}
