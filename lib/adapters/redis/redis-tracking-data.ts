/**
 * The data connection of the near cache's invalidation channel: a duplicate of the adapter's
 * client that the adapter sends its record reads and writes through, and on which tracking is
 * enabled. It reconnects in place, on timers that never hold the process and stop on `close()`.
 * @module
 */
import { driverFor, type RedisDriver } from './redis-driver.js'
import { backoff, closeOwned } from './redis-connect.js'
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

/** What the data connection reports. */
export interface DataConnectionEvents {
  /** Connected (again): tracking is off on a new connection. */
  up(): void
  /** Disconnected, failed to connect, or a PING went unanswered (it is reconnected then). */
  down(err?: Error): void
}

/** The connection the adapter sends its record reads and writes through, reconnecting by itself. */
export interface DataConnection {
  /** The connection as a driver; its `close()` is {@link DataConnection.close}. */
  readonly driver: RedisDriver
  /** Closes the connection: gracefully within a second, else forced; stops every timer; never rejects. */
  close(): Promise<void>
}

/** A data connection of one library, before its PINGs. */
interface ReconnectingConnection extends DataConnection {
  /** Drops the connection and connects again. */
  reconnect(): void
}

/**
 * Opens the data connection, duplicated from the adapter's client, and PINGs it while it is up:
 * a connection cut without a word (or a server that stopped answering) is reported and reconnected.
 */
export function openDataConnection(source: TrackableClient, events: DataConnectionEvents, liveness: Liveness): DataConnection {
  let up = false
  let pinging = false
  const tracked: DataConnectionEvents = {
    up() {
      up = true
      events.up()
    },
    down(err) {
      up = false
      events.down(err)
    },
  }
  const connection = source.library === 'ioredis' ? ioRedisData(source.client, tracked) : nodeRedisData(source.client, tracked)
  const ping = async (): Promise<void> => {
    if (!up || pinging) return
    pinging = true
    try {
      await within(
        Promise.resolve().then(() => connection.driver.command(undefined, ['PING'])),
        liveness.timeout,
        'PING',
      )
    } catch (err) {
      if (!up) return
      tracked.down(err as Error)
      connection.reconnect()
    } finally {
      pinging = false
    }
  }
  const pinger = setInterval(() => void ping(), liveness.pingInterval)
  pinger.unref()
  const close = (): Promise<void> => {
    clearInterval(pinger)
    return connection.close()
  }
  connection.driver.close = close
  return { driver: connection.driver, close }
}

/** A node-redis data connection, reconnected on an unref'd timer (node-redis's own would hold the process after close). */
function nodeRedisData(source: NodeRedisSource, events: DataConnectionEvents): ReconnectingConnection {
  const connection = source.duplicate(nodeRedisOverrides(source))
  const driver = driverFor(connection)
  let closed = false
  let retries = 0
  let retry: NodeJS.Timeout | undefined
  const connect = (): void => {
    retry = undefined
    if (!closed && !connection.isOpen) connection.connect().catch(failed)
  }
  const scheduleConnect = (): void => {
    if (closed || retry !== undefined || connection.isOpen) return
    retry = setTimeout(connect, backoff(retries++))
    retry.unref()
  }
  // A lost connection comes as 'error' (v4 and v5 emit it once more once closed), a forced close as 'end'.
  function failed(err?: Error): void {
    if (err !== undefined) driver.lastError = err
    if (closed) return
    events.down(err)
    scheduleConnect()
  }
  connection.on('error', failed)
  connection.on('end', () => failed())
  connection.on('ready', () => {
    retries = 0
    if (!closed) events.up()
  })
  connect()
  const close = async (): Promise<void> => {
    closed = true
    clearTimeout(retry)
    const graceful = connection.isReady ? (connection.close ?? connection.quit)?.bind(connection) : undefined
    await closeOwned(graceful, () => destroyNodeRedis(connection))
  }
  return { driver, reconnect: () => destroyNodeRedis(connection), close }
}

/** An ioredis data connection, reconnected by ioredis (whose timer `disconnect()` clears). */
function ioRedisData(source: IoRedisSource, events: DataConnectionEvents): ReconnectingConnection {
  const connection = source.duplicate({
    lazyConnect: true,
    retryStrategy: (times: number) => backoff(times - 1),
    disconnectTimeout: 0,
  })
  const driver = driverFor(connection)
  let closed = false
  connection.on('error', (err) => void (driver.lastError = err))
  connection.on('close', () => {
    if (!closed) events.down(driver.lastError)
  })
  connection.on('ready', () => {
    if (!closed) events.up()
  })
  connection.connect().catch(() => {}) // a failed first attempt is retried like any reconnect
  const close = async (): Promise<void> => {
    closed = true
    const graceful = connection.status === 'ready' ? () => connection.quit() : undefined
    await closeOwned(graceful, () => destroyIoRedis(connection))
  }
  return { driver, reconnect: () => connection.disconnect(true), close }
}
