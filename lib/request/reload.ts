/**
 * `req.stash.reload()` (express-session's `reload`): the request's stored keys read again from
 * the store itself, never from a cache's copy, for a long request that must see another
 * request's write. Changes not saved yet are dropped.
 * @module
 */
import { loadStash } from './load.js'
import type { StashState } from './stash-state.js'

/** What a reload changes of one stored key, to put back when the reload fails. */
type KeptKey = readonly [key: string, own: boolean, value: unknown, snapshot?: string, stored?: string, expiresAt?: number]

/**
 * `req.stash.reload()`: after the store operations queued before it, drops the stored keys from
 * `req.stash` and loads them again with `seen = Infinity` (a near cache answers only from the
 * store). A record gone leaves them empty and clears the cookie, like a load that misses; a load
 * that fails rejects and puts everything back as it was. A stash whose load failed under
 * `onUnavailable: 'continue'` is available again once a reload succeeds.
 */
export function reloadStash(state: StashState): Promise<void> {
  return state.enqueue(async () => {
    const kept = dropStoredKeys(state)
    // A new ID that stored nothing yet has nothing to read.
    if (state.record === undefined || (state.cookie.issued && !state.persisted)) return
    try {
      await loadStash(state, state.keys, Infinity)
    } catch (err) {
      putBack(state, kept)
      throw err
    }
    state.available = true
    if (!state.persisted) state.watchHeaders() // a record gone: the response clears the cookie
  })
}

/** Removes every stored key from `req.stash` and from what the request knows of the store; returns what it removed. */
function dropStoredKeys(state: StashState): KeptKey[] {
  const data = state.values
  const kept: KeptKey[] = []
  for (const key of state.keys) {
    const own = Object.hasOwn(data, key)
    kept.push([key, own, data[key], state.snapshot.get(key), state.stored.get(key), state.expiry.stored.get(key)])
    delete data[key]
    state.snapshot.delete(key)
    state.stored.delete(key)
    state.expiry.stored.delete(key)
  }
  return kept
}

/** Undoes {@link dropStoredKeys} after a failed reload. */
function putBack(state: StashState, kept: readonly KeptKey[]): void {
  const data = state.values
  for (const [key, own, value, snapshot, stored, expiresAt] of kept) {
    if (own) data[key] = value
    else delete data[key]
    restoreEntry(state.snapshot, key, snapshot)
    restoreEntry(state.stored, key, stored)
    restoreEntry(state.expiry.stored, key, expiresAt)
  }
}

function restoreEntry<V>(map: Map<string, V>, key: string, value: V | undefined): void {
  if (value === undefined) map.delete(key)
  else map.set(key, value)
}
