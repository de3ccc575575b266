/**
 * The public vocabulary of the middleware: the data types, `req.stash` and its cookie, route
 * options, the admin calls, the stats, and the middleware `createStash()` returns.
 * @module
 */
import type { EventEmitter } from 'node:events'
import type { IncomingMessage, ServerResponse } from 'node:http'
import type { JsonSafeKey } from './json-types.js'
import type { StashCacheStats } from './store/adapter.js'

/**
 * The shape of stored data, to be completed by the application through declaration merging:
 *
 * ```ts
 * declare module 'express-stash' {
 *   interface StashData { count: number; cart: string[] }
 * }
 * ```
 */
// eslint-disable-next-line @typescript-eslint/no-empty-object-type
export interface StashData {}

/**
 * The message type of each key of `req.stash.flash`, by declaration merging like {@link StashData}
 * (`interface StashFlash { error: string }`); while it declares none, any string key and `unknown` messages.
 */
// eslint-disable-next-line @typescript-eslint/no-empty-object-type
export interface StashFlash {}

/** A key `req.stash.flash` accepts: a key of {@link StashFlash}, or any string while it declares none. */
export type StashFlashKey = [keyof StashFlash] extends [never] ? string : Extract<keyof StashFlash, string>
/** One message under `Key`, as {@link StashFlash} declares it. */
export type StashFlashMessage<Key extends string = string> = Key extends keyof StashFlash ? StashFlash[Key] : unknown
/** What `req.stash.flash()` returns: each key holding messages, with its messages in the order they were added. */
export type StashFlashMessages = [keyof StashFlash] extends [never]
  ? Record<string, unknown[]>
  : { [Key in keyof StashFlash]?: StashFlash[Key][] }

/** `req.stash.cookie`: the client's own cookie settings. */
export interface StashCookie {
  /**
   * Seconds this client's stash cookie lives in the browser (remember me), from this response
   * on; `undefined` or `null` returns to the instance's `cookie.maxAge` (none by default: a
   * browser-session cookie). `rotate()` keeps it, `reset()` clears it, and the cookie never
   * outlives the stash: its `Max-Age` is at most the longest ttl of the request's stored keys,
   * and never reaches past `maxLifetime`.
   */
  get maxAge(): number | undefined
  set maxAge(seconds: number | null | undefined)
}

/** Methods of `req.stash`: their names cannot be data keys. */
export const STASH_METHODS = Object.freeze([
  'save',
  'reset',
  'rotate',
  'update',
  'reload',
  'flash',
  'available',
  'cookie',
  'expiresAt',
] as const satisfies readonly (keyof StashMethods)[])

/** The record field of the flash messages (`req.stash.flash`), reserved. @internal */
export const FLASH_FIELD = '~flash'
/**
 * Names a stored key may not use: the stash's methods, everything on `Object.prototype`
 * (`constructor`, `__proto__`, `toString`, ...), `then` (it would make `req.stash` a thenable),
 * `toJSON` (it would hijack `JSON.stringify(req.stash)`) and the field of the flash messages.
 */
export const RESERVED_NAMES: ReadonlySet<string> = new Set([
  ...STASH_METHODS,
  ...Object.getOwnPropertyNames(Object.prototype),
  'prototype',
  'then',
  'toJSON',
  FLASH_FIELD,
])

/** The methods of `req.stash`. Their names are reserved: they cannot be stored keys. */
export interface StashMethods<Data extends object = StashData> {
  /** False when the store could not answer and `onUnavailable` is `'continue'`: writes are dropped. */
  readonly available: boolean
  /**
   * This client's cookie settings. `req.stash.cookie.maxAge = seconds` makes this client's
   * cookie persistent from this response on (remember me) while others keep the instance's;
   * `rotate()` keeps it, `reset()` clears it, and its `Max-Age` never exceeds the ttl.
   */
  readonly cookie: StashCookie
  /**
   * When each stored key of this request that holds a value expires, as the end of the request
   * leaves it (a key assigned now counts from now; a loaded key slides unless `touch` is off),
   * capped by `maxLifetime`: `req.stash.expiresAt.cart` for "your cart expires in 5 minutes".
   * A new frozen object on every read; keys without a value are absent.
   */
  readonly expiresAt: StashExpiry<Data>
  /** Persists what changed now, e.g. before streaming a long response. */
  save(): Promise<void>
  /** Deletes all stored state of this stash now, empties it and clears the cookie (LiveStash `reset_stash`); call it on logout. */
  reset(): Promise<void>
  /**
   * Moves the whole stash (every stored key, loaded or not) to a new ID bound to the session
   * value the request has now, deletes the old record and sends the new cookie: call it on
   * login and on privilege changes. Rejects when the store cannot do it.
   */
  rotate(): Promise<void>
  /**
   * Reads this request's stored keys again from the store itself (never a cache's copy), dropping unsaved
   * changes to them; empty when the record is gone. Rejects, changing nothing, when the store cannot answer.
   */
  reload(): Promise<void>
  /**
   * Queues a flash message under `key` for a later request (an array queues each element; no `storedKeys`
   * entry needed) and returns how many this request queued under `key`. Not JSON-safe: `TypeError`.
   */
  flash<Key extends StashFlashKey>(key: Key, message: StashFlashMessage<Key> | readonly StashFlashMessage<Key>[]): number
  /** The flash messages under `key` (`[]` for none), removed for every later request: one of concurrent requests gets them. */
  flash<Key extends StashFlashKey>(key: Key): StashFlashMessage<Key>[]
  /** Every flash message, by key, all removed for every later request. */
  flash(): StashFlashMessages
  /**
   * Atomically replaces a stored key of this route with `fn(current)` against the store,
   * retrying on concurrent changes: N concurrent `update('n', (n) => (n ?? 0) + 1)` give N.
   * Returning `undefined` removes the key. Resolves to the value written. The key's value type
   * must survive JSON ({@link JsonSafeKey}).
   */
  update<Key extends JsonSafeKey<Data>>(
    key: Key,
    fn: (current: Data[Key] | undefined) => Data[Key] | undefined | Promise<Data[Key] | undefined>,
  ): Promise<Data[Key] | undefined>
}

/** `req.stash.expiresAt`: when each stored key holding a value expires. */
export type StashExpiry<Data extends object = StashData> = { readonly [Key in keyof Data]?: Date } & {
  readonly [key: string]: Date | undefined
}

/** `req.stash`: the data (every key optional) plus the methods. */
export type Stash<Data extends object = StashData> = Partial<Data> & StashMethods<Data>

/**
 * A key `storedKeys` accepts: a key of `Data` whose value type JSON round-trips (not a `Date`,
 * `Map`, `Set`, `bigint`, function or class instance: see {@link JsonSafeKey}), or any string
 * while `Data` declares none (an application that does not type its stash). Keys used only
 * within one request may hold any type.
 */
export type StoredKey<Data extends object = StashData> = [keyof Data] extends [never] ? string : JsonSafeKey<Data>

/**
 * A request whose `req.stash` is typed with `Data`. The global `req.stash` of Express and
 * Connect handlers is typed with the merged {@link StashData}; `createStash<Data>()` cannot
 * change a global type, so annotate the handlers behind such an instance with this type
 * (`Req` is the framework's request type, e.g. express's `Request`).
 *
 * @example
 * const cart = createStash<{ items: string[] }>({ storedKeys: ['items'] })
 * app.post('/cart', cart, (req: StashRequest<{ items: string[] }, Request>, res) => {
 *   req.stash.items = [...(req.stash.items ?? []), 'apple']
 * })
 */
export type StashRequest<Data extends object = StashData, Req extends object = IncomingMessage> = Omit<Req, 'stash'> & {
  stash: Stash<Data>
}

/** Options of one route's stash (`stash.route(options)`). */
export interface RouteOptions<Data extends object = StashData> {
  /** Extra keys this route persists, on top of the instance's `storedKeys`. @default [] */
  storedKeys?: readonly StoredKey<Data>[]
  /**
   * Seconds of inactivity before this route's `storedKeys` expire (a route that declares no keys
   * gives it to the instance's keys). A key declared by several routes takes the ttl of the route
   * that last loaded or wrote it. @default the instance's ttl
   */
  ttl?: number
  /**
   * Whether loads on this route slide expiries; `false` for polling and health endpoints, which
   * must not keep a stash alive. Writes always set the expiry of the keys they write. @default the instance's `touch`
   */
  touch?: boolean
}

/** One stash of a user, as `listFor()` returns it. */
export interface StashEntry {
  /** The record key (a hash: stash IDs are never stored). */
  readonly key: string
  /** The stored keys and their values. */
  readonly data: Record<string, unknown>
}

/** Admin calls on the stored state of one stash instance (Charon's `get_all`/`delete_all`, connect-redis's `ids`/`length`/`clear`). */
export interface StashAdmin {
  /**
   * Record keys of every live stash under this instance's adapter and prefix (SCAN, never KEYS);
   * session records and keys of longer prefixes sharing the store are left out.
   */
  ids(): Promise<string[]>
  /** How many stashes are stored (as many as `ids()` lists). */
  length(): Promise<number>
  /** Deletes every stash of this instance's adapter and prefix, and nothing else; resolves to how many. */
  clear(): Promise<number>
  /** Every live stash bound to one session value (see `sessionKey`; a string, or a number as the middleware reads it), with its data. */
  listFor(sessionValue: string | number): Promise<StashEntry[]>
  /** Deletes every stash bound to one session value ("log out everywhere"); resolves to how many. */
  revokeAll(sessionValue: string | number): Promise<number>
}

/** Store-call latency, in milliseconds, since the stash was created. */
export interface StashLatency {
  /** Store calls timed. */
  readonly calls: number
  readonly mean: number
  readonly p50: number
  readonly p99: number
  readonly max: number
}

/**
 * A snapshot of one stash instance's counters since it was created (`stash.stats()`). Counters
 * only grow, so a metrics exporter can read them as monotonic counters and diff two snapshots.
 */
export interface StashStats {
  /** Requests that read their record from the store (one per request and route that loads keys). */
  readonly loads: number
  /** Loads that found the record. */
  readonly hits: number
  /** Loads of a signed ID whose record was gone: expired, revoked, reset elsewhere, or on another store. */
  readonly misses: number
  /** Store calls that change a record and were answered: writes, `update()` swaps (a lost race too), rotations, resets. */
  readonly writes: number
  /** UTF-8 bytes of stored values (and their key names) read by loads. */
  readonly bytesRead: number
  /** UTF-8 bytes of stored values (and their key names) written. */
  readonly bytesWritten: number
  /** Failures: store calls that failed, and problems reported through the `'error'` event. */
  readonly errors: number
  /**
   * Live records the adapter evicted to stay within its budget (the memory adapter's
   * `maxMemory`, `maxEntries`), whichever stash or session store wrote the record that caused
   * it: every instance sharing one table (`memoryAdapter({ name })`) counts all of its evictions.
   */
  readonly evictions: number
  /** Latency of every store call, successful or not. */
  readonly latency: StashLatency
  /** The adapter's near cache (`redisAdapter({ cache })`): present only with one. */
  readonly cache?: StashCacheStats
}

/** The data type of a stash instance: `StashDataOf<typeof stash>` is the `Data` of `createStash<Data>()`. */
export type StashDataOf<Middleware> = Middleware extends StashMiddleware<infer Data> ? Data : never

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
 * - `'evicted'` `({ records, bytes })`: the adapter evicted `records` live stashes holding
 *   `bytes` stored bytes to stay within its budget (the memory adapter's `maxMemory`, `maxEntries`).
 */
export interface StashMiddleware<Data extends object = StashData> extends StashHandler, EventEmitter, StashAdmin {
  /**
   * A middleware for one route or router: persists `storedKeys` on top of the instance's and
   * applies `ttl`. On a request that already has a stash, it loads only the keys not loaded yet.
   */
  route(options?: RouteOptions<Data>): StashHandler
  /** Closes what this instance opened: its adapter's timers and clients. Resolves, never rejects. */
  close(): Promise<void>
  /**
   * Resolves once the adapter can serve (for Redis: connected, authenticated and answering);
   * rejects with `StashUnavailableError` naming the reason (a bad URL, a wrong password, a
   * missing driver package, an unreachable server) after at most `timeout` milliseconds
   * (default 10,000). Await it at boot so that a misconfigured app fails at start.
   */
  ready(options?: { timeout?: number }): Promise<void>
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
