/**
 * `createStash()`: validates the options and assembles one stash instance (its store calls,
 * its request entry, its admin calls) into the middleware it returns.
 * @module
 */
import { EventEmitter } from 'node:events'
import { createAdmin } from './admin.js'
import { memoryAdapter } from './adapters/memory/memory.js'
import { createCodec } from './values/codec.js'
import { message, optionError } from './errors.js'
import { resolveOptions, resolveRouteOptions, type ResolvedCookieOptions, type StashOptions } from './options.js'
import { StashRuntime } from './request/middleware.js'
import { instancePlan, routePlan } from './request/route-plan.js'
import { StoreCalls } from './store/store-calls.js'
import type { StashData, StashHandler, StashMiddleware, StashStats } from './types.js'

const DEVELOPMENT_SECRET = 'express-stash development secret'
let warnedDevelopmentSecret = false

/**
 * Creates a stash: a middleware that attaches `req.stash`, a server-side state bag whose
 * `storedKeys` are restored on the client's next request. The browser holds only a signed ID.
 *
 * @example
 * const stash = createStash({ secret: process.env.STASH_SECRET, storedKeys: ['theme'], ttl: 300 })
 * app.use(stash)
 * app.post('/cart', stash.route({ storedKeys: ['cart'], ttl: 3600 }), (req, res) => {
 *   req.stash.cart = [...(req.stash.cart ?? []), req.body.item]
 *   res.json(req.stash.cart)
 * })
 */
export function createStash<Data extends object = StashData>(options: StashOptions<NoInfer<Data>> = {}): StashMiddleware<Data> {
  const resolved = resolveOptions(options)
  const secrets = resolved.secrets ?? developmentSecrets()
  warnIfInsecureCookie(resolved.cookie)
  const adapter = resolved.adapter ?? memoryAdapter()
  adapter.recovery?.attach(secrets)
  const plan = instancePlan(resolved)
  const stash = function stash(req, res, next) {
    runtime.handle(req, res, next, plan)
  } as StashMiddleware<Data>
  mixInEventEmitter(stash)
  const codec = createCodec(secrets, resolved.version, { encrypt: resolved.encrypt, authenticate: adapter.inProcess !== true })
  const store = new StoreCalls(adapter, stash)
  const runtime = new StashRuntime(resolved, adapter, secrets, codec, store)
  // Internal: express-stash/testing's seedStash() and readStash() find the instance's runtime here.
  Object.defineProperty(stash, Symbol.for('express-stash.runtime'), { value: runtime })
  // One subscription per instance (never per request): `stats().evictions` and `'evicted'`.
  const unsubscribeEvictions = adapter.onEvict?.((eviction) => store.evicted(eviction))

  Object.defineProperties(stash, {
    route: {
      value: function route(routeOptions?: unknown): StashHandler {
        const route = resolveRouteOptions(routeOptions)
        for (const key of route.storedKeys) runtime.declaredKeys.add(key)
        const plan = routePlan(resolved, route)
        return function stashRoute(req, res, next) {
          runtime.handle(req, res, next, plan)
        }
      },
    },
    close: {
      value: async function close(): Promise<void> {
        try {
          unsubscribeEvictions?.()
          await adapter.close()
        } catch (err) {
          store.report(err) // closing never fails: what could not be released is reported
        }
      },
    },
    ready: {
      value: async function ready(options?: { timeout?: number }): Promise<void> {
        await store.ready(readyTimeout(options))
      },
    },
    stats: {
      value: function stats(): StashStats {
        const cache = adapter.cacheStats?.()
        return cache === undefined ? store.stats.snapshot() : Object.freeze({ ...store.stats.snapshot(), cache })
      },
    },
  })
  const admin = createAdmin(store, codec, resolved.sessionKey)
  for (const [name, value] of Object.entries(admin)) Object.defineProperty(stash, name, { value, configurable: true })
  // `length` is also a function's arity, which Connect and Express read to tell (req, res, next)
  // middleware from error handlers: the admin `length()` still converts to 3 in comparisons.
  Object.defineProperty(admin.length, 'valueOf', { value: () => 3 })
  return stash
}

/** Gives the middleware function the methods of an EventEmitter (its events: see {@link StashMiddleware}). */
function mixInEventEmitter(stash: object): void {
  for (const name of Object.getOwnPropertyNames(EventEmitter.prototype)) {
    if (name !== 'constructor') Object.defineProperty(stash, name, Object.getOwnPropertyDescriptor(EventEmitter.prototype, name)!)
  }
}

/** Warns once per instance when the cookie is configured to travel in clear text in production. */
function warnIfInsecureCookie(cookie: ResolvedCookieOptions): void {
  if (process.env.NODE_ENV === 'production' && cookie.secure === false) {
    process.emitWarning(message('cookie.secure is false in production: the stash cookie travels in clear text'), {
      code: 'EXPRESS_STASH_INSECURE_COOKIE',
    })
  }
}

/** Milliseconds `stash.ready()` waits by default. */
const READY_TIMEOUT = 10_000

function readyTimeout(options: { timeout?: number } | undefined): number {
  const timeout = options?.timeout ?? READY_TIMEOUT
  if (typeof timeout !== 'number' || !Number.isSafeInteger(timeout) || timeout <= 0) {
    throw optionError('ready.timeout', 'a positive integer of milliseconds', timeout)
  }
  return timeout
}

function developmentSecrets(): readonly string[] {
  if (process.env.NODE_ENV === 'production') {
    throw optionError('secret', 'set when NODE_ENV is production (a string or an array of strings)', undefined)
  }
  if (!warnedDevelopmentSecret) {
    warnedDevelopmentSecret = true
    process.emitWarning(message('no `secret` given: using a development secret. Set one before deploying.'), {
      code: 'EXPRESS_STASH_DEVELOPMENT_SECRET',
    })
  }
  return [DEVELOPMENT_SECRET]
}
