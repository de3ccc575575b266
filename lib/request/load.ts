/**
 * Loading a request's stash: the stored keys of the record its cookie names, in one round trip
 * (sliding the expiry with `touch`), recovered from a peer on a miss when the adapter can, and
 * decoded into `req.stash`. A route that adds keys loads only those.
 * @module
 */
import { StashError } from '../errors.js'
import { log, recordLabel } from '../log.js'
import type { StashAdapter } from '../store/adapter.js'
import { corruptError, type StashState } from './stash-state.js'

// Marks a stored field that failed to decode: it differs from every JSON text, so the next
// commit removes the field (or replaces it with what the handler assigned).
const CORRUPT = '\u0000corrupt'

/**
 * Loads `keys` (and slides the expiry when `touch` is on) in one round trip. An ID whose
 * record does not exist is dropped: the request continues with a fresh stash.
 */
export async function loadStash(state: StashState, keys: readonly string[], ttl: number): Promise<void> {
  const { adapter, options, store } = state.context
  const record = state.record
  if (record === undefined || keys.length === 0) return
  let values: (string | undefined)[] | undefined
  try {
    values = await store.call(() => loadOrRecover(adapter, record, keys, options.touch ? ttl : undefined, state.cookie.hint))
  } catch (err) {
    // The whole record was garbage (the store already removed it): report it, start fresh.
    if (!(err instanceof StashError) || err.code !== 'ERR_STASH_CORRUPT') throw err
    store.report(err)
    return state.forgetAll()
  }
  store.stats.loads++
  if (values === undefined) {
    if (log.enabled) log('load %s: no such record (expired or revoked); the stash starts empty', recordLabel(record))
    store.expired(record)
    state.cookie.drop() // a cookie whose stash is gone is cleared: it would only cost every later request a miss
    return state.forget()
  }
  store.stats.hits++
  state.persisted = true
  state.slid ||= options.touch
  state.keepAlive()
  if (!restore(state, record, keys, values)) {
    log('load %s: written under another version; deleted', recordLabel(record))
    await store.call(() => adapter.delete(record))
    state.forgetAll()
  }
}

/** Adds a route's keys: loads those not loaded yet, and applies the route's ttl. */
export async function extendStash(state: StashState, keys: readonly string[], ttl: number): Promise<void> {
  const fresh = keys.filter((key) => !state.keys.includes(key))
  if (fresh.length > 0) state.keys = [...state.keys, ...fresh]
  const longer = ttl > state.ttl
  state.ttl = ttl
  if (!state.available) return
  if (fresh.length > 0) return loadStash(state, fresh, ttl)
  const record = state.record
  const { adapter, options, store } = state.context
  if (longer && record !== undefined && options.touch) {
    await store.call(() => adapter.touch(record, ttl))
  }
}

/**
 * Decodes the loaded `values` of `keys` into `req.stash` (a key the handler set already keeps
 * its value) and the snapshot. A corrupt value is reported and marked for removal. Returns false
 * at the first value written under another version: the record must be deleted.
 */
function restore(state: StashState, record: string, keys: readonly string[], values: (string | undefined)[]): boolean {
  const { codec, store } = state.context
  const data = state.values
  for (let i = 0; i < keys.length; i++) {
    const key = keys[i]!
    const stored = values[i]
    if (stored === undefined) continue
    store.stats.bytesRead += Buffer.byteLength(key) + Buffer.byteLength(stored)
    state.stored.set(key, stored)
    const decoded = codec.decode(record, key, stored)
    if (decoded.kind === 'other-version') return false
    if (decoded.kind === 'corrupt') {
      state.snapshot.set(key, CORRUPT)
      store.reportCorrupt(corruptError(key, decoded.reason))
      continue
    }
    state.snapshot.set(key, decoded.json)
    if (!Object.hasOwn(data, key)) data[key] = decoded.value
  }
  return true
}

/**
 * `adapter.load`, and on a miss with a recovery capability, a recovery from the peers followed
 * by a second local load. `hint` is the one the cookie carried.
 */
function loadOrRecover(
  adapter: StashAdapter,
  key: string,
  fields: readonly string[],
  ttl: number | undefined,
  hint: string | undefined,
): Promise<(string | undefined)[] | undefined> {
  const loading = adapter.load(key, fields, ttl)
  const recovery = adapter.recovery
  if (recovery === undefined) return loading // no extra promise on the common path
  return loading.then(async (values) => {
    if (values !== undefined) return values
    return (await recovery.recover(key, hint)) ? adapter.load(key, fields, ttl) : undefined
  })
}
