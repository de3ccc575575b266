import { randomBytes } from 'node:crypto'
import { memoryAdapter, redisAdapter } from '../lib/index.js'
import { runResurrectionSuite } from './http/resurrection-suite.js'
import { useRedis } from './support/redis-client.js'

const redis = useRedis()
runResurrectionSuite('memory', () => memoryAdapter())
runResurrectionSuite('redis', () =>
  redisAdapter({ client: redis().client, prefix: `res:${randomBytes(6).toString('base64url')}:` }),
)
