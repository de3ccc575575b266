/**
 * The invalidation channel of the Redis near cache: server-assisted client-side caching in RESP2
 * broadcast mode. Two connections are duplicated from the adapter's client: a subscriber to
 * `__redis__:invalidate` (redis-tracking-subscriber.ts), and a data connection
 * (redis-tracking-data.ts) with `CLIENT TRACKING on REDIRECT <subscriber id> BCAST PREFIX <prefix>
 * NOLOOP`, through which the adapter sends its record reads and writes. A change of a key under the prefix by any other
 * connection (other processes, tools, FLUSHALL, expiry and eviction by Redis) reaches
 * `onInvalidate`; the writes of the data connection itself do not (NOLOOP).
 *
 * The channel is `confirmed` only while both connections are up, the subscriber is subscribed
 * and tracking redirects to it. Any loss (a disconnect, an error, a PING without answer in time,
 * a failed enable) calls `onFlush()` and changes `epoch` at once; once both connections are back,
 * tracking is enabled again for the current subscriber, and the channel is confirmed again.
 * @module
 */
import type { RedisClientLike } from './redis-client.js'
import type { RedisDriver } from './redis-driver.js'
import { backoff } from './redis-connect.js'
import { trackableClient, within, type Liveness, type TrackableClient } from './redis-tracking-clients.js'
import { openDataConnection, type DataConnection } from './redis-tracking-data.js'
import { openSubscriber, type Subscriber } from './redis-tracking-subscriber.js'

/** What {@link openTracking} tracks and whom it tells. */
export interface TrackingOptions {
  /** The adapter's key prefix: changes of the keys that start with it are reported. */
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

/** An open invalidation channel; see the module's description. */
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
 * Opens the invalidation channel on two duplicates of `client` (which stays as it is).
 * `pingInterval` and `timeout` are positive (the adapter's options check them).
 * @throws TypeError for a cluster or an unknown client (see `canTrack`, redis-tracking-open.ts).
 */
export function openTracking(client: RedisClientLike, options: TrackingOptions): Tracking & { readonly driver: RedisDriver } {
  const source = trackableClient(client)
  if (source === undefined) {
    throw new TypeError(
      'express-stash: the Redis near cache needs a node-redis (v4 and later) or ioredis (v5 and later) client, not a cluster',
    )
  }
  return new TrackingChannel(source, options)
}

/** The {@link Tracking} state machine. */
class TrackingChannel implements Tracking {
  readonly driver: RedisDriver
  readonly stats: TrackingStats = { invalidations: 0, flushes: 0, losses: 0 }
  readonly #source: TrackableClient
  readonly #options: TrackingOptions
  readonly #liveness: Liveness
  /** ioredis's `keyPrefix`, which that client adds to every key. */
  readonly #keyPrefix: string
  readonly #data: DataConnection
  readonly #waiters = new Set<() => void>()
  #confirmed = false
  #epoch = 0
  #lastError: Error | undefined
  #closing: Promise<void> | undefined
  #dataUp = false
  #subscriber: Subscriber | undefined
  /** The current subscriber's client id, once it is subscribed. */
  #subscriberId: number | undefined
  #subscriberRetries = 0
  #resubscribe: NodeJS.Timeout | undefined
  #enabling = false

  constructor(source: TrackableClient, options: TrackingOptions) {
    this.#source = source
    this.#options = options
    this.#liveness = { pingInterval: options.pingInterval ?? 1000, timeout: options.timeout ?? 2000 }
    this.#keyPrefix = (source.library === 'ioredis' ? source.client.options?.keyPrefix : undefined) ?? ''
    this.#data = openDataConnection(
      source,
      { up: () => this.#dataConnected(), down: (err) => this.#dataLost(err) },
      this.#liveness,
    )
    this.driver = this.#data.driver
    this.driver.close = () => this.close()
    this.#subscribe()
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

  ready(ms: number): Promise<boolean> {
    if (this.#confirmed || this.#closing !== undefined) return Promise.resolve(this.#confirmed)
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

  close(): Promise<void> {
    if (this.#closing !== undefined) return this.#closing
    clearTimeout(this.#resubscribe)
    this.#confirmed = false
    this.#epoch++
    this.#subscriber?.close()
    this.#subscriber = undefined
    this.#wake()
    this.#closing = this.#data.close()
    return this.#closing
  }

  /** Reports one invalidation message; a listener that throws may have kept stale records, so that is a loss. */
  #received(keys: string[] | null): void {
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
      this.#lose(err)
    }
  }

  /** Something that may have cost invalidations: a new epoch, and a flush when the channel was confirmed. */
  #lose(err?: unknown): void {
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

  #dataConnected(): void {
    this.#lose() // a new connection: tracking is off on it
    this.#dataUp = true
    void this.#enable()
  }

  #dataLost(err?: Error): void {
    this.#dataUp = false
    this.#lose(err)
  }

  /** Opens a new subscriber; once it is subscribed, tracking is enabled for it. */
  #subscribe(): void {
    this.#resubscribe = undefined
    if (this.#closing !== undefined) return
    const subscriber = openSubscriber(
      this.#source,
      { keys: (keys) => this.#received(keys), lost: (err) => this.#subscriberLost(subscriber, err) },
      this.#liveness,
    )
    this.#subscriber = subscriber
    subscriber.subscribed.then(
      (id) => {
        if (this.#subscriber !== subscriber) return
        this.#subscriberId = id
        void this.#enable()
      },
      (err: unknown) => this.#subscriberLost(subscriber, err),
    )
  }

  /** Closes `subscriber`; when it is the current one, that is a loss, and a new one follows after a pause. */
  #subscriberLost(subscriber: Subscriber, err?: unknown): void {
    subscriber.close()
    if (this.#subscriber !== subscriber || this.#closing !== undefined) return
    this.#subscriber = undefined
    this.#subscriberId = undefined
    this.#lose(err)
    this.#resubscribe = setTimeout(() => this.#subscribe(), backoff(this.#subscriberRetries++))
    this.#resubscribe.unref()
  }

  /**
   * Enables tracking on the data connection for the current subscriber, once both are up;
   * confirms the channel if nothing was lost meanwhile. A failure replaces the subscriber.
   */
  async #enable(): Promise<void> {
    const subscriber = this.#subscriber
    const id = this.#subscriberId
    if (this.#enabling || this.#confirmed || !this.#dataUp || subscriber === undefined || id === undefined) return
    this.#enabling = true
    const epoch = this.#epoch
    const prefix = this.#keyPrefix + this.#options.prefix
    try {
      await this.#tracking(['off'])
      await this.#tracking(['on', 'REDIRECT', String(id), 'BCAST', 'PREFIX', prefix, 'NOLOOP'])
      if (epoch === this.#epoch) this.#confirm()
    } catch (err) {
      if (epoch === this.#epoch) this.#subscriberLost(subscriber, err)
    } finally {
      this.#enabling = false
    }
    if (!this.#confirmed) void this.#enable() // a loss while enabling, and both are back already
  }

  #tracking(args: string[]): Promise<unknown> {
    return within(this.#command(['CLIENT', 'TRACKING', ...args]), this.#liveness.timeout, 'CLIENT TRACKING')
  }

  /** A command on the data connection; a client that throws instead of rejecting rejects too. */
  async #command(args: string[]): Promise<unknown> {
    return this.driver.command(undefined, args)
  }

  /** Resolves every `ready()` waiting. */
  #wake(): void {
    for (const done of [...this.#waiters]) done()
  }

  #confirm(): void {
    this.#confirmed = true
    this.#subscriberRetries = 0
    this.#wake()
  }
}
