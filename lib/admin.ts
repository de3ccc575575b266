import type { StashAdapter } from './adapter.js'
import { StashError } from './errors.js'
import type { StashRuntime } from './runtime.js'
import { ownerOfValue, sessionValueOf } from './session-binding.js'

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

/**
 * Whether `key` is a stash record key as `recordKeyOf` makes them: a 43-character base64url
 * SHA-256, after `{<owner hash>}` when bound to a session. Session store records (`sess:...`),
 * and keys of a longer Redis prefix (`app:v2:...` under `app:`), never are.
 */
export function isStashRecordKey(key: string): boolean {
  return STASH_RECORD_KEY.test(key)
}

const STASH_RECORD_KEY = /^(?:\{[A-Za-z0-9_-]{43}\})?[A-Za-z0-9_-]{43}$/

/**
 * Builds the admin calls of a stash instance. They reach only this instance's record keys
 * ({@link isStashRecordKey}): other records in the same adapter are neither listed nor cleared.
 */
export function createAdmin(runtime: StashRuntime): StashAdmin {
  const { adapter, codec } = runtime
  const need = <M extends 'keys' | 'clear' | 'ownerKeys' | 'deleteOwner'>(method: M): NonNullable<StashAdapter[M]> => {
    const fn = adapter[method]
    if (typeof fn !== 'function') throw new TypeError(`express-stash: the ${adapter.kind} adapter does not implement ${method}()`)
    return fn.bind(adapter) as NonNullable<StashAdapter[M]>
  }
  const ownerOf = (sessionValue: unknown, call: string): string => {
    if (runtime.options.sessionKey === undefined) {
      throw new TypeError(`express-stash: ${call}() lists stashes bound to a session: set the \`sessionKey\` option`)
    }
    const value = sessionValueOf(sessionValue)
    if (value === undefined || value === null) {
      throw new TypeError(`express-stash: ${call}() needs the session value (a non-empty string or a finite number)`)
    }
    return ownerOfValue(value)
  }
  const ids = async (): Promise<string[]> => {
    const keys = need('keys')
    return runtime.call(async () => {
      const all: string[] = []
      // Filtered here too, for an adapter that ignores `match`.
      for await (const batch of keys(isStashRecordKey)) for (const key of batch) if (isStashRecordKey(key)) all.push(key)
      return all
    })
  }

  return {
    ids,
    length: async () => (await ids()).length,
    clear: async () => {
      const clear = need('clear')
      return runtime.call(() => clear(isStashRecordKey), 'write')
    },
    listFor: async (sessionValue) => {
      const ownerKeys = need('ownerKeys')
      const owner = ownerOf(sessionValue, 'listFor')
      const keys = await runtime.call(() => ownerKeys(owner))
      const entries: StashEntry[] = []
      for (const key of keys) {
        const fields = await runtime.call(() => adapter.readAll(key))
        if (fields === undefined) continue // expired meanwhile
        const data: Record<string, unknown> = {}
        for (const [field, stored] of Object.entries(fields)) {
          const decoded = codec.decode(key, field, stored)
          if (decoded.kind === 'value') data[field] = decoded.value
          else if (decoded.kind === 'corrupt') {
            runtime.report(new StashError('ERR_STASH_CORRUPT', `stored value of key "${field}" ignored: ${decoded.reason}`))
          }
        }
        entries.push({ key, data })
      }
      return entries
    },
    revokeAll: async (sessionValue) => {
      const deleteOwner = need('deleteOwner')
      const owner = ownerOf(sessionValue, 'revokeAll')
      return runtime.call(() => deleteOwner(owner), 'write')
    },
  }
}
