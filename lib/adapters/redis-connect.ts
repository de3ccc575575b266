import { driverFor, type IoRedisClient, type NodeRedisClient, type RedisDriver } from './redis-client.js'

// Module names in variables: `redis` and `ioredis` are optional peers, loaded only for a URL,
// and neither TypeScript nor bundlers should resolve them at build time.
const NODE_REDIS = 'redis'
const IOREDIS = 'ioredis'

type NodeRedisModule = {
  createClient(options: Record<string, unknown>): NodeRedisClient & Emitter & { connect(): Promise<unknown> }
}
type IoRedisModule = { default: new (url: string, options: Record<string, unknown>) => IoRedisClient & Emitter }
type Emitter = { on(event: 'error', listener: (err: Error) => void): unknown }

/**
 * Creates and connects a client for `url` with `redis` (node-redis) if installed, else `ioredis`.
 * The client never queues commands while disconnected (the adapter bounds every call instead)
 * and reconnects by itself; its last connection error becomes the cause of the requests'
 * `StashUnavailableError` meanwhile.
 */
export async function connectUrl(url: string, clientOptions: Record<string, unknown>): Promise<RedisDriver> {
  const nodeRedis = await optionalImport<NodeRedisModule>(NODE_REDIS)
  if (nodeRedis !== undefined) {
    const client = nodeRedis.createClient({ url, disableOfflineQueue: true, ...clientOptions })
    const driver = driverFor(client)
    const remember = (err: Error): void => void (driver.lastError = err)
    client.on('error', remember)
    client.connect().catch(remember)
    return driver
  }
  const ioredis = await optionalImport<IoRedisModule>(IOREDIS)
  if (ioredis !== undefined) {
    // No offline queue, and no re-sending of commands in flight when a connection drops: a
    // write the request already reported as failed must not land later.
    const client = new ioredis.default(url, { enableOfflineQueue: false, autoResendUnfulfilledCommands: false, ...clientOptions })
    const driver = driverFor(client)
    client.on('error', (err) => void (driver.lastError = err))
    return driver
  }
  throw new Error('redisAdapter with a URL needs the `redis` (node-redis) or `ioredis` package: npm install redis')
}

async function optionalImport<T>(name: string): Promise<T | undefined> {
  try {
    return (await import(name)) as T
  } catch (err) {
    const code = (err as { code?: string }).code
    if (code === 'MODULE_NOT_FOUND' || code === 'ERR_MODULE_NOT_FOUND') return undefined
    throw err
  }
}
