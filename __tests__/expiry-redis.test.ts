import { randomBytes } from 'node:crypto'
import { redisAdapter } from '../lib/index.js'
import { runExpirySuite } from './http/expiry-suite.js'
import { useRedis } from './support/redis-client.js'

const redis = useRedis()
runExpirySuite('redis', () => redisAdapter({ client: redis().client, prefix: `expiry:${randomBytes(6).toString('base64url')}:` }))
