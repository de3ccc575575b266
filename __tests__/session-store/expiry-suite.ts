/**
 * When StashSessionStore sessions end, on every adapter: a session whose cookie has expired is
 * never returned, whatever its record's expiry says; touch() rewrites the stored cookie; both
 * fields of the record expire with the cookie to the millisecond, shorter ones included; a `ttl`
 * function wins over the cookie; a serializer whose `parse` is async works everywhere and nothing
 * is dropped silently. Real time and short lifetimes, no fake timers.
 * @module
 */
import type { SessionData } from 'express-session'
import { setTimeout as sleep } from 'node:timers/promises'
import type { StashAdapter } from '../../lib/index.js'
import { StashSessionStore } from '../../lib/session-store/session-store.js'
import { sessionRecordKey } from '../../lib/session-store/keys.js'
import { inSeconds, rawWrite, sleepUntil, type SessionStoreTarget } from './helpers.js'

const session = (fields: Record<string, unknown>) => fields as unknown as SessionData
const byId = <T extends { id: string }>(list: T[]) => list.sort((a, b) => (a.id > b.id ? 1 : -1))

/** Registers the expiry suite for one adapter. */
export function runSessionExpiry(name: string, target: SessionStoreTarget): void {
  describe(`StashSessionStore expiry on ${name}`, () => {
    let adapter: StashAdapter
    let store: StashSessionStore
    const record = (sid: string) => adapter.readAll(sessionRecordKey(sid))
    beforeAll(() => {
      adapter = target.adapter()
      store = new StashSessionStore({ adapter })
    })
    afterEach(() => store.clear())
    afterAll(() => adapter.close())

    test('get, all, ids and length never return a session whose cookie has expired, though its record outlives it', async () => {
      await store.set('live', session({ cookie: { expires: inSeconds(60) } }))
      // A `ttl` function that outlives the cookie: the record stays for an hour ...
      await new StashSessionStore({ adapter, ttl: () => 3600 }).set('stale', session({ cookie: { expires: inSeconds(0.3) } }))
      const written = Date.now()
      // ... and a record another writer left for an hour, holding a session whose cookie has expired.
      const old = JSON.stringify({ cookie: { expires: inSeconds(-5) }, user: 'old' })
      await adapter.write(sessionRecordKey('old'), rawWrite({ id: 'old', session: old }, 3600))
      await sleepUntil(written + 400)

      expect(await record('stale')).toBeDefined() // the record is still there ...
      if (target.remainingMs) expect(await target.remainingMs(adapter, 'stale')).toBeGreaterThan(0)
      expect(await store.get('stale')).toBeNull() // ... but the session has ended
      expect(await store.get('old')).toBeNull()
      expect(await store.get('live')).not.toBeNull()
      expect(await store.ids()).toEqual(['live'])
      expect(await store.length()).toBe(1)
      expect((await store.all()).map((s) => s.id)).toEqual(['live'])
    })

    test('both fields of the record expire when the session ends, to the millisecond: set() and touch()', async () => {
      const expiries = async (sid: string) => (await adapter.load(sessionRecordKey(sid), ['id', 'session']))?.expiresAt
      const first = new Date(Date.now() + 60_000 + 123)
      await store.set('exact', session({ cookie: { expires: first.toISOString() } }))
      expect(await expiries('exact')).toEqual([first.getTime(), first.getTime()])
      const earlier = new Date(Date.now() + 30_000 + 457)
      await store.touch('exact', session({ cookie: { expires: earlier.toISOString() } }))
      expect(await expiries('exact')).toEqual([earlier.getTime(), earlier.getTime()])

      // Without a cookie expiry: `ttl` seconds from now; a `ttl` function: its seconds from now.
      const before = Date.now()
      await new StashSessionStore({ adapter, ttl: 90 }).set('browser', session({ cookie: { expires: null } }))
      await new StashSessionStore({ adapter, ttl: () => 1.5 }).set('fn', session({ cookie: { expires: first } }))
      const after = Date.now()
      for (const [sid, ms] of [
        ['browser', 90_000],
        ['fn', 1500],
      ] as const) {
        const [id, stored] = (await expiries(sid))!
        expect(id).toBe(stored)
        expect(stored).toBeGreaterThanOrEqual(before + ms)
        expect(stored).toBeLessThanOrEqual(after + ms)
      }
    })

    test('touch() rewrites the stored cookie (and its expires) and keeps the stored data', async () => {
      await store.set('kept', session({ cookie: { expires: inSeconds(60), originalMaxAge: 60_000 }, user: 'ann' }))
      const later = inSeconds(120)
      await store.touch('kept', session({ cookie: { expires: later, originalMaxAge: 120_000 }, user: 'not stored' }))
      expect(await store.get('kept')).toEqual({ cookie: { expires: later, originalMaxAge: 120_000 }, user: 'ann' })
      if (target.remainingTtl) expect(await target.remainingTtl(adapter, 'kept')).toBeGreaterThan(60)

      // touch() never creates a session, nor revives one whose stored cookie has expired.
      await store.touch('never-stored', session({ cookie: { expires: inSeconds(60) } }))
      expect(await record('never-stored')).toBeUndefined()
      const ended = JSON.stringify({ cookie: { expires: inSeconds(-1) } })
      await adapter.write(sessionRecordKey('ended'), rawWrite({ id: 'ended', session: ended }, 60))
      await store.touch('ended', session({ cookie: { expires: inSeconds(60) } }))
      expect(await store.get('ended')).toBeNull()
    })

    test('touch() that loses the race to a concurrent set() leaves the newer session alone', async () => {
      await store.set('raced', session({ cookie: { expires: inSeconds(60) }, n: 1 }))
      const newer = session({ cookie: { expires: inSeconds(30) }, n: 2 })
      const outcomes: unknown[] = []
      const racing: StashAdapter = {
        ...adapter,
        // Between touch()'s read and its write, another request saves the session.
        compareAndSet: async (key, swap) => {
          await store.set('raced', newer)
          const outcome = await adapter.compareAndSet(key, swap)
          outcomes.push(outcome)
          return outcome
        },
      }
      await new StashSessionStore({ adapter: racing }).touch('raced', session({ cookie: { expires: inSeconds(120) } }))
      expect(outcomes).toEqual([{ ok: false, current: expect.any(String) }])
      expect(await store.get('raced')).toEqual(newer)
    })

    test('a shorter expiry after a longer one: set() or touch() with a 1 s cookie after a 1 h one ends the record in ~1 s', async () => {
      await store.set('shrunk', session({ cookie: { expires: inSeconds(3600) }, n: 1 }))
      await store.set('shrunk', session({ cookie: { expires: inSeconds(1) }, n: 2 }))
      await store.set('touched', session({ cookie: { expires: inSeconds(3600) } }))
      await store.touch('touched', session({ cookie: { expires: inSeconds(1) } }))
      const shortened = Date.now()
      for (const sid of ['shrunk', 'touched']) {
        if (target.remainingTtl) expect(await target.remainingTtl(adapter, sid)).toBe(1)
        if (target.remainingMs) expect(await target.remainingMs(adapter, sid)).toBeLessThanOrEqual(1000)
      }
      expect(await store.get('shrunk')).toMatchObject({ n: 2 })
      await sleepUntil(shortened + 1500)
      for (const sid of ['shrunk', 'touched']) {
        expect(await record(sid)).toBeUndefined()
        if (target.remainingMs) expect(await target.remainingMs(adapter, sid)).toBe(-2)
      }
    })

    test('a `ttl` function wins over the cookie; the cookie still ends the session', async () => {
      const short = new StashSessionStore({ adapter, ttl: () => 1 })
      const long = new StashSessionStore({ adapter, ttl: () => 3600 })
      await short.set('fn-short', session({ cookie: { expires: inSeconds(3600) } }))
      await long.set('fn-long', session({ cookie: { expires: inSeconds(0.3) } }))
      const written = Date.now()
      if (target.remainingTtl) {
        expect(await target.remainingTtl(adapter, 'fn-short')).toBe(1)
        expect(await target.remainingTtl(adapter, 'fn-long')).toBeGreaterThan(3590)
      }
      await sleepUntil(written + 1500)
      expect(await record('fn-short')).toBeUndefined() // the function's second, not the cookie's hour
      expect(await record('fn-long')).toBeDefined() // the function's hour ...
      expect(await long.get('fn-long')).toBeNull() // ... but the cookie has expired
    })

    test('a serializer whose parse() returns a promise works for get, all, ids and length; a rejection is reported and deleted', async () => {
      const errors: unknown[] = []
      const asyncStore = new StashSessionStore({
        adapter,
        serializer: {
          stringify: (s) => JSON.stringify(s),
          parse: async (text) => {
            await sleep(1)
            if (text === 'reject') throw new Error('cannot parse')
            return JSON.parse(text)
          },
        },
      }).on('error', (err) => errors.push(err))
      const stored = session({ cookie: { expires: inSeconds(60) }, user: 'ann' })
      await asyncStore.set('async', stored)
      expect(await asyncStore.get('async')).toEqual(stored)
      await adapter.write(sessionRecordKey('rejected'), rawWrite({ id: 'rejected', session: 'reject' }, 60))

      expect(await asyncStore.all()).toEqual([{ ...stored, id: 'async' }])
      expect(errors).toEqual([expect.objectContaining({ code: 'ERR_STASH_CORRUPT', cause: new Error('cannot parse') })])
      expect(await record('rejected')).toBeUndefined()
      expect(await asyncStore.ids()).toEqual(['async'])
      expect(await asyncStore.length()).toBe(1)
    })

    test('a record that is not a whole session is reported and deleted by the admin calls, never dropped silently', async () => {
      const errors: unknown[] = []
      store.on('error', (err) => errors.push(err))
      try {
        await store.set('whole', session({ cookie: { expires: inSeconds(60) } }))
        await adapter.write(sessionRecordKey('no-session'), rawWrite({ id: 'no-session' }, 60))
        await adapter.write(sessionRecordKey('no-id'), rawWrite({ session: '{}' }, 60))
        expect(byId(await store.all()).map((s) => s.id)).toEqual(['whole'])
        expect(errors).toHaveLength(2)
        expect(errors).toEqual(
          expect.arrayContaining([
            expect.objectContaining({ code: 'ERR_STASH_CORRUPT', message: expect.stringMatching(/has no session field/) }),
            expect.objectContaining({ code: 'ERR_STASH_CORRUPT', message: expect.stringMatching(/has no id field/) }),
          ]),
        )
        expect(await record('no-session')).toBeUndefined()
        expect(await record('no-id')).toBeUndefined()
      } finally {
        store.removeAllListeners('error')
      }
    })
  })
}
