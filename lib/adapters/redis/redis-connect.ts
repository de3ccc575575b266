/**
 * The client `redisAdapter(url)` creates and owns: node-redis if installed, else ioredis (both
 * optional peers, imported only here), configured never to queue commands while disconnected,
 * reconnecting by itself, and closed by the adapter's `close()` without leaving timers behind.
 * @module
 */
import type { IoRedisClient, NodeRedisClient } from './redis-client.js'
import { driverFor, type RedisDriver } from './redis-driver.js'

// Module names in variables: `redis` and `ioredis` are optional peers, loaded only for a URL,
// and neither TypeScript nor bundlers should resolve them at build time.
const NODE_REDIS = 'redis'
const IOREDIS = 'ioredis'

/**
 * Milliseconds `close()` gives a client the adapter created to close gracefully (replies still
 * pending, `QUIT`) before it is forced shut.
 */
export const GRACEFUL_CLOSE_MS = 1000

type Emitter = {
  on(event: 'error', listener: (err: Error) => void): unknown
  on(event: 'ready', listener: () => void): unknown
}
/** The node-redis client (v4 and later) as the adapter creates and closes it. */
type OwnedNodeRedis = NodeRedisClient &
  Emitter & {
    readonly isOpen: boolean
    connect(): Promise<unknown>
    /** v5 and later: closes the socket at once, failing what is pending. */
    destroy?(): void
    /** v4: closes the socket at once (v5 and later: a deprecated alias of `destroy()`). */
    disconnect?(): Promise<unknown>
    unref?(): void
  }
type NodeRedisModule = { createClient(options: Record<string, unknown>): OwnedNodeRedis }
/** The ioredis client as the adapter creates and closes it. */
type OwnedIoRedis = IoRedisClient & Emitter & { disconnect(): void; readonly stream?: { destroy(): void } }
type IoRedisModule = { default: new (url: string, options: Record<string, unknown>) => OwnedIoRedis }

/**
 * Creates and connects a client for `url` with `redis` (node-redis) if installed, else `ioredis`.
 * The client never queues commands while disconnected (the adapter bounds every call instead)
 * and reconnects by itself; its last connection error becomes the cause of the requests'
 * `StashUnavailableError` meanwhile. The driver's `close()` never rejects and leaves nothing
 * running: graceful while connected (bounded by {@link GRACEFUL_CLOSE_MS}), else forced, and no
 * reconnect after it.
 */
export async function connectUrl(url: string, clientOptions: Record<string, unknown>): Promise<RedisDriver> {
  const nodeRedis = await optionalImport<NodeRedisModule>(NODE_REDIS)
  if (nodeRedis !== undefined) return ownNodeRedis(nodeRedis, url, clientOptions)
  const ioredis = await optionalImport<IoRedisModule>(IOREDIS)
  if (ioredis !== undefined) return ownIoRedis(ioredis, url, clientOptions)
  throw new Error('redisAdapter with a URL needs the `redis` (node-redis) or `ioredis` package: npm install redis')
}

/**
 * A node-redis client whose reconnects the adapter schedules itself (node-redis's own wait
 * between attempts is a timer nothing can cancel, which would hold the process after close):
 * the client's `reconnectStrategy` is `false`, and the delays come from the one given in
 * `clientOptions.socket` (a number, a function, or `false`: no reconnects) or the default backoff
 * of node-redis 5 and later, on an unref'd timer cleared by `close()`.
 */
function ownNodeRedis(module: NodeRedisModule, url: string, clientOptions: Record<string, unknown>): RedisDriver {
  const socket = (clientOptions.socket ?? {}) as Record<string, unknown>
  const delayOf = reconnectDelays(socket.reconnectStrategy)
  const client = module.createClient({
    url,
    disableOfflineQueue: true,
    ...clientOptions,
    socket: { ...socket, reconnectStrategy: false },
  })
  const driver = driverFor(client)
  let closed = false
  let retries = 0
  let retry: NodeJS.Timeout | undefined

  const connect = (): void => {
    retry = undefined
    if (!closed && !client.isOpen) client.connect().catch(failed)
  }
  // A refused or lost connection comes as 'error' (v4 and v5 emit it once more before closing): retry once closed.
  function failed(err: Error): void {
    driver.lastError = err
    if (closed || retry !== undefined || client.isOpen) return
    const delay = delayOf(retries++, err)
    if (delay === undefined) return
    retry = setTimeout(connect, delay)
    retry.unref() // a reconnect never keeps the process alive by itself
  }
  client.on('error', failed)
  client.on('ready', () => void (retries = 0))
  connect()

  driver.close = () => {
    closed = true
    clearTimeout(retry)
    const graceful = client.isReady ? (client.close ?? client.quit)?.bind(client) : undefined
    return closeOwned(graceful, async () => {
      try {
        if (typeof client.destroy === 'function') client.destroy()
        else if (client.isOpen) await client.disconnect?.()
      } finally {
        // node-redis 4 and 5 refuse a forced close after a graceful one that timed out: the
        // socket still draining then no longer holds the process.
        client.unref?.()
      }
    })
  }
  return driver
}

/** An ioredis client: ioredis's own reconnect timer is cleared by `disconnect()`. */
function ownIoRedis(module: IoRedisModule, url: string, clientOptions: Record<string, unknown>): RedisDriver {
  // No offline queue, and no re-sending of commands in flight when a connection drops: a
  // write the request already reported as failed must not land later. `disconnectTimeout: 0`:
  // a forced close destroys the socket at once, no 2 s timer waits for a peer that is gone.
  const client = new module.default(url, {
    enableOfflineQueue: false,
    autoResendUnfulfilledCommands: false,
    disconnectTimeout: 0,
    ...clientOptions,
  })
  const driver = driverFor(client)
  client.on('error', (err) => void (driver.lastError = err))
  driver.close = () =>
    closeOwned(client.status === 'ready' ? () => client.quit() : undefined, () => {
      if (client.status !== 'end') client.disconnect() // stops reconnecting, too
      client.stream?.destroy() // a connection still being set up, or a QUIT that got no answer
    })
  return driver
}

/** Runs `graceful` for at most {@link GRACEFUL_CLOSE_MS}, then `force`; never rejects. */
export async function closeOwned(graceful: (() => Promise<unknown>) | undefined, force: () => unknown): Promise<void> {
  if (graceful !== undefined) {
    let timer: NodeJS.Timeout | undefined
    const bound = new Promise<void>((resolve) => (timer = setTimeout(resolve, GRACEFUL_CLOSE_MS)))
    try {
      await Promise.race([graceful(), bound])
    } catch {
      // a client that was closing or closed anyway: forced below
    } finally {
      clearTimeout(timer)
    }
  }
  try {
    await force()
  } catch {
    // already closed
  }
}

/** The delay before reconnect attempt `retries` (0 first), from a node-redis `reconnectStrategy`; `undefined`: give up. */
function reconnectDelays(strategy: unknown): (retries: number, cause: Error) => number | undefined {
  if (strategy === false) return () => undefined
  if (typeof strategy === 'number') return () => strategy
  if (typeof strategy !== 'function') return backoff
  return (retries, cause) => {
    let delay: unknown
    try {
      delay = (strategy as (retries: number, cause: Error) => unknown)(retries, cause)
    } catch {
      return backoff(retries)
    }
    return typeof delay === 'number' ? delay : undefined // false or an Error: no more attempts
  }
}

/** The wait before reconnect attempt `retries` (0 first): node-redis 5's default, 50 ms doubling up to 2 s, plus up to 200 ms of jitter. */
export function backoff(retries: number): number {
  return Math.min(2 ** retries * 50, 2000) + Math.floor(Math.random() * 200)
}

/** The module `name`, or `undefined` when it is not installed. */
async function optionalImport<T>(name: string): Promise<T | undefined> {
  try {
    return (await import(name)) as T
  } catch (err) {
    const code = (err as { code?: string }).code
    if (code === 'MODULE_NOT_FOUND' || code === 'ERR_MODULE_NOT_FOUND') return undefined
    throw err
  }
}
