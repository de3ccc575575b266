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
      url: 'redis://localhost:1',
      client: undefined,
      clientOptions: { database: 2 },
    })
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
  ])('rejects %p naming %s', (connection, name) => {
    expect(() => resolveRedisOptions(connection as never, {})).toThrow(TypeError)
    expect(() => resolveRedisOptions(connection as never, {})).toThrow(name)
  })
})
