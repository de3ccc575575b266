/**
 * `stashSession(stash)`: passport (0.6, 0.7) on `req.stash` alone, without express-session. A
 * middleware that attaches the stash with passport's key stored and gives `req.session` over it
 * ({@link StashSession}), which is all passport asks of a session.
 * @module
 */
import type { IncomingMessage } from 'node:http'
import { format } from 'node:util'
import { describe, message, optionError, optionsObject, secondsOption } from '../errors.js'
import { RESERVED_NAMES, type RouteOptions, type StashHandler, type StashMiddleware } from '../types.js'
import { isFacade, isLiveFacade, sessionFacade, type StashSession } from './session-facade.js'

export type { StashSession }

/** Options of {@link stashSession}. */
export interface StashSessionOptions {
  /**
   * The session key passport keeps its login in (`req.session.passport.user`): passport's own
   * `_key`, which it never changes unless told to. Always stored.
   * @default 'passport'
   */
  key?: string
  /**
   * More session keys to store, for what other middleware keeps in `req.session`: passport's
   * `failureMessage` (`'messages'`), `successReturnToOrRedirect` (`'returnTo'`), an OAuth
   * strategy's state. A key assigned through `req.session` that is not stored lives for one
   * request (warned of outside production). @default []
   */
  storedKeys?: readonly string[]
  /** Seconds of inactivity before the login (and `storedKeys`) expire. @default the instance's ttl */
  ttl?: number
}

/** A request under {@link stashSession}: `Req` with `session: StashSession`. */
export type StashSessionRequest<Req extends object = IncomingMessage> = Omit<Req, 'session'> & { session: StashSession }

const OPTIONS = new Set(['key', 'storedKeys', 'ttl'])

/**
 * The middleware that runs passport on `req.stash`: mount it in place of `app.use(stash)` (or
 * after it), before `passport.session()`. It attaches the stash with passport's key (and
 * `storedKeys`) stored, as `stash.route()` does, and sets `req.session` to a facade over
 * `req.stash`: `req.session.passport` is the stored key `req.stash.passport`; `regenerate(cb)`,
 * which passport calls at login and logout, deletes the stash and drops its data, so the next
 * write (passport's `save`) issues a new ID and an ID from before the login is worthless;
 * `save(cb)` is `req.stash.save()`; `destroy(cb)` is `req.stash.reset()`.
 *
 * @param stash - The instance `createStash()` returned.
 * @example
 * const stash = createStash({ secret, adapter })
 * app.use(stashSession(stash, { ttl: 8 * 3600 }))
 * app.use(passport.session())
 * app.post('/login', passport.authenticate('local', { successRedirect: '/', failureRedirect: '/login' }))
 * app.post('/logout', (req, res, next) => req.logout((err) => (err ? next(err) : res.redirect('/'))))
 */
export function stashSession<Data extends object>(stash: StashMiddleware<Data>, options: StashSessionOptions = {}): StashHandler {
  if (typeof stash !== 'function' || typeof (stash as { route?: unknown }).route !== 'function') {
    throw new TypeError(message(`stashSession(stash) needs the stash instance createStash() returned, got ${describe(stash)}`))
  }
  const { key, storedKeys, ttl } = resolveOptions(options)
  const route = stash.route({
    storedKeys: [key, ...storedKeys],
    ...(ttl === undefined ? {} : { ttl }),
  } as unknown as RouteOptions<Data>)
  return function stashSession(req, res, next) {
    const session = (req as { session?: unknown }).session
    if (session !== undefined && !isFacade(session)) {
      return next(
        new TypeError(
          message(
            'req.session is set already (by express-session or cookie-session?): stashSession() makes req.session ' +
              'from req.stash. Mount one of them, not both',
          ),
        ),
      )
    }
    route(req, res, (err) => {
      if (err !== undefined && err !== null) return next(err)
      if (!isLiveFacade((req as { session?: unknown }).session)) (req as { session?: unknown }).session = sessionFacade(req)
      const flashing = req as { flash?: unknown; stash?: { flash: StashFlashFunction } }
      if (flashing.flash === undefined) flashing.flash = connectFlash(flashing.stash!.flash.bind(flashing.stash))
      next()
    })
  }
}

/** `req.stash.flash` as the middleware sees it. */
type StashFlashFunction = (key?: string, message?: unknown) => unknown

/**
 * `req.flash` over `req.stash.flash`, as connect-flash defines it: `req.flash(type, message)`
 * (a format string and its arguments: `req.flash('info', 'hello %s', name)`), `req.flash(type)`,
 * `req.flash()`. passport's `failureFlash` and `successFlash` call it; connect-flash, mounted
 * after, leaves a `req.flash` it finds in place.
 */
function connectFlash(flash: StashFlashFunction): (type?: string, message?: unknown, ...args: unknown[]) => unknown {
  return (type, message, ...args) => {
    if (type === undefined) return flash()
    if (message === undefined) return flash(type)
    return flash(type, args.length > 0 && typeof message === 'string' ? format(message, ...args) : message)
  }
}

/** Validates the options of {@link stashSession}. Throws `TypeError` naming the option. */
function resolveOptions(options: unknown): { key: string; storedKeys: string[]; ttl: number | undefined } {
  const o = optionsObject(options, 'stashSession', OPTIONS)
  const key = o.key ?? 'passport'
  if (typeof key !== 'string' || key === '' || RESERVED_NAMES.has(key)) {
    throw optionError('stashSession.key', 'a non-empty string that is not a reserved name', key)
  }
  const storedKeys = o.storedKeys ?? []
  if (!Array.isArray(storedKeys) || storedKeys.some((k) => typeof k !== 'string')) {
    throw optionError('stashSession.storedKeys', 'an array of key names', storedKeys)
  }
  const ttl = o.ttl === undefined ? undefined : secondsOption(o.ttl, 'stashSession.ttl')
  return { key, storedKeys: [...new Set(storedKeys as string[])].filter((k) => k !== key), ttl }
}
