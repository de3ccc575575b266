/**
 * `req.session` made of `req.stash`: the object passport (and code written for express-session)
 * reads and writes. Its data is the stash's own data, live; its lifecycle methods are the
 * stash's: `regenerate` is a new ID with the data dropped, `save` is `req.stash.save()`,
 * `destroy` is `req.stash.reset()`.
 * @module
 */
import { inspect } from 'node:util'
import { message } from '../errors.js'
import { RESERVED_NAMES, type StashMethods } from '../types.js'
import { requestStateOf } from '../request/request-state.js'

/** The callback of express-session's lifecycle methods. */
type Callback = (err?: unknown) => void

/**
 * `req.session` under {@link stashSession}: the data of `req.stash` (every key of the stash is a
 * key of the session, and the other way round) and express-session's lifecycle methods, each
 * taking express-session's callback. Your own code reads and writes `req.stash`; this type is for
 * the rare handler that must use `req.session` itself (`(req as StashSessionRequest).session`).
 */
export interface StashSession {
  /** A new stash ID with the data dropped (login, logout): the record is deleted; the next write issues a new ID. */
  regenerate(callback: (err?: unknown) => void): this
  /** `req.stash.save()`: persist what changed now. */
  save(callback?: (err?: unknown) => void): this
  /** `req.stash.reset()`: the stash is deleted and its cookie cleared; `req.session` is gone for the rest of the request. */
  destroy(callback: (err?: unknown) => void): this
  /** The stash's data: `req.session.passport` is `req.stash.passport`. */
  [key: string]: unknown
}

/** What one `req.session` facade reads and writes. */
interface Backing {
  /** The request whose `req.session` this is (or was, once detached). */
  readonly req: object
  /** The stash behind it. */
  readonly stash: StashMethods & Record<string, unknown>
  /** The data: the stash itself while live; a copy once `regenerate()` or `destroy()` replaced it. */
  data: Record<string, unknown>
  /** False once replaced: passport's `prevSession` of `keepSessionInfo`, read after `regenerate()`. */
  live: boolean
}

/** Facade (the proxy, and its target for `util.inspect`) → what it reads and writes. */
const backings = new WeakMap<object, Backing>()

/** The methods of `req.session`. Its data properties are the stash's; see {@link sessionFacade}. */
class StashSessionFacade {
  /** express-session's `regenerate(cb)`: the stash's record is deleted and its data dropped; the next write gets a new ID. */
  regenerate(callback: Callback): this {
    const backing = liveBacking(this, 'regenerate', callback)
    const snapshot = { ...backing.data } // what passport merges back with `keepSessionInfo: true`
    settle(backing.stash.reset(), callback, () => {
      detach(backing, snapshot)
      ;(backing.req as { session?: unknown }).session = sessionFacade(backing.req)
    })
    return this
  }

  /** express-session's `save(cb)`: `req.stash.save()`. Without a callback, a failure is reported by the end of the request, which writes again. */
  save(callback?: Callback): this {
    const backing = liveBacking(this, 'save', callback ?? (() => {}))
    settle(backing.stash.save(), callback ?? (() => {}))
    return this
  }

  /** express-session's `destroy(cb)`: `req.stash.reset()`, then `req.session` is gone for the rest of the request. */
  destroy(callback: Callback): this {
    const backing = liveBacking(this, 'destroy', callback)
    settle(backing.stash.reset(), callback, () => {
      detach(backing, {})
      const req = backing.req as { session?: unknown }
      if (req.session === this) delete req.session
    })
    return this
  }

  /** `console.log(req.session)` shows its data. */
  [inspect.custom](depth: number, options: object): string {
    const data = backings.get(this)?.data ?? {}
    return `StashSession ${inspect({ ...data }, { ...options, depth })}`
  }
}

/** A new live `req.session` over `req.stash` of `req`. */
export function sessionFacade(req: object): StashSession {
  const stash = (req as { stash: StashMethods & Record<string, unknown> }).stash
  const target = new StashSessionFacade()
  const backing: Backing = { req, stash, data: stash, live: true }
  const own = (prop: string | symbol): prop is string => typeof prop === 'string' && Object.hasOwn(backing.data, prop)
  const facade = new Proxy(target, {
    get: (target, prop, receiver) => (own(prop) ? backing.data[prop] : (Reflect.get(target, prop, receiver) as unknown)),
    set(target, prop, value) {
      assign(backing, target, prop, value)
      return true
    },
    defineProperty(target, prop, descriptor) {
      if (!('value' in descriptor)) throw new TypeError(message(`req.session.${String(prop)} cannot be an accessor`))
      assign(backing, target, prop, descriptor.value)
      return true
    },
    deleteProperty(_target, prop) {
      if (own(prop)) delete backing.data[prop]
      return true
    },
    has: (target, prop) => own(prop) || Reflect.has(target, prop),
    ownKeys: () => Object.keys(backing.data),
    getOwnPropertyDescriptor: (target, prop) =>
      own(prop)
        ? { value: backing.data[prop], writable: true, enumerable: true, configurable: true }
        : Reflect.getOwnPropertyDescriptor(target, prop),
  })
  backings.set(facade, backing)
  backings.set(target, backing)
  return facade as unknown as StashSession
}

/** Whether `value` is a `req.session` made by {@link sessionFacade} that still reads the stash. */
export function isLiveFacade(value: unknown): boolean {
  return typeof value === 'object' && value !== null && backings.get(value)?.live === true
}

/** Whether `value` is a `req.session` made by {@link sessionFacade}, live or replaced. */
export function isFacade(value: unknown): boolean {
  return typeof value === 'object' && value !== null && backings.has(value)
}

/** `req.session[prop] = value`: a data key of the stash; the names of methods cannot be assigned. */
function assign(backing: Backing, target: object, prop: string | symbol, value: unknown): void {
  if (typeof prop !== 'string' || prop in target || RESERVED_NAMES.has(prop)) {
    const hint = typeof prop === 'string' && Object.hasOwn(HINTS, prop) ? HINTS[prop] : ''
    throw new TypeError(
      message(
        `req.session.${String(prop)} cannot be assigned: the name is reserved (a method of req.session or req.stash)${hint}`,
      ),
    )
  }
  backing.data[prop] = value
  if (backing.live) warnIfUnstored(backing, prop)
}

/** What to use instead of a reserved name that code written for express-session assigns. */
const HINTS: Readonly<Record<string, string>> = {
  flash: '; connect-flash keeps its messages there: use req.stash.flash() instead',
  cookie: '; remember me is req.stash.cookie.maxAge, in seconds',
}

/** The backing of a facade whose method is called, as long as it is still `req.session`. */
function liveBacking(facade: object, method: string, callback: unknown): Backing {
  if (typeof callback !== 'function') throw new TypeError(message(`req.session.${method}(callback) needs a callback function`))
  const backing = backings.get(facade)
  if (backing === undefined)
    throw new TypeError(message(`req.session.${method}() was called on something that is not req.session`))
  if (!backing.live) {
    throw new TypeError(message(`req.session.${method}() was called on a req.session that regenerate() or destroy() replaced`))
  }
  return backing
}

/** The facade no longer reads the stash: its data is `data` from now on. */
function detach(backing: Backing, data: Record<string, unknown>): void {
  backing.live = false
  backing.data = data
}

/** Calls `callback` once `operation` settles, outside the promise (a throw in it is not a rejection), after `then` on success. */
function settle(operation: Promise<unknown>, callback: Callback, then?: () => void): void {
  operation.then(
    () => {
      then?.()
      process.nextTick(callback)
    },
    (err: unknown) => process.nextTick(callback, err),
  )
}

/** Keys assigned through `req.session` that were not stored, each warned of once. */
const warned = new Set<string>()
/** Most distinct keys warned of. */
const MAX_WARNED = 1000

/**
 * A key assigned through `req.session` that this request does not store lives for this request
 * only, where express-session would have kept it: warned of once per key, outside production.
 */
function warnIfUnstored(backing: Backing, key: string): void {
  const state = requestStateOf(backing.stash)
  if (state === undefined || state.keys.includes(key)) return
  if (process.env.NODE_ENV === 'production' || warned.has(key) || warned.size >= MAX_WARNED) return
  warned.add(key)
  process.emitWarning(
    message(
      `req.session.${key} was assigned, but "${key}" is not a stored key of this request: it lives for this request only. ` +
        `List it in stashSession(stash, { storedKeys: ['${key}'] }) to keep it.`,
    ),
    { code: 'EXPRESS_STASH_UNSTORED_SESSION_KEY' },
  )
}
