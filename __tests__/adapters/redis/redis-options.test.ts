import { resolveRedisOptions } from '../../../lib/adapters/redis/redis-options.js'

/** A client of node-redis's shape, never connected. */
const client = { isReady: false, sendCommand: async () => null }

describe('resolveRedisOptions', () => {
  it('fills in the defaults for a URL and keeps the client options apart', () => {
    expect(resolveRedisOptions({ url: 'redis://localhost:1', database: 2 }, {})).toEqual({
      prefix: 'stash:',
      timeout: 1000,
      maxPending: 1000,
      scanCount: 200,
      cache: undefined,
      url: 'redis://localhost:1',
      client: undefined,
      clientOptions: { database: 2 },
    })
  })

  it('passes node-redis and ioredis options on, and anything in clientOptions', () => {
    const resolved = resolveRedisOptions(
      { url: 'redis://x', socket: { tls: true }, connectionName: 'app', clientOptions: { future: 1 } },
      {},
    )
    expect(resolved.clientOptions).toEqual({ socket: { tls: true }, connectionName: 'app', future: 1 })
  })

  it('resolves the cache option with its defaults', () => {
    expect(resolveRedisOptions('redis://x', { cache: true }).cache).toEqual({ maxEntries: 10_000, maxBytes: 16 * 1024 * 1024 })
    expect(resolveRedisOptions('redis://x', { cache: { maxEntries: 5 } }).cache).toEqual({
      maxEntries: 5,
      maxBytes: 16 * 1024 * 1024,
    })
    expect(resolveRedisOptions('redis://x', { cache: false }).cache).toBeUndefined()
    expect(resolveRedisOptions({ url: 'redis://x', cache: true }, {}).clientOptions).toEqual({})
  })

  it('lets the second argument override the connection', () => {
    const resolved = resolveRedisOptions({ client, prefix: 'a:', timeout: 5 }, { prefix: 'b:' })
    expect(resolved).toMatchObject({ prefix: 'b:', timeout: 5, client, clientOptions: {} })
  })

  it.each([
    [{ url: 'redis://x', timeout: 0 }, 'redisAdapter.timeout'],
    [{ url: 'redis://x', maxPending: 1.5 }, 'redisAdapter.maxPending'],
    [{ url: 'redis://x', scanCount: '10' }, 'redisAdapter.scanCount'],
    [{ url: 'redis://x', prefix: 1 }, 'redisAdapter.prefix'],
    [{ url: 'http://x' }, 'redisAdapter.url'],
    [{}, 'redisAdapter connection'],
    [{ url: 'redis://x', client }, 'redisAdapter connection'],
    [{ client, database: 2 }, 'redisAdapter.database'],
    [{ client: {} }, 'redisAdapter.client'],
    [{ client, clientOptions: {} }, 'redisAdapter.clientOptions'],
    [{ url: 'redis://x', cache: 'yes' }, 'redisAdapter.cache'],
    [{ url: 'redis://x', cache: { maxEntries: 0 } }, 'redisAdapter.cache.maxEntries'],
    [{ url: 'redis://x', cache: { maxBytes: -1 } }, 'redisAdapter.cache.maxBytes'],
    [{ url: 'redis://x', cache: { maxEntry: 5 } }, 'redisAdapter.cache.maxEntry'],
    [{ url: 'redis://x', clientOptions: 'socket' }, 'redisAdapter.clientOptions'],
    // A misspelt option never vanishes into the client the adapter creates.
    [{ url: 'redis://x', scancount: 10 }, 'redisAdapter.scancount'],
    [{ url: 'redis://x', databse: 2 }, 'redisAdapter.databse'],
  ])('rejects %p naming %s', (connection, name) => {
    expect(() => resolveRedisOptions(connection as never, {})).toThrow(TypeError)
    expect(() => resolveRedisOptions(connection as never, {})).toThrow(name)
  })
})
