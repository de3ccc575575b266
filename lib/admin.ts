/**
 * The admin calls of a stash instance (`ids`, `length`, `clear`, `listFor`, `revokeAll`): they
 * reach only this instance's record keys, through its store calls.
 * @module
 */
import type { StashAdapter } from './store/adapter.js'
import type { StoreCalls } from './store/store-calls.js'
import type { Codec } from './values/codec.js'
import { StashError } from './errors.js'
import type { StashOptions } from './options.js'
import { ownerOfValue, sessionValueOf } from './request/session-binding.js'
import type { StashAdmin, StashEntry } from './types.js'

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
export function createAdmin(store: StoreCalls, codec: Codec, sessionKey: StashOptions['sessionKey']): StashAdmin {
  const { adapter } = store
  const need = <M extends 'keys' | 'clear' | 'ownerKeys' | 'deleteOwner'>(method: M): NonNullable<StashAdapter[M]> => {
    const fn = adapter[method]
    if (typeof fn !== 'function') throw new TypeError(`express-stash: the ${adapter.kind} adapter does not implement ${method}()`)
    return fn.bind(adapter) as NonNullable<StashAdapter[M]>
  }
  const ownerOf = (sessionValue: unknown, call: string): string => {
    if (sessionKey === undefined) {
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
    return store.call(async () => {
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
      return store.call(() => clear(isStashRecordKey), 'write')
    },
    listFor: async (sessionValue) => {
      const ownerKeys = need('ownerKeys')
      const owner = ownerOf(sessionValue, 'listFor')
      const keys = await store.call(() => ownerKeys(owner))
      const entries: StashEntry[] = []
      for (const key of keys) {
        const record = await store.call(() => adapter.readAll(key))
        if (record === undefined) continue // expired meanwhile
        entries.push({ key, data: decodeFields(store, codec, key, record.fields) })
      }
      return entries
    },
    revokeAll: async (sessionValue) => {
      const deleteOwner = need('deleteOwner')
      const owner = ownerOf(sessionValue, 'revokeAll')
      return store.call(() => deleteOwner(owner), 'write')
    },
  }
}

/** The stored fields of record `key`, decoded; corrupt ones are reported and left out (as are those of another version). */
function decodeFields(store: StoreCalls, codec: Codec, key: string, fields: Record<string, string>): Record<string, unknown> {
  const data: Record<string, unknown> = {}
  for (const [field, stored] of Object.entries(fields)) {
    const decoded = codec.decode(key, field, stored)
    if (decoded.kind === 'value') data[field] = decoded.value
    else if (decoded.kind === 'corrupt') {
      store.report(new StashError('ERR_STASH_CORRUPT', `stored value of key "${field}" ignored: ${decoded.reason}`))
    }
  }
  return data
}
