/**
 * The subscriber of the near cache's invalidation channel: a connection duplicated from the
 * adapter's client, subscribed to {@link INVALIDATE_CHANNEL}, and never reconnected (a lost one is
 * replaced), so the client id it reads with `CLIENT ID` before subscribing is always its own (a
 * library's reconnect would resubscribe under a new id). It speaks RESP2 whatever the client
 * does: Redis sends invalidations as messages on the channel only to a RESP2 connection.
 * @module
 */
import {
  destroyIoRedis,
  destroyNodeRedis,
  nodeRedisOverrides,
  within,
  type IoRedisSource,
  type Liveness,
  type NodeRedisSource,
  type TrackableClient,
} from './redis-tracking-clients.js'

/** The channel on which Redis sends invalidations to a RESP2 connection that tracking redirects to. */
const INVALIDATE_CHANNEL = '__redis__:invalidate'

/** What a subscriber reports. */
export interface SubscriberEvents {
  /** The payload of one invalidation: the keys, or `null` for "everything" (FLUSHALL, FLUSHDB). */
  keys(keys: string[] | null): void
  /** The connection was lost after it had subscribed (not called after `close()`); it is closed. */
  lost(err?: Error): void
}

/**
 * Where a subscriber connects and what it tracks itself: a Cluster's channel opens one per master
 * (redis-tracking-cluster.ts), each with tracking redirected to itself.
 */
export interface SubscriberTarget {
  /** The node to connect to instead of the source client's own. */
  readonly address?: { readonly host: string; readonly port: number }
  /**
   * Enables `CLIENT TRACKING on REDIRECT <its own id> BCAST PREFIX <prefix>` before subscribing, so
   * this one connection receives every change under the prefix on its node.
   */
  readonly trackPrefix?: string
}

/** A connection subscribed to {@link INVALIDATE_CHANNEL}, never reconnected: a lost one is replaced. */
export interface Subscriber {
  /** Its client id once it is subscribed; rejects (and the subscriber is closed) if it could not be within the timeout. */
  readonly subscribed: Promise<number>
  /** Closes the connection at once and stops its PINGs; idempotent. */
  close(): void
}

/** The few operations a subscriber needs of its connection, whatever the library. */
interface SubscriberWire {
  connect(): Promise<unknown>
  send(args: string[]): Promise<unknown>
  subscribe(listener: (payload: unknown) => void): Promise<unknown>
  onLoss(listener: (err?: Error) => void): void
  destroy(): void
}

/**
 * Opens a subscriber: connects, reads its `CLIENT ID` and subscribes, within `liveness.timeout`
 * milliseconds; then PINGs it (PING is allowed while subscribed): one that does not answer in
 * time, cut without a word, is lost.
 */
export function openSubscriber(
  source: TrackableClient,
  events: SubscriberEvents,
  liveness: Liveness,
  target: SubscriberTarget = {},
): Subscriber {
  const { address, trackPrefix } = target
  const wire =
    source.library === 'ioredis' ? ioRedisSubscriberWire(source.client, address) : nodeRedisSubscriberWire(source.client, address)
  let subscribed = false
  let ended = false
  let pinger: NodeJS.Timeout | undefined
  const close = (): void => {
    if (ended) return
    ended = true
    clearInterval(pinger)
    wire.destroy()
  }
  // A loss while subscribing fails the setup (its commands reject, or the check below).
  const lose = (err?: Error): void => {
    if (ended) return
    close()
    if (subscribed) events.lost(err)
  }
  wire.onLoss(lose)
  const ping = (): Promise<unknown> => within(wire.send(['PING']), liveness.timeout, 'PING').catch(lose)
  const setup = async (): Promise<number> => {
    await wire.connect()
    const id = Number(await wire.send(['CLIENT', 'ID']))
    if (trackPrefix !== undefined)
      await wire.send(['CLIENT', 'TRACKING', 'on', 'REDIRECT', String(id), 'BCAST', 'PREFIX', trackPrefix])
    await wire.subscribe((payload) => events.keys(keysOf(payload)))
    if (ended) throw new Error('the subscriber was closed while it subscribed')
    subscribed = true
    let pinging: Promise<unknown> | undefined
    pinger = setInterval(() => {
      pinging ??= ping().finally(() => (pinging = undefined))
    }, liveness.pingInterval)
    pinger.unref()
    return id
  }
  const opening = within(setup(), liveness.timeout, 'subscribing to invalidations').catch((err: unknown) => {
    close()
    throw err
  })
  return { subscribed: opening, close }
}

/** The keys of an invalidation message (strings or Buffers), or `null` for a flush. */
function keysOf(payload: unknown): string[] | null {
  if (payload === null || payload === undefined) return null
  const keys = (Array.isArray(payload) ? payload : [payload]) as (Buffer | string)[]
  return keys.map((key) => key.toString())
}

/** A node-redis subscriber: RESP2, no reconnect, no offline queue, none of the client's RESP3-only features. */
function nodeRedisSubscriberWire(source: NodeRedisSource, address: SubscriberTarget['address']): SubscriberWire {
  const overrides = nodeRedisOverrides(source)
  const connection = source.duplicate({
    ...overrides,
    ...(address === undefined ? {} : { socket: { ...(overrides.socket as object), host: address.host, port: address.port } }),
    RESP: 2,
    disableOfflineQueue: true,
    commandOptions: undefined,
  })
  return {
    connect: () => connection.connect(),
    send: async (args) => connection.sendCommand(args),
    subscribe: (listener) => connection.subscribe(INVALIDATE_CHANNEL, listener),
    onLoss(listener) {
      connection.on('error', listener)
      connection.on('end', () => listener())
    },
    destroy: () => destroyNodeRedis(connection),
  }
}

/** An ioredis subscriber: RESP2, connected by `connect()`, no reconnect, no offline queue. */
function ioRedisSubscriberWire(source: IoRedisSource, address: SubscriberTarget['address']): SubscriberWire {
  const connection = source.duplicate({
    ...address,
    lazyConnect: true,
    retryStrategy: () => null,
    reconnectOnError: null,
    autoResubscribe: false,
    enableOfflineQueue: false,
    disconnectTimeout: 0,
    protocol: 2,
  })
  let lastError: Error | undefined
  connection.on('error', (err) => void (lastError = err))
  return {
    connect: () => connection.connect(),
    send: async ([command, ...args]) => connection.call(command!, ...args),
    subscribe(listener) {
      // Not the `message` event: it joins the keys with commas.
      connection.on('messageBuffer', (channel, message) => {
        if (String(channel) === INVALIDATE_CHANNEL) listener(message)
      })
      return connection.subscribe(INVALIDATE_CHANNEL)
    },
    onLoss: (listener) => connection.on('close', () => listener(lastError)),
    destroy: () => destroyIoRedis(connection),
  }
}
