/**
 * express + express-session + StashSessionStore through supertest: the store-facing cases of
 * express-session's own test suite (expired sessions, touch, a cleared store, destroy, reload,
 * several sessions), told in our words, plus a session whose cookie is shortened by the app.
 * Real time and small `maxAge`s, no fake timers.
 * @module
 */
import express, { type Express, type RequestHandler } from 'express'
import session, { type SessionOptions } from 'express-session'
import { setTimeout as sleep } from 'node:timers/promises'
import request, { type Response } from 'supertest'
import type { StashAdapter } from '../../lib/index.js'
import { StashSessionStore } from '../../lib/session-store/session-store.js'
import { sessionRecordKey } from '../../lib/session-store/keys.js'
import { cookiePair, idOf, setCookie } from '../support/http.js'
import { sleepUntil, type SessionStoreTarget } from './helpers.js'

type Counted = { count?: number }

/** Registers the HTTP suite for one adapter. */
export function runSessionHttp(name: string, target: SessionStoreTarget): void {
  describe(`express + express-session + StashSessionStore on ${name}`, () => {
    let adapter: StashAdapter
    let store: StashSessionStore
    beforeAll(() => {
      adapter = target.adapter()
      store = new StashSessionStore({ adapter, ...target.storeOptions?.() })
    })
    afterEach(() => store.clear())
    afterAll(() => adapter.close())

    /** An app whose GET /count counts the requests of one session (or runs `route`). */
    const app = (options: Partial<SessionOptions> = {}, route?: RequestHandler): Express => {
      const app = express()
      app.use(session({ secret: 'keyboard cat', store, resave: false, saveUninitialized: false, ...options }))
      app.get('/count', (req, res) => {
        const s = req.session as typeof req.session & Counted
        s.count = (s.count ?? 0) + 1
        res.set('X-Original-Max-Age', String(req.session.cookie.originalMaxAge)).json(s.count)
      })
      if (route) app.use(route)
      return app
    }
    const sid = (res: Response) => idOf(cookiePair(res, 'connect.sid'))

    test('the session persists across requests and ends with destroy()', async () => {
      const counter = app({ cookie: { maxAge: 60_000 } }, (req, res, next) =>
        req.session.destroy((err) => (err ? next(err) : res.end())),
      )
      // express-session derives originalMaxAge from Date.now() whenever it sets the expiry (when it
      // builds the cookie, and again in touch() just before it saves), so a request that crosses a
      // millisecond may save 59 999 where its handler saw 60 000. The store must hand back exactly
      // what each save gave it: the next request sees that value, and all() lists it.
      const saved: unknown[] = []
      const save = store.set.bind(store)
      const spy = jest.spyOn(store, 'set').mockImplementation((id, sess, callback) => {
        saved.push(sess.cookie.originalMaxAge)
        return save(id, sess, callback)
      })
      try {
        const first = await request(counter).get('/count').expect(200, '1')
        const cookie = cookiePair(first, 'connect.sid')
        const second = await request(counter).get('/count').set('Cookie', cookie).expect(200, '2')
        const third = await request(counter).get('/count').set('Cookie', cookie).expect(200, '3')
        expect(saved).toHaveLength(3)
        for (const value of saved) expect(value).toBeGreaterThan(59_000)
        for (const value of saved) expect(value).toBeLessThanOrEqual(60_000)
        expect([second, third].map((res) => Number(res.headers['x-original-max-age']))).toEqual([saved[0], saved[1]])
        expect(await store.all()).toEqual([
          expect.objectContaining({ id: sid(first), count: 3, cookie: expect.objectContaining({ originalMaxAge: saved[2] }) }),
        ])
        expect(await store.length()).toBe(1)

        await request(counter).post('/logout').set('Cookie', cookie).expect(200)
        expect(await store.length()).toBe(0)
        await request(counter).get('/count').set('Cookie', cookie).expect(200, '1')
      } finally {
        spy.mockRestore()
      }
    })

    test('a session whose cookie has expired is a new session with a new ID, and is gone from the store', async () => {
      const counter = app({ cookie: { maxAge: 300 } })
      const first = await request(counter).get('/count').expect(200, '1')
      const cookie = cookiePair(first, 'connect.sid')
      const setAt = Date.now()
      await request(counter).get('/count').set('Cookie', cookie).expect(200, '2')
      await sleepUntil(setAt + 400)
      expect(await store.all()).toEqual([]) // its record ended with its cookie, and so has its session
      expect(await store.length()).toBe(0)
      const next = await request(counter).get('/count').set('Cookie', cookie).expect(200, '1')
      expect(sid(next)).not.toBe(sid(first))
      expect(await store.ids()).toEqual([sid(next)])
    })

    test('touch() on an unmodified session resets the stored cookie expiration', async () => {
      const touching = app({ cookie: { maxAge: 60_000 } }, (req, res) => {
        req.session.touch()
        res.end()
      })
      const first = await request(touching).get('/count').expect(200, '1')
      const cookie = cookiePair(first, 'connect.sid')
      const before = (await store.get(sid(first)))!.cookie.expires
      await sleep(100)
      await request(touching).get('/unmodified').set('Cookie', cookie).expect(200)
      const after = (await store.get(sid(first)))!
      expect(new Date(after.cookie.expires!).getTime()).toBeGreaterThan(new Date(before!).getTime())
      expect(after).toMatchObject({ count: 1 })
    })

    test('an app that shortens the cookie ("remember me" off) shortens the record: gone after ~1 s', async () => {
      // `?note`: the session changes too, so express-session saves it (set); else it only touches it.
      const login = app({ cookie: { maxAge: 3_600_000 } }, (req, res) => {
        req.session.cookie.maxAge = 1000
        if (req.query.note !== undefined) (req.session as typeof req.session & { note?: string }).note = 'short'
        res.end()
      })
      const touched = await request(login).get('/count').expect(200, '1')
      const saved = await request(login).get('/count').expect(200, '1')
      await request(login).post('/forget-me').set('Cookie', cookiePair(touched, 'connect.sid')).expect(200)
      await request(login).post('/forget-me?note').set('Cookie', cookiePair(saved, 'connect.sid')).expect(200)
      const shortened = Date.now()
      for (const res of [touched, saved]) {
        if (target.remainingMs) expect(await target.remainingMs(adapter, sid(res))).toBeLessThanOrEqual(1000)
        const stored = await store.get(sid(res))
        expect(stored).toMatchObject({ count: 1 })
        expect(stored!.cookie.originalMaxAge).toBeGreaterThan(900) // 1000, or 999 as express-session measures it
        expect(stored!.cookie.originalMaxAge).toBeLessThanOrEqual(1000)
      }
      expect(await store.get(sid(saved))).toMatchObject({ note: 'short' })
      await sleepUntil(shortened + 1500)
      for (const res of [touched, saved]) expect(await adapter.readAll(sessionRecordKey(sid(res)))).toBeUndefined()
    })

    test('a session cleared from the store gives a new session with a new ID', async () => {
      const counter = app()
      const first = await request(counter).get('/count').expect(200, '1')
      await store.clear()
      const next = await request(counter).get('/count').set('Cookie', cookiePair(first, 'connect.sid')).expect(200, '1')
      expect(setCookie(next, 'connect.sid')).toBeDefined()
      expect(sid(next)).not.toBe(sid(first))
    })

    test('unset: "destroy" deletes the session; reload() of a session cleared meanwhile fails', async () => {
      const destroying = app({ unset: 'destroy' }, (req, res) => {
        req.session = null as never
        res.end()
      })
      const first = await request(destroying).get('/count').expect(200, '1')
      expect(await store.length()).toBe(1)
      await request(destroying).get('/unset').set('Cookie', cookiePair(first, 'connect.sid')).expect(200)
      expect(await store.length()).toBe(0)

      const reloading = app({}, (req, res) => {
        void store
          .clear()
          .then(() => req.session.reload((err: Error | undefined) => res.status(err ? 500 : 200).end(err?.message)))
      })
      const saved = await request(reloading).get('/count').expect(200, '1')
      await request(reloading)
        .get('/reload')
        .set('Cookie', cookiePair(saved, 'connect.sid'))
        .expect(500, 'failed to load session')
    })

    test('concurrent first requests make separate sessions, all() returns each', async () => {
      const counter = app()
      const responses = await Promise.all([1, 2, 3].map(() => request(counter).get('/count').expect(200, '1')))
      const ids = byValue(responses.map(sid))
      expect(byValue((await store.all()).map((s) => s.id))).toEqual(ids)
      expect(byValue(await store.ids())).toEqual(ids)
    })
  })
}

const byValue = (list: string[]) => [...list].sort()
