/**
 * The stash admin calls (`ids`, `length`, `clear`) reach only their instance's records: not
 * those of a longer Redis prefix (`app:v2:` under `app:`), nor the express-session records a
 * `StashSessionStore` keeps in the same adapter. Driven over HTTP, on a real Redis and on a
 * memory table shared through `name`.
 */
import './support/stash-data.js'
import { randomBytes } from 'node:crypto'
import express from 'express'
import session from 'express-session'
import request from 'supertest'
import { createStash, memoryAdapter, redisAdapter, type StashAdapter, type StashMiddleware } from '../lib/index.js'
import { isStashRecordKey } from '../lib/admin.js'
import { sha256 } from '../lib/values/ids.js'
import { StashSessionStore } from '../lib/session-store/session-store.js'
import { cookiePair } from './support/http.js'
import { useRedis } from './support/redis-client.js'

declare module 'express-session' {
  interface SessionData {
    user?: string
  }
}

const redis = useRedis()
const opened: StashMiddleware[] = []
afterAll(() => Promise.all(opened.map((stash) => stash.close())))

const stashOf = (adapter: StashAdapter) => {
  const stash = createStash({ secret: 'admin scope test', adapter, storedKeys: ['note'], sessionKey: 'user' })
  opened.push(stash)
  return stash
}

/**
 * express-session on `store`, then each stash mounted on its own path: `POST /login` starts a
 * session, `PUT <path>/note` stores a note (bound to the user when logged in), `GET <path>/note`
 * reads it, `GET /whoami` reads the session.
 */
function app(store: StashSessionStore, stashes: Record<string, StashMiddleware>) {
  const server = express()
  server.use(express.text())
  server.use(session({ secret: 'session secret', store, resave: false, saveUninitialized: false }))
  server.post('/login', (req, res) => {
    req.session.user = req.body
    res.sendStatus(204)
  })
  server.get('/whoami', (req, res) => res.json({ user: req.session.user ?? null }))
  for (const [path, stash] of Object.entries(stashes)) {
    const router = express.Router()
    router.use(stash)
    router.put('/note', (req, res) => {
      req.stash.note = req.body
      res.sendStatus(204)
    })
    router.get('/note', (req, res) => res.json({ note: req.stash.note ?? null }))
    server.use(path, router)
  }
  return server
}

/** A client: its cookies (the session's and each stash's), kept across requests like a browser's. */
function client(server: express.Express) {
  const jar = new Map<string, string>()
  const keep = (res: request.Response) => {
    for (const name of ['connect.sid', 'stash']) {
      try {
        jar.set(name, cookiePair(res, name))
      } catch {
        // this response set no such cookie
      }
    }
    return res
  }
  const cookies = () => [...jar.values()].join('; ')
  return {
    login: async (user: string) => keep(await request(server).post('/login').type('text').send(user).expect(204)),
    put: async (path: string, note: string) =>
      keep(await request(server).put(`${path}/note`).set('Cookie', cookies()).type('text').send(note).expect(204)),
    note: async (path: string) => (await request(server).get(`${path}/note`).set('Cookie', cookies()).expect(200)).body.note,
    user: async () => (await request(server).get('/whoami').set('Cookie', cookies()).expect(200)).body.user,
  }
}

describe('admin calls on Redis: prefixes `app:` and `app:v2:` on one server, sessions under `app:`', () => {
  test("stashA.ids(), length() and clear() see and delete only A's stashes and owner indexes", async () => {
    const base = `scope-${randomBytes(4).toString('hex')}:app:`
    const adapterA = redisAdapter({ client: redis().client, prefix: base, scanCount: 5 })
    const adapterB = redisAdapter({ client: redis().client, prefix: `${base}v2:`, scanCount: 5 })
    const [stashA, stashB] = [stashOf(adapterA), stashOf(adapterB)]
    const store = new StashSessionStore({ adapter: adapterA })
    const server = app(store, { '/a': stashA })
    const serverB = app(store, { '/b': stashB })

    // Alice logs in and keeps a note in each instance (bound to her); Bob only logs in; two
    // anonymous visitors keep one note each.
    const alice = client(server)
    await alice.login('alice')
    await alice.put('/a', 'alice on A')
    const aliceB = client(serverB)
    await aliceB.login('alice')
    await aliceB.put('/b', 'alice on B')
    const bob = client(server)
    await bob.login('bob')
    const anonA = client(server)
    await anonA.put('/a', 'anonymous on A')
    const anonB = client(serverB)
    await anonB.put('/b', 'anonymous on B')

    const raw = async () => (await redis().client.keys(`${base}*`)).sort()
    const before = await raw()
    expect(before.filter((k) => k.startsWith(`${base}sess:`))).toHaveLength(3) // alice twice, bob
    const aIds = await stashA.ids()
    expect(aIds).toHaveLength(2)
    expect(aIds.every(isStashRecordKey)).toBe(true)
    expect(aIds.map((id) => base + id).every((k) => before.includes(k))).toBe(true)
    expect(await stashA.length()).toBe(2)
    expect(await stashB.length()).toBe(2)
    const aliceOwner = sha256('alice')
    expect(before).toEqual(expect.arrayContaining([`${base}{${aliceOwner}}`, `${base}v2:{${aliceOwner}}`]))

    await expect(stashA.clear()).resolves.toBe(2)

    expect(await stashA.ids()).toEqual([])
    expect(await stashA.length()).toBe(0)
    const after = await raw()
    expect(after).toEqual(before.filter((k) => !aIds.includes(k.slice(base.length)) && k !== `${base}{${aliceOwner}}`))
    expect(await stashA.listFor('alice')).toEqual([])
    // B's stashes and every session survive, and their users still get them.
    expect(await alice.note('/a')).toBeNull()
    expect(await anonA.note('/a')).toBeNull()
    expect(await aliceB.note('/b')).toBe('alice on B')
    expect(await anonB.note('/b')).toBe('anonymous on B')
    expect(await stashB.length()).toBe(2)
    expect((await stashB.listFor('alice')).map((entry) => entry.data)).toEqual([{ note: 'alice on B' }])
    expect([await alice.user(), await aliceB.user(), await bob.user()]).toEqual(['alice', 'alice', 'bob'])
    // The session store still lists and clears only sessions.
    expect(await store.length()).toBe(3)
    await expect(store.clear()).resolves.toBe(3)
    expect(await anonB.note('/b')).toBe('anonymous on B')
    expect(await stashB.length()).toBe(2) // Alice's, too: logged out, she no longer reaches it, but it is there
    expect(await raw()).toEqual(after.filter((k) => !k.startsWith(`${base}sess:`)))
  })
})

describe('admin calls on a memory table shared by a stash and a session store', () => {
  test("stash.ids(), length() and clear() leave the sessions alone; the session store's calls leave the stashes", async () => {
    const name = `admin-scope-${randomBytes(6).toString('hex')}`
    const stash = stashOf(memoryAdapter({ name }))
    const sessionAdapter = memoryAdapter({ name })
    const store = new StashSessionStore({ adapter: sessionAdapter })
    const server = app(store, { '/s': stash })
    try {
      const alice = client(server)
      await alice.login('alice')
      await alice.put('/s', 'alice')
      const bob = client(server)
      await bob.login('bob')
      const anonymous = client(server)
      await anonymous.put('/s', 'anonymous')
      expect(sessionAdapter.size).toBe(4) // two sessions, two stashes

      expect((await stash.ids()).every(isStashRecordKey)).toBe(true)
      expect(await stash.length()).toBe(2)
      expect(await store.length()).toBe(2)
      await expect(stash.clear()).resolves.toBe(2)
      expect(await stash.ids()).toEqual([])
      expect([await alice.note('/s'), await anonymous.note('/s')]).toEqual([null, null])
      expect([await alice.user(), await bob.user()]).toEqual(['alice', 'bob'])
      expect(await store.length()).toBe(2)

      await alice.put('/s', 'alice again')
      await expect(store.clear()).resolves.toBe(2)
      expect(await alice.user()).toBeNull()
      expect(await stash.length()).toBe(1)
    } finally {
      await sessionAdapter.close()
    }
  })
})
