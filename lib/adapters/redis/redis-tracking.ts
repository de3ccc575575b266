/**
 * The invalidation channel of the Redis near cache: server-assisted client-side caching in RESP2
 * default (tracking) mode. Two connections are duplicated from the adapter's client: a subscriber
 * to `__redis__:invalidate` (redis-tracking-subscriber.ts), and a data connection
 * (redis-tracking-data.ts) with `CLIENT TRACKING on REDIRECT <subscriber id> NOLOOP`, through
 * which the adapter sends its record reads and writes. Redis then reports a change of any key the
 * data connection read (by other processes, tools, FLUSHALL, expiry and eviction by Redis) to
 * `onInvalidate`; the writes of the data connection itself are not reported (NOLOOP), scripts
 * included, and the write script it runs reads its key back last (redis-tracked-write.ts), so
 * that Redis keeps tracking the key for it. Broadcast mode (`BCAST PREFIX`) would track every key
 * under the prefix without reads, but Redis does not apply NOLOOP to the writes of a script there
 * (checked on 7.0.15): every write would cost the writer its own copy.
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
import { ChannelState, type Tracking, type TrackingOptions, type TrackingStats } from './redis-tracking-channel.js'

export type { Tracking, TrackingOptions, TrackingStats } from './redis-tracking-channel.js'

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
  readonly #source: TrackableClient
  readonly #liveness: Liveness
  /** ioredis's `keyPrefix`, which that client adds to every key. */
  readonly #keyPrefix: string
  readonly #data: DataConnection
  readonly #state: ChannelState
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
    this.#liveness = { pingInterval: options.pingInterval ?? 1000, timeout: options.timeout ?? 2000 }
    this.#keyPrefix = (source.library === 'ioredis' ? source.client.options?.keyPrefix : undefined) ?? ''
    this.#state = new ChannelState(options, this.#keyPrefix)
    this.#data = openDataConnection(
      source,
      { up: () => this.#dataConnected(), down: (err) => this.#dataLost(err) },
      this.#liveness,
    )
    this.driver = this.#data.driver
    this.driver.close = () => this.close()
    this.#subscribe()
  }

  get stats(): Readonly<TrackingStats> {
    return this.#state.stats
  }

  get confirmed(): boolean {
    return this.#state.confirmed
  }

  get epoch(): number {
    return this.#state.epoch
  }

  get lastError(): Error | undefined {
    return this.#state.lastError
  }

  ready(ms: number): Promise<boolean> {
    return this.#state.ready(ms)
  }

  close(): Promise<void> {
    if (this.#closing !== undefined) return this.#closing
    clearTimeout(this.#resubscribe)
    this.#state.end()
    this.#subscriber?.close()
    this.#subscriber = undefined
    this.#closing = this.#data.close()
    return this.#closing
  }

  #dataConnected(): void {
    this.#state.lose() // a new connection: tracking is off on it
    this.#dataUp = true
    void this.#enable()
  }

  #dataLost(err?: Error): void {
    this.#dataUp = false
    this.#state.lose(err)
  }

  /** Opens a new subscriber; once it is subscribed, tracking is enabled for it. */
  #subscribe(): void {
    this.#resubscribe = undefined
    if (this.#closing !== undefined) return
    const subscriber = openSubscriber(
      this.#source,
      { keys: (keys) => this.#state.received(keys), lost: (err) => this.#subscriberLost(subscriber, err) },
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
    this.#state.lose(err)
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
    if (this.#enabling || this.#state.confirmed || !this.#dataUp || subscriber === undefined || id === undefined) return
    this.#enabling = true
    const epoch = this.#state.epoch
    try {
      await this.#tracking(['off'])
      await this.#tracking(['on', 'REDIRECT', String(id), 'NOLOOP'])
      if (epoch === this.#state.epoch) this.#confirm()
    } catch (err) {
      if (epoch === this.#state.epoch) this.#subscriberLost(subscriber, err)
    } finally {
      this.#enabling = false
    }
    if (!this.#state.confirmed) void this.#enable() // a loss while enabling, and both are back already
  }

  #tracking(args: string[]): Promise<unknown> {
    return within(this.#command(['CLIENT', 'TRACKING', ...args]), this.#liveness.timeout, 'CLIENT TRACKING')
  }

  /** A command on the data connection; a client that throws instead of rejecting rejects too. */
  async #command(args: string[]): Promise<unknown> {
    return this.driver.command(undefined, args)
  }

  #confirm(): void {
    this.#subscriberRetries = 0
    this.#state.confirm()
  }
}
