/**
 * StashSessionStore `migrateFrom` when requests overlap: a test steps into the middle of a
 * migration (between its read of connect-redis and its writes) and does what a concurrent
 * request would: save the session, log out, list the sessions, or move it first. Also the
 * failures of the previous store: an error, a timeout, `ENOENT`, a value that is no session.
 * On a real redis-server with connect-redis 9, and on the memory adapter.
 * @module
 */
import { randomBytes } from 'node:crypto'
import { RedisStore } from 'connect-redis'
import type { SessionData } from 'express-session'
import { memoryAdapter, redisAdapter, type StashAdapter } from '../../lib/index.js'
import { sessionRecordKey } from '../../lib/session-store/keys.js'
import { StashSessionStore, type PreviousSessionStore } from '../../lib/session-store/session-store.js'
import { useRedis } from '../support/redis-client.js'
import { inSeconds } from './helpers.js'
import { steppingInto } from './migration-app.js'

const redis = useRedis()
const client = () => redis().client
const unique = () => randomBytes(6).toString('base64url')
const session = (fields: Record<string, unknown>) => ({ cookie: { expires: inSeconds(60) }, ...fields }) as unknown as SessionData

const ADAPTERS: [string, () => StashAdapter][] = [
  ['redis', () => redisAdapter({ client: client(), prefix: `app:${unique()}:` })],
  ['memory', () => memoryAdapter()],
]

describe.each(ADAPTERS)('StashSessionStore migrateFrom connect-redis, on %s: overlapping requests', (_name, makeAdapter) => {
  let oldStore: RedisStore
  let adapter: StashAdapter
  const oldKey = async (sid: string) => (await client().exists(oldStore.prefix + sid)) === 1
  beforeEach(async () => {
    oldStore = new RedisStore({ client: client(), prefix: `sess:${unique()}:` })
    adapter = makeAdapter()
    await oldStore.set('sid', session({ user: 'ann', n: 1 }))
  })
  afterEach(() => adapter.close())

  /** A store migrating from connect-redis, with `during` run between the read of the old copy and the writes here. */
  const storeWith = (during: (store: StashSessionStore) => Promise<unknown>) => {
    let store: StashSessionStore | undefined
    const migrateFrom = steppingInto(oldStore, async (_sid, read) => {
      const found = await read()
      await during(store!)
      return found
    })
    return (store = new StashSessionStore({ adapter, migrateFrom }))
  }

  test('a set() that lands while a migration is in flight wins: the older copy never overwrites it', async () => {
    const newer = session({ user: 'ann', n: 2 })
    // Another request moved the session and saved a change before this migration writes.
    const store = storeWith((store) => store.set('sid', newer))
    expect(await store.get('sid')).toEqual(newer)
    expect(await new StashSessionStore({ adapter }).get('sid')).toEqual(newer)
  })

  test('a logout that lands while a migration is in flight holds: the session is never moved back', async () => {
    const store = storeWith((store) => store.destroy('sid'))
    expect(await store.get('sid')).toBeNull()
    expect(await oldKey('sid')).toBe(false)
    expect(await store.get('sid')).toBeNull()
    expect(await store.length()).toBe(0)
    expect(await store.all()).toEqual([])
  })

  test('a request that finds the old copy already moved by a parallel one (and deleted there) still gets the session', async () => {
    let first: Promise<SessionData | null> | undefined
    const plain = new StashSessionStore({ adapter, migrateFrom: oldStore })
    // This request missed here; before it reads connect-redis, a parallel request moves the session.
    const store = new StashSessionStore({
      adapter,
      migrateFrom: steppingInto(oldStore, async (_sid, read) => {
        first = plain.get('sid')
        await first
        return read()
      }),
    })
    expect(await store.get('sid')).toMatchObject({ user: 'ann', n: 1 })
    expect(await first).toMatchObject({ user: 'ann', n: 1 })
    expect(await oldKey('sid')).toBe(false)
    expect(await store.ids()).toEqual(['sid'])
  })

  test('a listing while a migration is in flight neither reports nor deletes the record being written', async () => {
    const errors: unknown[] = []
    const lengths: number[] = []
    const racing: StashAdapter = {
      ...adapter,
      // Between the write of the `id` field and that of the `session` field, an admin counts the sessions.
      compareAndSet: async (key, swap) => {
        if (swap.field === 'session') lengths.push(await listing.length())
        return adapter.compareAndSet(key, swap)
      },
    }
    const listing = new StashSessionStore({ adapter, migrateFrom: oldStore }).on('error', (err) => errors.push(err))
    const store = new StashSessionStore({ adapter: racing, migrateFrom: oldStore }).on('error', (err) => errors.push(err))
    expect(await store.get('sid')).toMatchObject({ user: 'ann' })
    expect(lengths).toEqual([0])
    expect(errors).toEqual([])
    expect(await listing.ids()).toEqual(['sid'])
  })

  test('a migration whose old copy cannot be deleted returns the session and reports it', async () => {
    const errors: unknown[] = []
    const failing: PreviousSessionStore = {
      get: (sid, callback) => oldStore.get(sid, callback),
      destroy: (_sid, callback) => callback(new Error('READONLY')),
    }
    const store = new StashSessionStore({ adapter, migrateFrom: failing }).on('error', (err) => errors.push(err))
    expect(await store.get('sid')).toMatchObject({ user: 'ann' })
    expect(errors).toEqual([expect.objectContaining({ code: 'ERR_STASH_WRITE', cause: new Error('READONLY') })])
    expect(await store.get('sid')).toMatchObject({ user: 'ann' }) // from here now
  })
})

describe('StashSessionStore migrateFrom: failures of the previous store', () => {
  const adapter = memoryAdapter()
  afterAll(() => adapter.close())
  const call = <T>(fn: (cb: (err: unknown, value?: T) => void) => unknown) =>
    new Promise<[unknown, T | undefined]>((resolve) => void fn((err, value) => resolve([err, value])))

  test('an error of its get() is the callback error (express-session fails the request), not a null session', async () => {
    const down = new Error('connection refused')
    const store = new StashSessionStore({
      adapter,
      migrateFrom: { get: (_sid, cb) => cb(down), destroy: (_sid, cb) => cb(null) },
    })
    expect(await call((cb) => store.get('missing', cb))).toEqual([down, undefined])
    await store.set('here', session({ user: 'ann' }))
    expect(await call((cb) => store.get('here', cb))).toEqual([null, expect.objectContaining({ user: 'ann' })])
  })

  test('a get() that never answers fails after migrateTimeout with StashUnavailableError', async () => {
    const store = new StashSessionStore({ adapter, migrateTimeout: 50, migrateFrom: { get: () => {}, destroy: () => {} } })
    const [err] = await call((cb) => store.get('silent', cb))
    expect(err).toMatchObject({ code: 'ERR_STASH_UNAVAILABLE', status: 503 })
    const [destroyErr] = await call((cb) => store.destroy('silent', cb))
    expect(destroyErr).toMatchObject({ message: 'express-stash: the `migrateFrom` store did not answer destroy() within 50 ms' })
  })

  test('a promise rejected or a throw by its get() is the error too; ENOENT is no session', async () => {
    const rejecting = new StashSessionStore({
      adapter,
      migrateFrom: { get: () => Promise.reject(new Error('rejected')), destroy: (_sid, cb) => cb(null) },
    })
    await expect(rejecting.get('x')).rejects.toThrow('rejected')
    const throwing = new StashSessionStore({
      adapter,
      migrateFrom: {
        get: () => {
          throw new Error('thrown')
        },
        destroy: (_sid, cb) => cb(null),
      },
    })
    await expect(throwing.get('x')).rejects.toThrow('thrown')
    const enoent = Object.assign(new Error('no such file'), { code: 'ENOENT' })
    const files = new StashSessionStore({
      adapter,
      migrateFrom: { get: (_sid, cb) => cb(enoent), destroy: (_sid, cb) => cb(enoent) },
    })
    expect(await files.get('x')).toBeNull()
    await expect(files.destroy('x')).resolves.toBeUndefined()
  })

  test('a value that is no session is reported and not moved', async () => {
    const errors: unknown[] = []
    const store = new StashSessionStore({
      adapter,
      migrateFrom: { get: (_sid, cb) => cb(null, 'not a session' as never), destroy: (_sid, cb) => cb(null) },
    }).on('error', (err) => errors.push(err))
    expect(await store.get('odd')).toBeNull()
    expect(errors).toEqual([expect.objectContaining({ code: 'ERR_STASH_CORRUPT' })])
    expect(await adapter.readAll(sessionRecordKey('odd'))).toBeUndefined()
  })
})
