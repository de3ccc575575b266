/**
 * What the migration tests share: an express-session app (login by `regenerate`, a cart, logout)
 * behind one address whose store is swapped between requests, as a release swaps it, and an
 * express-session store that lets a test step into the middle of another store's `get()`.
 * @module
 */
import express, { type ErrorRequestHandler, type Express, type Request, type RequestHandler } from 'express'
import session, { type SessionData, type Store } from 'express-session'
import type { Response } from 'supertest'
import type { PreviousSessionStore } from '../../lib/session-store/session-store.js'
import { cookiePair, idOf } from '../support/http.js'

/** The secret and cookie name both releases of the app use. */
export const SECRET = 'migration test secret'
export const COOKIE = 'app.sid'

/** What the app keeps in its session. */
type Account = { user?: string; cart?: string[] }
const account = (req: Request) => req.session as typeof req.session & Account

const errorJson: ErrorRequestHandler = (err: { status?: number; code?: string; message: string }, _req, res, _next) => {
  res.status(err.status ?? 500).json({ code: err.code ?? null, message: err.message })
}

/** The app on `store`: POST /login/:user (regenerate), GET /me, POST /cart/:item, POST /logout (destroy). */
export function sessionApp(store: Store, cookie: session.CookieOptions = { maxAge: 60_000 }): Express {
  const app = express()
  app.use(session({ secret: SECRET, name: COOKIE, store, resave: false, saveUninitialized: false, cookie }))
  app.post('/login/:user', (req, res, next) => {
    req.session.regenerate((err) => {
      if (err) return next(err)
      account(req).user = String(req.params.user)
      res.end()
    })
  })
  app.get('/me', (req, res) => void res.json({ user: account(req).user ?? null, cart: account(req).cart ?? [] }))
  app.post('/cart/:item', (req, res) => {
    const session = account(req)
    session.cart = [...(session.cart ?? []), String(req.params.item)]
    res.json(session.cart)
  })
  app.post('/logout', (req, res, next) => req.session.destroy((err) => (err ? next(err) : res.end())))
  app.use(errorJson)
  return app
}

/** One address whose app `deploy()` replaces: a supertest agent on `handler` keeps its cookies across releases. */
export function deployment(first: Express): { handler: Express; deploy(app: Express): void } {
  let current: RequestHandler = first
  const handler = express()
  handler.use((req, res, next) => current(req, res, next))
  return { handler, deploy: (app) => void (current = app) }
}

/** The session ID of the cookie a response set. */
export const sidOf = (res: Response): string => idOf(cookiePair(res, COOKIE))

/**
 * `store` with its `get()` replaced by `get(sid, read)`, where `read()` is the real one: a test
 * can act between the read and the answer, as a concurrent request would.
 */
export function steppingInto(
  store: Store & { prefix?: string },
  get: (sid: string, read: () => Promise<SessionData | null>) => Promise<SessionData | null>,
): PreviousSessionStore {
  const read = (sid: string) =>
    new Promise<SessionData | null>((resolve, reject) =>
      store.get(sid, (err, s) => (err ? reject(err as Error) : resolve(s ?? null))),
    )
  return {
    prefix: store.prefix,
    get: (sid, callback) => void get(sid, () => read(sid)).then((s) => callback(null, s), callback),
    destroy: (sid, callback) => store.destroy(sid, callback),
    clear: (callback) => store.clear?.(callback),
  }
}
