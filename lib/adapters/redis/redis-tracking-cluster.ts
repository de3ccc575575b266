/**
 * The near cache's invalidation channel on a Redis Cluster. Each master reports only the changes
 * of its own keys, so the channel keeps one RESP2 subscriber per master (duplicated from one of
 * the cluster client's node clients, connected to that master), each with `CLIENT TRACKING on
 * REDIRECT <its own id> BCAST PREFIX <prefix>`. The adapter's calls keep going through the
 * cluster client, which routes them: their own writes are reported back too (no NOLOOP across
 * connections), which costs the writer its cached copy, never a stale one.
 *
 * The topology is read with `CLUSTER SLOTS` (through the cluster client) every `pingInterval`:
 * the channel is confirmed only while every master that serves a slot has a subscribed
 * subscriber and the slot map is the one they were opened for. A changed map (a failover,
 * resharding, a node added or removed), a failed read of it, or a lost subscriber is a loss:
 * `onFlush()`, a new epoch, and the subscribers are reconciled with the new masters.
 * @module
 */
import type { RedisDriver } from './redis-driver.js'
import { backoff } from './redis-connect.js'
import { trackableClient, within, type Liveness, type TrackableClient } from './redis-tracking-clients.js'
import { openSubscriber, type Subscriber } from './redis-tracking-subscriber.js'
import { ChannelState, type Tracking, type TrackingOptions, type TrackingStats } from './redis-tracking-channel.js'

/** A master's address as the client connects to it. */
interface Address {
  readonly host: string
  readonly port: number
}

/** One master's subscriber, and whether it is subscribed yet. */
interface Watcher {
  readonly subscriber: Subscriber
  subscribed: boolean
}

/**
 * Opens the invalidation channel of a cluster client (`driver.cluster`): node-redis `createCluster`
 * (v4 and later) or an ioredis `Cluster` (v5 and later). The cluster client stays as it is.
 */
export function openClusterTracking(driver: RedisDriver, options: TrackingOptions): Tracking {
  return new ClusterTrackingChannel(driver, options)
}

/** The {@link Tracking} state machine of a cluster: see the module's description. */
class ClusterTrackingChannel implements Tracking {
  readonly driver = undefined
  readonly #cluster: RedisDriver
  readonly #options: TrackingOptions
  readonly #liveness: Liveness
  readonly #keyPrefix: string
  readonly #state: ChannelState
  readonly #watchers = new Map<string, Watcher>()
  readonly #poller: NodeJS.Timeout
  #template: Promise<TrackableClient> | undefined
  /** The slot map the subscribers were opened for (`CLUSTER SLOTS`, as text). */
  #slotMap: string | undefined
  #masters: ReadonlyMap<string, Address> = new Map()
  #closed = false
  #polling = false
  #retries = 0

  constructor(cluster: RedisDriver, options: TrackingOptions) {
    this.#cluster = cluster
    this.#options = options
    this.#liveness = { pingInterval: options.pingInterval ?? 1000, timeout: options.timeout ?? 2000 }
    const clusterOptions = (cluster.client as { options?: { keyPrefix?: string } }).options
    this.#keyPrefix = cluster.label.startsWith('ioredis') ? (clusterOptions?.keyPrefix ?? '') : ''
    this.#state = new ChannelState(options, this.#keyPrefix)
    this.#poller = setInterval(() => void this.#poll(), this.#liveness.pingInterval)
    this.#poller.unref()
    void this.#poll()
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
    if (!this.#closed) {
      this.#closed = true
      clearInterval(this.#poller)
      this.#state.end()
      for (const { subscriber } of this.#watchers.values()) subscriber.close()
      this.#watchers.clear()
    }
    return Promise.resolve()
  }

  /** Reads the slot map; a changed one is a loss, after which the subscribers follow the new masters. */
  async #poll(): Promise<void> {
    if (this.#polling || this.#closed) return
    this.#polling = true
    try {
      const reply = await within(
        Promise.resolve().then(() => this.#cluster.command(undefined, ['CLUSTER', 'SLOTS'])),
        this.#liveness.timeout,
        'CLUSTER SLOTS',
      )
      const slotMap = JSON.stringify(reply, (_key, value: unknown) => (Buffer.isBuffer(value) ? value.toString() : value))
      if (slotMap !== this.#slotMap) {
        if (this.#slotMap !== undefined) this.#state.lose(new Error('the cluster topology changed'))
        this.#slotMap = slotMap
        this.#masters = mastersOf(reply, this.#addressMap())
        await this.#reconcile()
      }
      this.#check()
    } catch (err) {
      this.#slotMap = undefined // read again, and compared with nothing, once Redis answers
      this.#state.lose(err)
    } finally {
      this.#polling = false
    }
  }

  /** Closes the subscribers of nodes that serve no slot any more and opens those of new masters. */
  async #reconcile(): Promise<void> {
    for (const [name, watcher] of this.#watchers) {
      if (!this.#masters.has(name)) {
        this.#watchers.delete(name)
        watcher.subscriber.close()
      }
    }
    const template = await this.#source()
    for (const [name, address] of this.#masters) {
      if (!this.#watchers.has(name) && !this.#closed) this.#watch(template, name, address)
    }
  }

  /** Opens the subscriber of one master; a lost one is a loss, and is replaced after a pause. */
  #watch(template: TrackableClient, name: string, address: Address): void {
    const subscriber = openSubscriber(
      template,
      { keys: (keys) => this.#state.received(keys), lost: (err) => this.#watcherLost(name, watcher, err) },
      this.#liveness,
      { address, trackPrefix: this.#keyPrefix + this.#options.prefix },
    )
    const watcher: Watcher = { subscriber, subscribed: false }
    this.#watchers.set(name, watcher)
    subscriber.subscribed.then(
      () => {
        watcher.subscribed = true
        this.#retries = 0
        this.#check()
      },
      (err: unknown) => this.#watcherLost(name, watcher, err),
    )
  }

  #watcherLost(name: string, watcher: Watcher, err?: unknown): void {
    watcher.subscriber.close()
    if (this.#watchers.get(name) !== watcher || this.#closed) return
    this.#watchers.delete(name)
    this.#state.lose(err)
    const retry = setTimeout(() => {
      const address = this.#masters.get(name)
      if (address !== undefined && !this.#watchers.has(name) && !this.#closed) {
        this.#source().then(
          (template) => this.#watch(template, name, address),
          (failed: unknown) => this.#state.lose(failed),
        )
      }
    }, backoff(this.#retries++))
    retry.unref()
  }

  /** The client the subscribers are duplicated from: one of the cluster's own node clients. */
  #source(): Promise<TrackableClient> {
    this.#template ??= nodeClientOf(this.#cluster.client).then((client) => {
      const source = trackableClient(client)
      if (source === undefined) throw new TypeError('express-stash: the cluster client gave no node client to duplicate')
      return source
    })
    this.#template.catch(() => (this.#template = undefined))
    return this.#template
  }

  /** ioredis's `natMap` or node-redis's `nodeAddressMap`: where the client connects for an announced address. */
  #addressMap(): (address: Address) => Address {
    const options = (this.#cluster.client as { options?: { natMap?: unknown; nodeAddressMap?: unknown } }).options
    const map = options?.natMap ?? options?.nodeAddressMap
    return (address) => {
      const announced = `${address.host}:${address.port}`
      const mapped: unknown =
        typeof map === 'function'
          ? (map as (announced: string) => unknown)(announced)
          : (map as Record<string, unknown> | undefined)?.[announced]
      return isAddress(mapped) ? mapped : address
    }
  }

  /** Confirms the channel once every master's subscriber is subscribed. */
  #check(): void {
    if (this.#state.confirmed || this.#closed || this.#slotMap === undefined || this.#masters.size === 0) return
    for (const name of this.#masters.keys()) {
      if (this.#watchers.get(name)?.subscribed !== true) return
    }
    this.#state.confirm()
  }
}

/** The masters that serve slots in a `CLUSTER SLOTS` reply, by `host:port`, as the client reaches them. */
function mastersOf(reply: unknown, reach: (address: Address) => Address): Map<string, Address> {
  const masters = new Map<string, Address>()
  for (const range of Array.isArray(reply) ? (reply as unknown[][]) : []) {
    const master = range[2] as unknown[] | undefined
    if (!Array.isArray(master)) continue
    const address = reach({ host: String(master[0]), port: Number(master[1]) })
    masters.set(`${address.host}:${address.port}`, address)
  }
  return masters
}

function isAddress(value: unknown): value is Address {
  const any = value as Partial<Address> | null | undefined
  return typeof any?.host === 'string' && typeof any.port === 'number'
}

/** One connected node client of a cluster client: node-redis `nodeClient(master)`, ioredis `nodes('master')`. */
async function nodeClientOf(cluster: unknown): Promise<unknown> {
  const any = cluster as {
    nodes?(role: 'master'): unknown[]
    masters?: readonly unknown[]
    getMasters?(): readonly unknown[]
    nodeClient?(node: unknown): unknown
  }
  if (typeof any.nodes === 'function') return any.nodes('master')[0]
  const master = (any.masters ?? any.getMasters?.() ?? [])[0]
  if (master === undefined) throw new Error('the cluster client knows no master yet')
  return any.nodeClient !== undefined ? await any.nodeClient(master) : (master as { client?: unknown }).client
}
