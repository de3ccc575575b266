/**
 * `stashSession()` itself, over HTTP: `req.session` as a view of `req.stash`, its lifecycle
 * methods called the express-session way, passport's `failureMessage` kept as a stored key, and
 * the clear errors of a wrong setup.
 */
import { promisify } from 'node:util'
import express, { type Request } from 'express'
import session from 'express-session'
import passport from 'passport'
import { Strategy as LocalStrategy } from 'passport-local'
import request from 'supertest'
import { createStash, stashSession, type StashMiddleware, type StashSessionRequest } from '../../lib/index.js'
import { readStash } from '../../lib/testing/index.js'
import { cookiePair, setCookie } from '../support/http.js'
import { errorJson } from './passport-app.js'

declare module '../../lib/types' {
  interface StashData {
    theme: string
    note: unknown
  }
}

const opened: StashMiddleware[] = []
afterAll(() => Promise.all(opened.map((stash) => stash.close())))

function newStash(storedKeys: string[] = ['theme']): StashMiddleware {
  const stash = createStash({ secret: 'stash session secret', storedKeys })
  opened.push(stash)
  return stash
}

/** `req.session` of a request under stashSession(), typed. */
const sessionOf = (req: Request) => (req as unknown as StashSessionRequest<Request>).session

/** Resolves once an express-session style callback is called; rejects with its error. */
const called = (run: (cb: (err?: unknown) => void) => void): Promise<void> => promisify(run)()

describe('req.session is a view of req.stash', () => {
  it('reads, writes, lists and deletes the data of req.stash; stored keys persist', async () => {
    const stash = newStash(['theme'])
    const app = express().use(stashSession(stash, { storedKeys: ['returnTo'] }))
    app.get('/write', (req, res) => {
      const s = sessionOf(req)
      s.theme = 'dark'
      s.returnTo = '/cart'
      req.stash.note = 'this request only'
      res.json({ keys: Object.keys(s).sort(), note: s.note, json: JSON.parse(JSON.stringify(s)), has: 'theme' in s })
    })
    app.get('/read', (req, res) => {
      const s = sessionOf(req)
      const before = { theme: s.theme, returnTo: s.returnTo }
      delete s.returnTo
      res.json({ before, after: req.stash.returnTo ?? null, passport: s.passport ?? null, cookie: s.cookie ?? null })
    })
    const res = await request(app)
      .get('/write')
      .expect(200, {
        keys: ['note', 'returnTo', 'theme'],
        note: 'this request only',
        json: { theme: 'dark', returnTo: '/cart', note: 'this request only' },
        has: true,
      })
    const cookie = cookiePair(res)
    expect(await readStash(stash, cookie)).toEqual({ theme: 'dark', returnTo: '/cart' })
    await request(app)
      .get('/read')
      .set('Cookie', cookie)
      .expect(200, { before: { theme: 'dark', returnTo: '/cart' }, after: null, passport: null, cookie: null })
    expect(await readStash(stash, cookie)).toEqual({ theme: 'dark' })
  })

  it('refuses to assign the names of its methods and of req.stash', async () => {
    const app = express().use(stashSession(newStash()))
    app.get('/', (req, res) => {
      const s = sessionOf(req) as Record<string, unknown>
      const refused = ['save', 'regenerate', 'rotate', 'cookie', 'constructor', 'then'].filter((name) => {
        try {
          s[name] = 1
          return false
        } catch (err) {
          return err instanceof TypeError && err.message.startsWith(`express-stash: req.session.${name} cannot be assigned`)
        }
      })
      let cookie: unknown
      try {
        s.cookie = { maxAge: 1000 }
      } catch (err) {
        cookie = (err as Error).message
      }
      res.json({ refused, save: typeof s.save, cookie })
    })
    await request(app)
      .get('/')
      .expect(200, {
        refused: ['save', 'regenerate', 'rotate', 'cookie', 'constructor', 'then'],
        save: 'function',
        cookie:
          'express-stash: req.session.cookie cannot be assigned: the name is reserved (a method of req.session or req.stash); remember me is req.stash.cookie.maxAge, in seconds',
      })
  })

  it('warns once, outside production, of a key assigned through req.session that is not stored', async () => {
    const warnings = jest.spyOn(process, 'emitWarning').mockImplementation(() => undefined)
    try {
      const app = express().use(stashSession(newStash()))
      app.get('/', (req, res) => {
        sessionOf(req).flashNote = 'lost'
        sessionOf(req).theme = 'light' // stored: no warning
        res.json({})
      })
      await request(app).get('/').expect(200)
      await request(app).get('/').expect(200)
      const unstored = warnings.mock.calls.filter(
        ([, o]) => (o as { code?: string }).code === 'EXPRESS_STASH_UNSTORED_SESSION_KEY',
      )
      expect(unstored.map(([text]) => text)).toEqual([expect.stringContaining('req.session.flashNote was assigned')])
      expect(String(unstored[0]![0])).toContain("stashSession(stash, { storedKeys: ['flashNote'] })")
    } finally {
      warnings.mockRestore()
    }
  })
})

describe('the lifecycle methods, called the express-session way', () => {
  it('regenerate(cb) drops the data and the old ID; save(cb) writes under a new one', async () => {
    const stash = newStash()
    const app = express().use(stashSession(stash))
    app.get('/theme', (req, res) => {
      req.stash.theme = 'dark'
      res.json({})
    })
    app.post('/regenerate', async (req, res) => {
      const before = sessionOf(req)
      await called((cb) => before.regenerate(cb))
      const after = sessionOf(req)
      const dropped = after.theme === undefined && req.stash.theme === undefined
      after.theme = 'light'
      await called((cb) => after.save(cb))
      res.json({ replaced: after !== before, dropped, kept: before.theme })
    })
    const old = cookiePair(await request(app).get('/theme').expect(200))
    const res = await request(app)
      .post('/regenerate')
      .set('Cookie', old)
      .expect(200, { replaced: true, dropped: true, kept: 'dark' })
    const fresh = cookiePair(res)
    expect(fresh).not.toBe(old)
    expect(await readStash(stash, old)).toBeUndefined()
    expect(await readStash(stash, fresh)).toEqual({ theme: 'light' })
  })

  it('destroy(cb) deletes the stash and clears the cookie; req.session is gone for the rest of the request', async () => {
    const stash = newStash()
    const app = express().use(stashSession(stash))
    app.get('/theme', (req, res) => {
      req.stash.theme = 'dark'
      res.json({})
    })
    app.post('/destroy', async (req, res) => {
      await called((cb) => sessionOf(req).destroy(cb))
      res.json({ session: (req as { session?: unknown }).session ?? null, theme: req.stash.theme ?? null })
    })
    const cookie = cookiePair(await request(app).get('/theme').expect(200))
    const res = await request(app).post('/destroy').set('Cookie', cookie).expect(200, { session: null, theme: null })
    expect(setCookie(res)).toMatch(/^stash=;/)
    expect(await readStash(stash, cookie)).toBeUndefined()
  })

  it('save(cb) hands a failed write to the callback; the old req.session refuses calls after regenerate()', async () => {
    const app = express().use(stashSession(newStash(['note'])))
    app.post('/', async (req, res) => {
      sessionOf(req).note = new Date(0)
      const failure = await called((cb) => sessionOf(req).save(cb)).catch((err: { code?: string }) => err.code)
      delete sessionOf(req).note
      const before = sessionOf(req)
      await called((cb) => before.regenerate(cb))
      let stale: unknown
      try {
        before.save(() => {})
      } catch (err) {
        stale = (err as Error).message
      }
      let missing: unknown
      try {
        sessionOf(req).regenerate(undefined as never)
      } catch (err) {
        missing = (err as Error).message
      }
      res.json({ failure, stale, missing })
    })
    await request(app).post('/').expect(200, {
      failure: 'ERR_STASH_SERIALIZE',
      stale: 'express-stash: req.session.save() was called on a req.session that regenerate() or destroy() replaced',
      missing: 'express-stash: req.session.regenerate(callback) needs a callback function',
    })
  })

  it("keeps passport's failureMessage in a stored key (storedKeys: ['messages'])", async () => {
    const stash = newStash()
    const auth = new passport.Passport()
    auth.use(new LocalStrategy((_username, _password, done) => done(null, false, { message: 'wrong password' })))
    const app = express().use(express.urlencoded({ extended: false }))
    app.use(stashSession(stash, { storedKeys: ['messages'] }), auth.session())
    app.post('/login', auth.authenticate('local', { failureMessage: true, failureRedirect: '/login' }))
    app.get('/login', (req, res) => void res.json({ messages: sessionOf(req).messages }))
    const res = await request(app).post('/login').type('form').send({ username: 'ada', password: 'x' }).expect(302)
    await request(app)
      .get('/login')
      .set('Cookie', cookiePair(res))
      .expect(200, { messages: ['wrong password'] })
  })
})

describe('req.flash: connect-flash over req.stash.flash', () => {
  it("carries passport's failureFlash to the next request, once, with no connect-flash and no stored key", async () => {
    const stash = newStash()
    const auth = new passport.Passport()
    auth.use(new LocalStrategy((_username, _password, done) => done(null, false, { message: 'wrong password' })))
    const app = express().use(express.urlencoded({ extended: false }))
    app.use(stashSession(stash), auth.session())
    app.post('/login', auth.authenticate('local', { failureFlash: true, failureRedirect: '/login' }))
    const flashOf = (req: Request) => (req as unknown as { flash(type: string): unknown[] }).flash('error')
    app.get('/login', (req, res) => void res.json({ error: flashOf(req) }))
    const res = await request(app).post('/login').type('form').send({ username: 'ada', password: 'x' }).expect(302)
    const cookie = cookiePair(res)
    await request(app)
      .get('/login')
      .set('Cookie', cookie)
      .expect(200, { error: ['wrong password'] })
    await request(app).get('/login').set('Cookie', cookie).expect(200, { error: [] })
  })

  it("formats like connect-flash, returns everything with no type, and leaves an app's own req.flash alone", async () => {
    const stash = newStash()
    const app = express()
    app.get('/own', (req, _res, next) => (((req as unknown as { flash: string }).flash = 'mine'), next()))
    app.use(stashSession(stash))
    type Flashing = { flash(type?: string, message?: unknown, ...args: unknown[]): unknown }
    app.get('/add', (req, res) => {
      ;(req as unknown as Flashing).flash('info', 'hello %s, %d new', 'ada', 3)
      ;(req as unknown as Flashing).flash('info', ['one', 'two'])
      res.end()
    })
    app.get('/all', (req, res) => void res.json((req as unknown as Flashing).flash()))
    app.get('/own', (req, res) => void res.json({ flash: (req as unknown as { flash: unknown }).flash }))
    const cookie = cookiePair(await request(app).get('/add').expect(200))
    await request(app)
      .get('/all')
      .set('Cookie', cookie)
      .expect(200, { info: ['hello ada, 3 new', 'one', 'two'] })
    await request(app).get('/own').expect(200, { flash: 'mine' })
  })
})

describe('a wrong setup is a clear error', () => {
  it('stashSession() without a stash instance, or with bad options, throws a TypeError at once', () => {
    expect(() => stashSession(undefined as never)).toThrow(
      'express-stash: stashSession(stash) needs the stash instance createStash() returned, got undefined',
    )
    expect(() => stashSession((() => {}) as never)).toThrow(TypeError)
    const stash = newStash()
    expect(() => stashSession(stash, { store: true } as never)).toThrow('express-stash: unknown option `stashSession.store`')
    expect(() => stashSession(stash, { key: '' })).toThrow(/option `stashSession.key` must be/)
    expect(() => stashSession(stash, { key: 'save' })).toThrow(/option `stashSession.key` must be/)
    expect(() => stashSession(stash, { storedKeys: 'messages' as never })).toThrow(/option `stashSession.storedKeys` must be/)
    expect(() => stashSession(stash, { ttl: 0 })).toThrow(/option `stashSession.ttl` must be a positive number/)
  })

  it('express-session mounted too: the request fails, naming both', async () => {
    const app = express()
    app.use(session({ secret: 'x', resave: false, saveUninitialized: false }))
    app.use(stashSession(newStash()))
    app.get('/', (_req, res) => void res.json({}))
    app.use(errorJson)
    const res = await request(app).get('/').expect(500)
    expect(res.body.message).toBe(
      'express-stash: req.session is set already (by express-session or cookie-session?): stashSession() makes req.session from req.stash. Mount one of them, not both',
    )
  })

  it("a request that carries another instance's stash fails, naming the instances", async () => {
    const app = express().use(newStash()).use(stashSession(newStash()))
    app.get('/', (_req, res) => void res.json({}))
    app.use(errorJson)
    const res = await request(app).get('/').expect(500)
    expect(res.body.message).toContain('this request already has a stash of another instance')
  })

  it('mounted twice (app and router), req.session stays the same object', async () => {
    const stash = newStash()
    const app = express().use(stashSession(stash))
    const router = express.Router().use(stashSession(stash))
    let first: unknown
    app.use((req, _res, next) => {
      first = sessionOf(req)
      next()
    })
    router.get('/', (req, res) => void res.json({ same: sessionOf(req) === first }))
    app.use('/r', router)
    await request(app).get('/r').expect(200, { same: true })
  })
})
