import { randomBytes } from 'node:crypto'
import { createClient } from 'redis'
import { redisAdapter } from '../lib/index.js'
import { runCoreSuite } from './http/core-suite.js'
import { runLifecycleSuite } from './http/lifecycle-suite.js'
import { FRAMEWORKS } from './support/frameworks.js'
import { redisUrlForTests, type TestRedisUrl } from './support/redis-server.js'

// The HTTP suites of the memory adapter, unchanged, on a real Redis.
let redis: TestRedisUrl
let client: ReturnType<typeof createClient>

beforeAll(async () => {
  redis = await redisUrlForTests()
  client = createClient({ url: redis.url })
  client.on('error', () => {})
  await client.connect()
})

afterAll(async () => {
  await client?.close()
  await redis?.stop()
})

const adapter = () => redisAdapter({ client, prefix: `http:${randomBytes(6).toString('base64url')}:` })

for (const framework of FRAMEWORKS) {
  runCoreSuite(framework, adapter)
  runLifecycleSuite(framework, adapter)
}
