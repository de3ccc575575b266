/**
 * Switching a live app from connect-redis to StashSessionStore with `migrateFrom`: the app runs
 * on express-session + connect-redis 9 first, then is released again on StashSessionStore with
 * the same secret and cookie name, while a supertest agent keeps its cookies. Real redis-servers,
 * real time.
 * @module
 */
import { randomBytes } from 'node:crypto'
import { RedisStore } from 'connect-redis'
import { MemoryStore } from 'express-session'
import { createClient } from 'redis'
import request from 'supertest'
import { memoryAdapter, redisAdapter, type RedisAdapter } from '../../lib/index.js'
import { sessionRecordKey } from '../../lib/session-store/keys.js'
import { StashSessionStore, type StashSessionStoreOptions } from '../../lib/session-store/session-store.js'
import { cookiePair } from '../support/http.js'
import { useRedis } from '../support/redis-client.js'
import { startRedis } from '../support/redis-server.js'
import { sleepUntil } from './helpers.js'
import { COOKIE, deployment, sessionApp, sidOf, steppingInto } from './migration-app.js'

const redis = useRedis()
const client = () => redis().client
const unique = () => randomBytes(6).toString('base64url')

/** connect-redis on the test server under a prefix of its own, the app on it, and a StashSessionStore migrating from it. */
function release(options: Omit<StashSessionStoreOptions, 'adapter' | 'migrateFrom'> = {}, oldPrefix = `sess:${unique()}:`) {
  const oldStore = new RedisStore({ client: client(), prefix: oldPrefix })
  const adapter: RedisAdapter = redisAdapter({ client: client(), prefix: `app:${unique()}:` })
  const store = new StashSessionStore({ adapter, migrateFrom: oldStore, ...options })
  const site = deployment(sessionApp(oldStore))
  const oldKey = async (sid: string) => (await client().exists(oldPrefix + sid)) === 1
  const records = async () => (await client().keys(`${adapter.prefix}sess:*`)).length
  return { oldStore, store, adapter, site, agent: request.agent(site.handler), oldKey, records }
}

describe('StashSessionStore migrateFrom connect-redis, over HTTP', () => {
  test('a user logged in on connect-redis is still logged in after the switch; the session moves over on first use', async () => {
    const { store, adapter, site, agent, oldKey, records } = release()
    const sid = sidOf(await agent.post('/login/ann').expect(200))
    await agent.post('/cart/book').expect(200, ['book'])
    expect(await oldKey(sid)).toBe(true)

    site.deploy(sessionApp(store))
    expect(await store.unmigratedLength()).toBe(1)
    await agent.get('/me').expect(200, { user: 'ann', cart: ['book'] })
    expect(await oldKey(sid)).toBe(false) // the sess: key is gone ...
    expect(await store.get(sid)).toMatchObject({ user: 'ann', cart: ['book'] }) // ... and the session lives here
    expect(await store.ids()).toEqual([sid])
    expect(await records()).toBe(1)
    expect(await store.unmigratedLength()).toBe(0)
    // It ends when connect-redis would have ended it: with the cookie, a minute after the last save.
    const left = await client().pTTL(adapter.prefix + sessionRecordKey(sid))
    expect(left).toBeGreaterThan(50_000)
    expect(left).toBeLessThanOrEqual(60_000)
    await agent.post('/cart/pen').expect(200, ['book', 'pen'])
    await agent.get('/me').expect(200, { user: 'ann', cart: ['book', 'pen'] })
  })

  test('logout after the switch: the old cookie replayed is logged out, and nothing is moved back', async () => {
    const { store, site, agent, oldKey, records } = release()
    const login = await agent.post('/login/ann').expect(200)
    const [sid, oldCookie] = [sidOf(login), cookiePair(login, COOKIE)]
    site.deploy(sessionApp(store))
    await agent.get('/me').expect(200, { user: 'ann', cart: [] })
    await agent.post('/logout').expect(200)
    await agent.get('/me').expect(200, { user: null, cart: [] })
    await request(site.handler).get('/me').set('Cookie', oldCookie).expect(200, { user: null, cart: [] })
    expect(await oldKey(sid)).toBe(false)
    expect(await store.get(sid)).toBeNull()
    expect(await store.length()).toBe(0)
    expect(await records()).toBe(1) // the tombstone, which no listing counts
  })

  test('a session destroyed before its first use here (a logout or regenerate on another path) is gone from both stores', async () => {
    const { store, site, agent, oldKey } = release()
    const login = await agent.post('/login/ann').expect(200)
    const [sid, oldCookie] = [sidOf(login), cookiePair(login, COOKIE)]
    site.deploy(sessionApp(store))
    await store.destroy(sid) // what express-session's regenerate() calls for the old ID
    expect(await oldKey(sid)).toBe(false)
    await request(site.handler).get('/me').set('Cookie', oldCookie).expect(200, { user: null, cart: [] })
    expect(await store.length()).toBe(0)
  })

  test('logging in again after the switch (regenerate) destroys the old session in both stores', async () => {
    const { store, site, agent, oldKey } = release()
    const login = await agent.post('/login/ann').expect(200)
    const [sid, oldCookie] = [sidOf(login), cookiePair(login, COOKIE)]
    site.deploy(sessionApp(store))
    const again = await agent.post('/login/bob').expect(200)
    expect(sidOf(again)).not.toBe(sid)
    await agent.get('/me').expect(200, { user: 'bob', cart: [] })
    expect(await oldKey(sid)).toBe(false)
    await request(site.handler).get('/me').set('Cookie', oldCookie).expect(200, { user: null, cart: [] })
    expect(await store.ids()).toEqual([sidOf(again)])
  })

  test('parallel first requests of one session: every one is logged in, and one copy ends up in the stash store', async () => {
    const { oldStore, adapter, site, agent, oldKey, records } = release()
    const sid = sidOf(await agent.post('/login/ann').expect(200))
    // Every request reads connect-redis before any of them writes here: all eight race to move it.
    const parallel = 8
    let reads = 0
    let openGate: () => void = () => {}
    const gate = new Promise<void>((resolve) => (openGate = resolve))
    const migrateFrom = steppingInto(oldStore, async (_sid, read) => {
      const found = await read()
      if (++reads === parallel) openGate()
      await gate
      return found
    })
    const store = new StashSessionStore({ adapter, migrateFrom })
    site.deploy(sessionApp(store))
    const responses = await Promise.all(Array.from({ length: parallel }, () => agent.get('/me')))
    expect(responses.map((res) => [res.status, res.body])).toEqual(Array(parallel).fill([200, { user: 'ann', cart: [] }]))
    expect(reads).toBe(parallel)
    expect(await oldKey(sid)).toBe(false)
    expect(await records()).toBe(1)
    expect(await store.ids()).toEqual([sid])
  })

  test('an old session whose cookie has expired is not moved, though its key outlived it (a connect-redis ttl function)', async () => {
    const oldPrefix = `sess:${unique()}:`
    const oldStore = new RedisStore({ client: client(), prefix: oldPrefix, ttl: () => 3600 })
    const site = deployment(sessionApp(oldStore, { maxAge: 300 }))
    const login = await request(site.handler).post('/login/ann').expect(200)
    const loggedIn = Date.now()
    const store = new StashSessionStore({
      adapter: redisAdapter({ client: client(), prefix: `app:${unique()}:` }),
      migrateFrom: oldStore,
    })
    site.deploy(sessionApp(store))
    await sleepUntil(loggedIn + 500)
    expect(await client().exists(oldPrefix + sidOf(login))).toBe(1) // the key is still there ...
    // ... but its session has ended (the browser would drop the cookie; a replay does not bring it back).
    await request(site.handler).get('/me').set('Cookie', cookiePair(login, COOKIE)).expect(200, { user: null, cart: [] })
    expect(await store.length()).toBe(0)
    expect(await store.get(sidOf(login))).toBeNull()
  })

  test('connect-redis down: a session not moved yet fails with 503, never a silent logout; one moved already works', async () => {
    const down = await startRedis()
    const oldClient = createClient({ url: down.url }).on('error', () => {})
    try {
      await oldClient.connect()
      const oldStore = new RedisStore({ client: oldClient, prefix: 'sess:' })
      const site = deployment(sessionApp(oldStore))
      const [ann, bob] = [request.agent(site.handler), request.agent(site.handler)]
      await ann.post('/login/ann').expect(200)
      await bob.post('/login/bob').expect(200)
      const adapter = redisAdapter({ client: client(), prefix: `app:${unique()}:` })
      const store = new StashSessionStore({ adapter, migrateFrom: oldStore, migrateTimeout: 300 })
      site.deploy(sessionApp(store))
      await ann.get('/me').expect(200, { user: 'ann', cart: [] })
      await down.stop()

      const res = await bob.get('/me').expect(503)
      expect(res.body).toEqual({
        code: 'ERR_STASH_UNAVAILABLE',
        message: 'express-stash: the `migrateFrom` store did not answer get() within 300 ms',
      })
      await ann.get('/me').expect(200, { user: 'ann', cart: [] }) // found here first: the old store is not asked
      // A logout that cannot delete the old copy is reported, and holds: the session stays destroyed here.
      await ann.post('/logout').expect(503)
      await ann.get('/me').expect(200, { user: null, cart: [] })
      expect(await store.length()).toBe(0)
    } finally {
      oldClient.destroy()
      await down.stop()
    }
  })
})

describe('StashSessionStore migrateFrom: the admin calls', () => {
  test('unmigratedLength() counts what connect-redis still holds, without the stash records under the same prefix', async () => {
    const shared = `shared:${unique()}:`
    const oldStore = new RedisStore({ client: client(), prefix: shared })
    const site = deployment(sessionApp(oldStore))
    const agents = [1, 2, 3].map(() => request.agent(site.handler))
    for (const [i, agent] of agents.entries()) await agent.post(`/login/user${i}`).expect(200)
    // The adapter's prefix is connect-redis's: its records (shared:sess:<hash>) match connect-redis's SCAN.
    const store = new StashSessionStore({ adapter: redisAdapter({ client: client(), prefix: shared }), migrateFrom: oldStore })
    site.deploy(sessionApp(store))
    await agents[0]!.get('/me').expect(200, { user: 'user0', cart: [] })
    await agents[1]!.post('/logout').expect(200)
    expect(await oldStore.length()).toBe(3) // user2, and this store's record of user0 and tombstone of user1
    expect(await store.unmigratedLength()).toBe(1)
    expect(await store.length()).toBe(1)
    await agents[2]!.get('/me').expect(200, { user: 'user2', cart: [] })
    expect(await store.unmigratedLength()).toBe(0)
    expect(await store.length()).toBe(2)
  })

  test('clear() logs everyone out of both stores', async () => {
    const { store, site, agent, oldKey } = release()
    const other = request.agent(site.handler)
    const sid = sidOf(await agent.post('/login/ann').expect(200))
    await other.post('/login/bob').expect(200)
    site.deploy(sessionApp(store))
    await other.get('/me').expect(200, { user: 'bob', cart: [] }) // moved; ann is not yet
    expect(await store.clear()).toBe(1)
    expect(await oldKey(sid)).toBe(false)
    await agent.get('/me').expect(200, { user: null, cart: [] })
    await other.get('/me').expect(200, { user: null, cart: [] })
    expect(await store.unmigratedLength()).toBe(0)
  })

  test('any express-session store works as migrateFrom: its MemoryStore, counted by length()', async () => {
    const oldStore = new MemoryStore()
    const site = deployment(sessionApp(oldStore))
    const agent = request.agent(site.handler)
    const sid = sidOf(await agent.post('/login/ann').expect(200))
    await request(site.handler).post('/login/bob').expect(200)
    const store = new StashSessionStore({ migrateFrom: oldStore })
    expect(await store.unmigratedLength()).toBe(2)
    site.deploy(sessionApp(store))
    await agent.get('/me').expect(200, { user: 'ann', cart: [] })
    expect(await store.unmigratedLength()).toBe(1)
    expect(await new Promise((resolve) => oldStore.get(sid, (_err, s) => resolve(s)))).toBeUndefined()
    await agent.post('/logout').expect(200)
    expect(await store.clear()).toBe(0)
    expect(await store.unmigratedLength()).toBe(0)
    await store.close()
  })

  test('without migrateFrom, unmigratedLength() is 0', async () => {
    const store = new StashSessionStore()
    expect(await store.unmigratedLength()).toBe(0)
    await store.close()
  })

  test('a migrateFrom store without clear() fails clear() with a TypeError, before anything is deleted', async () => {
    const oldStore = new MemoryStore()
    const store = new StashSessionStore({
      migrateFrom: { get: oldStore.get.bind(oldStore), destroy: oldStore.destroy.bind(oldStore) },
    })
    await store.set('kept', { cookie: { expires: null } } as never)
    await expect(store.clear()).rejects.toThrow(/^express-stash: the `migrateFrom` store has no clear\(\)/)
    await expect(store.unmigratedLength()).rejects.toThrow(/has neither ids\(\) nor length\(\)/)
    expect(await store.length()).toBe(1)
    await store.close()
  })

  test.each([
    [{ migrateFrom: null }, /`StashSessionStore.migrateFrom` must be an express-session store/],
    [{ migrateFrom: 'redis://localhost' }, /`StashSessionStore.migrateFrom` must be an express-session store/],
    [{ migrateFrom: {} }, /`StashSessionStore.migrateFrom`/],
    [{ migrateFrom: { get() {} } }, /`StashSessionStore.migrateFrom`/],
    [{ migrateFrom: memoryAdapter() }, /`StashSessionStore.migrateFrom`/], // an adapter is not a session store
    [{ migrateFrom: new MemoryStore(), migrateTimeout: 0 }, /`StashSessionStore.migrateTimeout` must be a positive integer/],
    [{ migrateFrom: new MemoryStore(), migrateTimeout: '1s' }, /`StashSessionStore.migrateTimeout`/],
    [{ migrateTimeout: 1000 }, /`StashSessionStore.migrateTimeout` needs `migrateFrom`/],
  ])('refuses %p with a TypeError naming the option', (options, message) => {
    expect(() => new StashSessionStore(options as never)).toThrow(TypeError)
    expect(() => new StashSessionStore(options as never)).toThrow(message)
  })
})
