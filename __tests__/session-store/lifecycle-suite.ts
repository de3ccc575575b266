/**
 * The StashSessionStore lifecycle, modelled on connect-redis's own test: set/get, TTL from the
 * cookie's expiry, touch, length/ids/all, destroy, clear, 1,000 sessions, an expired cookie.
 * Run against every adapter; stores that can report a record's remaining TTL (Redis) also
 * check the exact seconds, the others check expiry by waiting for it.
 * @module
 */
import { Cookie } from 'express-session'
import { setTimeout as sleep } from 'node:timers/promises'
import type { StashAdapter } from '../../lib/index.js'
import { StashSessionStore } from '../../lib/session-store/session-store.js'
import { inSeconds, rawWrite, waitFor, type SessionStoreTarget } from './helpers.js'

/** What one run of the suite needs. */
export type LifecycleTarget = SessionStoreTarget

/** Registers the lifecycle suite for one adapter. */
export function runSessionLifecycle(name: string, target: LifecycleTarget): void {
  describe(`StashSessionStore lifecycle on ${name}`, () => {
    let adapter: StashAdapter
    let store: StashSessionStore
    beforeAll(() => {
      adapter = target.adapter()
      store = new StashSessionStore({ adapter, ...target.storeOptions?.() })
    })
    afterEach(() => store.clear()) // a failing test leaves nothing behind for the next
    afterAll(() => adapter.close())

    test('set, get, TTL from the cookie, touch, length, ids, all, destroy, clear', async () => {
      await store.clear()
      const sess = { foo: 'bar' } as never
      await store.set('123', sess)
      expect(await store.get('123')).toEqual(sess)
      if (target.remainingTtl) expect(await target.remainingTtl(adapter, '123')).toBeGreaterThanOrEqual(86_399) // default ttl

      const expires = inSeconds(60)
      await store.set('456', { cookie: { expires } } as never)
      if (target.remainingTtl) {
        const ttl = await target.remainingTtl(adapter, '456')
        expect(ttl).toBeLessThanOrEqual(60)
        expect(ttl).toBeGreaterThanOrEqual(58)
      }
      const touched = inSeconds(90)
      await store.touch('456', { cookie: { expires: touched } } as never)
      if (target.remainingTtl) expect(await target.remainingTtl(adapter, '456')).toBeGreaterThan(60)

      expect(await store.length()).toBe(2)
      expect((await store.ids()).sort()).toEqual(['123', '456'])
      const all = (await store.all()).sort((a, b) => (a.id > b.id ? 1 : -1))
      expect(all).toEqual([
        { id: '123', foo: 'bar' },
        { id: '456', cookie: { expires: touched } }, // touch() rewrote the stored cookie
      ])

      await store.destroy('456')
      expect(await store.get('456')).toBeNull()
      expect(await store.length()).toBe(1)
      expect(await store.clear()).toBe(1)
      expect(await store.length()).toBe(0)
      expect(await store.get('123')).toBeNull()
    })

    test('a session expires with its cookie; touch slides the expiry', async () => {
      await store.set('short', { cookie: { expires: inSeconds(1) } } as never)
      await store.set('touched', { cookie: { expires: inSeconds(1) } } as never)
      await store.touch('touched', { cookie: { expires: inSeconds(3) } } as never)
      const setAt = Date.now()
      expect(await store.get('short')).not.toBeNull()
      await sleep(setAt + 1100 - Date.now())
      await waitFor(async () => (await store.get('short')) === null, 1000)
      expect(await store.get('touched')).not.toBeNull()
      expect(await store.ids()).toEqual(['touched'])
      await store.clear()
    })

    test('1,000 sessions: length, ids, all and clear see every one', async () => {
      const count = 1000
      const cookie = new Cookie()
      for (let sid = 0; sid < count; sid++) {
        cookie.expires = new Date(Date.now() + 60_000)
        await store.set('s' + sid, { cookie })
      }
      const before = await target.scanCalls?.()
      expect(await store.length()).toBe(count)
      if (before !== undefined) {
        // scanCount 10 over 1,000 keys: the count is the sum of many small SCAN batches.
        expect((await target.scanCalls!()) - before).toBeGreaterThanOrEqual(50)
      }
      const ids = await store.ids()
      expect(new Set(ids).size).toBe(count)
      expect(ids.every((id) => /^s\d+$/.test(id))).toBe(true)
      const all = await store.all()
      expect(all).toHaveLength(count)
      expect(all.every((s) => typeof s.cookie.expires === 'string')).toBe(true)
      expect(await store.clear()).toBe(count)
      expect(await store.length()).toBe(0)
    })

    test('a cookie that has expired destroys the session, on set and on touch', async () => {
      await store.set('789', { cookie: { expires: inSeconds(90) } } as never)
      expect(await store.length()).toBe(1)
      await store.set('789', { cookie: { expires: inSeconds(-90) } } as never)
      expect(await store.length()).toBe(0)
      expect(await store.get('789')).toBeNull()

      await store.set('790', { cookie: { expires: inSeconds(90) } } as never)
      await store.touch('790', { cookie: { expires: inSeconds(-1) } } as never)
      expect(await store.get('790')).toBeNull()
      await store.clear()
    })

    test('a session without a cookie expiry lives `ttl` seconds', async () => {
      const short = new StashSessionStore({ adapter, ttl: 1 })
      await short.set('browser-session', { cookie: { expires: null } } as never)
      expect(await short.get('browser-session')).toEqual({ cookie: { expires: null } })
      if (target.remainingTtl) expect(await target.remainingTtl(adapter, 'browser-session')).toBeLessThanOrEqual(1)
      await sleep(1100)
      await waitFor(async () => (await short.get('browser-session')) === null, 1000)
    })

    test('invalid JSON in the store is reported, deleted and treated as absent', async () => {
      const errors: unknown[] = []
      store.on('error', (err) => errors.push(err))
      try {
        await store.set('corrupt', { foo: 'bar' } as never)
        await store.set('fine', { foo: 'baz' } as never)
        // What another writer (or a broken serializer) left in the record's session field.
        const { sessionRecordKey } = await import('../../lib/session-store/keys.js')
        await adapter.write(sessionRecordKey('corrupt'), rawWrite({ session: '{"foo":' }, 60))
        expect(await store.all()).toEqual([{ id: 'fine', foo: 'baz' }])
        expect(errors).toHaveLength(1)
        expect(errors[0]).toMatchObject({ code: 'ERR_STASH_CORRUPT', message: expect.stringMatching(/^express-stash: /) })
        await adapter.write(sessionRecordKey('corrupt'), rawWrite({ id: 'corrupt', session: '[1]' }, 60))
        expect(await store.get('corrupt')).toBeNull()
        expect(errors).toHaveLength(2)
        expect(await adapter.readAll(sessionRecordKey('corrupt'))).toBeUndefined()
        expect(await store.ids()).toEqual(['fine'])
      } finally {
        store.removeAllListeners('error')
        await store.clear()
      }
    })
  })
}
