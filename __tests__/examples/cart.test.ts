import { spawn } from 'node:child_process'
import path from 'node:path'
import request from 'supertest'
import { createApp } from '../../examples/cart.js'
import { cookiePair } from '../support/http.js'
import { startRedis, type RedisServer } from '../support/redis-server.js'

const ROOT = path.join(__dirname, '..', '..')

// The cart example against a private redis-server.
describe('examples/cart', () => {
  let redis: RedisServer
  let cart: ReturnType<typeof createApp>
  beforeAll(async () => {
    redis = await startRedis()
    cart = createApp({ redisUrl: redis.url, secret: 'cart test' })
  })
  afterAll(async () => {
    await cart?.stash.close()
    await redis?.stop()
  })

  test('concurrent quantity changes are all kept (update), removal, validation', async () => {
    const { app } = cart
    const cookie = cookiePair(
      await request(app)
        .post('/cart/items/apple')
        .expect(200, { basket: { apple: 1 } }),
    )
    const add = (item: string, quantity: number) =>
      request(app).post(`/cart/items/${item}`).set('cookie', cookie).send({ quantity })
    const responses = await Promise.all([
      ...Array.from({ length: 20 }, () => add('apple', 1)),
      ...Array.from({ length: 10 }, () => add('pear', 2)),
    ])
    expect(responses.map((res) => res.status)).toEqual(Array(30).fill(200))
    await request(app)
      .get('/cart')
      .set('cookie', cookie)
      .expect(200, { user: null, basket: { apple: 21, pear: 20 } })

    await add('pear', -20).expect(200, { basket: { apple: 21 } })
    await request(app).delete('/cart/items/apple').set('cookie', cookie).expect(200, { basket: {} })
    await request(app).get('/cart').set('cookie', cookie).expect(200, { user: null, basket: {} })

    await add('__proto__', 1).expect(400)
    await add('apple', 1.5).expect(400)
    await add('apple', 100).expect(400)
  })

  test('login rotates the stash ID: the cart follows the new cookie, the old one is worthless', async () => {
    const { app } = cart
    const before = cookiePair(await request(app).post('/cart/items/tea').send({ quantity: 3 }).expect(200))
    const login = await request(app)
      .post('/login')
      .set('cookie', before)
      .send({ user: 'ada' })
      .expect(200, { user: 'ada', basket: { tea: 3 } })
    const after = cookiePair(login)
    expect(after).not.toBe(before)
    await request(app)
      .get('/cart')
      .set('cookie', after)
      .expect(200, { user: 'ada', basket: { tea: 3 } })
    await request(app).get('/cart').set('cookie', before).expect(200, { user: null, basket: {} })

    await request(app).post('/logout').set('cookie', after).expect(200)
    await request(app).get('/cart').set('cookie', after).expect(200, { user: null, basket: {} })
  })

  test('without REDIS_URL, `npm run example:cart` explains how to start a Redis and exits non-zero', async () => {
    const env = { ...process.env }
    delete env.REDIS_URL
    const child = spawn(process.execPath, ['--import', 'tsx', 'examples/cart.ts'], {
      cwd: ROOT,
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    let stderr = ''
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()))
    const code = await new Promise<number | null>((resolve) => child.on('exit', resolve))
    expect(code).toBe(1)
    expect(stderr).toContain('REDIS_URL=redis://localhost:6379 npm run example:cart')
  })
})
