/**
 * The object behind `req.stash`: data in own properties, the methods on its prototype.
 * @module
 */
import { STASH_METHODS, type StashCookie, type StashExpiry } from '../types.js'

/** What `req.stash` asks of the request state behind it. */
export interface StashBackend {
  /** False when the store could not answer and `onUnavailable` is `'continue'`. */
  readonly available: boolean
  /** The ID cookie, for its current lifetime. */
  readonly cookie: { readonly maxAge: number | undefined }
  /** `req.stash.cookie.maxAge = seconds`. */
  setCookieMaxAge(seconds: unknown): void
  /** `req.stash.expiresAt`. */
  expiries(): Record<string, Date>
  /** `req.stash.save()`. */
  save(): Promise<void>
  /** `req.stash.reset()`. */
  reset(): Promise<void>
  /** `req.stash.rotate()`. */
  rotate(): Promise<void>
  /** `req.stash.update(key, fn)`. */
  update(key: string, fn: (current: unknown) => unknown): Promise<unknown>
  /** `req.stash.reload()`. */
  reload(): Promise<void>
  /** `req.stash.flash(...)`, with the arguments as the application passed them. */
  flashCall(args: readonly unknown[]): unknown
}

let stateOf: (stash: StashObject) => StashBackend

/**
 * The object behind `req.stash`. Data lives in plain own properties, so `Object.keys`,
 * spreading and `JSON.stringify` see data only; the methods live on the prototype, are
 * non-enumerable and read-only, and their names cannot be stored keys.
 */
export class StashObject {
  readonly #state: StashBackend
  #cookie: StashCookie | undefined

  static {
    stateOf = (stash) => stash.#state
  }

  constructor(state: StashBackend) {
    this.#state = state
  }

  /** False when the store could not answer and `onUnavailable` is `'continue'`: writes are dropped. */
  get available(): boolean {
    return this.#state.available
  }

  /** This client's cookie settings: `req.stash.cookie.maxAge = seconds` makes the cookie persistent (remember me). */
  get cookie(): StashCookie {
    const state = this.#state
    this.#cookie ??= Object.defineProperty({} as StashCookie, 'maxAge', {
      enumerable: true,
      get: () => state.cookie.maxAge,
      set: (seconds: unknown) => state.setCookieMaxAge(seconds),
    })
    return this.#cookie
  }

  /** When each stored key holding a value expires, as the end of this request leaves it (a frozen object of dates). */
  get expiresAt(): StashExpiry {
    return this.#state.expiries()
  }

  /** Persists what changed now (e.g. before streaming a long response). */
  save(): Promise<void> {
    return this.#state.save()
  }

  /** Deletes all stored state of this stash now and empties `req.stash`. */
  reset(): Promise<void> {
    return this.#state.reset()
  }

  /** Moves the stash to a new ID and deletes the old record: call it on login. */
  rotate(): Promise<void> {
    return this.#state.rotate()
  }

  /** Atomically replaces one stored key with `fn(current)`, retrying on concurrent changes. */
  update(key: string, fn: (current: unknown) => unknown): Promise<unknown> {
    return this.#state.update(key, fn)
  }

  /** Reads the stored keys again from the store, dropping unsaved changes to them. */
  reload(): Promise<void> {
    return this.#state.reload()
  }

  /** Flash messages: `flash(key, message)` queues, `flash(key)` takes those of one key, `flash()` takes all. */
  flash(...args: unknown[]): unknown {
    return this.#state.flashCall(args)
  }
}

for (const name of STASH_METHODS) {
  const descriptor = Object.getOwnPropertyDescriptor(StashObject.prototype, name)!
  Object.defineProperty(StashObject.prototype, name, {
    ...descriptor,
    enumerable: false,
    ...('value' in descriptor ? { writable: false } : {}),
  })
}

/** The state behind a `req.stash` value, or undefined when it is not one. @internal */
export function backendOf(value: unknown): StashBackend | undefined {
  return value instanceof StashObject ? stateOf(value) : undefined
}
