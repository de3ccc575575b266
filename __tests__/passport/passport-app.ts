/**
 * The app the passport tests drive: passport-local on `req.stash` through `stashSession()`, no
 * express-session. A login form, a protected route, logout, a page that stores a visit count.
 */
import express from 'express'
import passport from 'passport'
import { Strategy as LocalStrategy } from 'passport-local'
import { stashSession, type StashMiddleware, type StashSessionOptions } from '../../lib/index.js'

declare module '../../lib/types' {
  interface StashData {
    visits: number
  }
}

/** The users and their passwords. */
export const PASSWORDS: Readonly<Record<string, string>> = { ada: 'correct horse battery staple', bob: 'hunter2' }

/** Users passport knows; a name deleted here is a user whose account is gone. */
const accounts = new Set(Object.keys(PASSWORDS))

export interface PassportAppOptions {
  /** passport's `keepSessionInfo` at login and logout. */
  keepSessionInfo?: boolean
  /** Options of `stashSession()`. */
  session?: StashSessionOptions
  /** Mount `app.use(stash)` before `stashSession(stash)` (else stashSession attaches the stash itself). */
  stashFirst?: boolean
}

/** The app, with its own passport instance (so tests never share strategies). */
export function passportApp(stash: StashMiddleware, options: PassportAppOptions = {}): express.Express {
  const keepSessionInfo = options.keepSessionInfo ?? false
  const auth = new passport.Passport()
  auth.use(
    new LocalStrategy((username, password, done) => {
      const known = accounts.has(username) && PASSWORDS[username] === password
      done(null, known ? { id: username } : false)
    }),
  )
  auth.serializeUser((user, done) => done(null, (user as { id: string }).id))
  auth.deserializeUser((id: string, done) => done(null, accounts.has(id) ? { id } : false))

  const app = express()
  app.use(express.urlencoded({ extended: false }))
  if (options.stashFirst === true) app.use(stash)
  app.use(stashSession(stash, options.session))
  app.use(auth.session())
  app.get('/visit', (req, res) => {
    req.stash.visits = (req.stash.visits ?? 0) + 1
    res.json({ visits: req.stash.visits })
  })
  app.post('/login', auth.authenticate('local', { keepSessionInfo }), (req, res) => {
    res.json({ user: req.user })
  })
  app.get('/me', (req, res) => {
    if (!req.isAuthenticated()) return void res.status(401).json({ authenticated: false, visits: req.stash.visits })
    res.json({ authenticated: true, user: req.user, visits: req.stash.visits })
  })
  app.post('/logout', (req, res, next) => {
    req.logout({ keepSessionInfo }, (err) => (err ? next(err) : res.json({ authenticated: req.isAuthenticated() })))
  })
  app.use(errorJson)
  return app
}

/** Deletes a user's account: passport's `deserializeUser` no longer finds it. */
export function deleteAccount(name: string): () => void {
  accounts.delete(name)
  return () => accounts.add(name)
}

/** The error handler: status, code and message as JSON. */
export const errorJson: express.ErrorRequestHandler = (
  err: { status?: number; code?: string; message: string },
  _req,
  res,
  _next,
) => {
  res.status(err.status ?? 500).json({ code: err.code, message: err.message })
}
