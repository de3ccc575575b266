import type { EventEmitter } from 'node:events'
import type { IncomingMessage, ServerResponse } from 'node:http'
import type { StashAdmin } from './admin.js'
import type { RouteOptions } from './options.js'
import type { StashStats } from './stats.js'

/**
 * The shape of stored data, to be completed by the application through declaration merging:
 *
 * ```ts
 * declare module 'express-stash' {
 *   interface StashData { count: number; cart: string[] }
 * }
 * ```
 */
// eslint-disable-next-line @typescript-eslint/no-empty-interface
export interface StashData {}

/** The methods of `req.stash`. Their names are reserved: they cannot be stored keys. */
export interface StashMethods<Data extends object = StashData> {
  /** False when the store could not answer and `onUnavailable` is `'continue'`: writes are dropped. */
  readonly available: boolean
  /** Persists what changed now, e.g. before streaming a long response. */
  save(): Promise<void>
  /** Deletes all stored state of this stash now and empties it (LiveStash `reset_stash`). */
  reset(): Promise<void>
  /** Moves the stash to a new ID, same data, old record deleted: call it on login. */
  rotate(): Promise<void>
  /**
   * Atomically replaces a stored key of this route with `fn(current)` against the store,
   * retrying on concurrent changes: N concurrent `update('n', (n) => (n ?? 0) + 1)` give N.
   * Returning `undefined` removes the key. Resolves to the value written.
   */
  update<Key extends keyof Data & string>(
    key: Key,
    fn: (current: Data[Key] | undefined) => Data[Key] | undefined | Promise<Data[Key] | undefined>,
  ): Promise<Data[Key] | undefined>
}

/** `req.stash`: the data (every key optional) plus the methods. */
export type Stash<Data extends object = StashData> = Partial<Data> & StashMethods<Data>

/** The `next` callback of Express and Connect. */
export type NextFunction = (err?: unknown) => void

/** A middleware usable with Express 4, Express 5 and Connect. */
export type StashHandler = (req: IncomingMessage, res: ServerResponse, next: NextFunction) => void

/**
 * What `createStash()` returns: a middleware (`app.use(stash)`) that is also an EventEmitter,
 * with per-route configuration, `close()`, `stats()` and the admin calls of {@link StashAdmin}.
 *
 * Events:
 * - `'error'` `(err)`: a failure that could not reach a response (a write after the headers
 *   went out, a dropped write, a corrupt stored value). Without a listener it is logged.
 * - `'unavailable'` `(err)` / `'available'` `()`: the store stopped / started answering again.
 * - `'expired'` `({ record })`: a client came back with a signed ID whose record is gone
 *   (expired, revoked or reset elsewhere); `record` is the hashed record key, never the ID.
 */
export interface StashMiddleware<Data extends object = StashData> extends StashHandler, EventEmitter, StashAdmin {
  /**
   * A middleware for one route or router: persists `storedKeys` on top of the instance's and
   * applies `ttl`. On a request that already has a stash, it loads only the keys not loaded yet.
   */
  route(options?: RouteOptions): StashHandler
  /** Closes what this instance opened: its adapter's timers and clients. */
  close(): Promise<void>
  /** A snapshot of this instance's counters and store latency since it was created. */
  stats(): StashStats
  /** @internal Carries the data type; never set. */
  readonly __data?: Data
}

declare global {
  // eslint-disable-next-line @typescript-eslint/no-namespace
  namespace Express {
    interface Request {
      /** The client's stash, attached by express-stash. */
      stash: Stash
    }
  }
}
