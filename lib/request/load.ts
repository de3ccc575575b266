/**
 * Loading a request's stash: the stored keys of the record its cookie names and their expiries,
 * in one round trip, recovered from a peer on a miss when the adapter can, and
 * decoded into `req.stash`. A route that adds keys loads only those.
 * @module
 */
import { StashError } from '../errors.js'
import { log, recordLabel } from '../log.js'
import type { LoadedRecord, StashAdapter } from '../store/adapter.js'
import type { RoutePlan } from './route-plan.js'
import { corruptError, type StashState } from './stash-state.js'

// Marks a stored field that failed to decode: it differs from every JSON text, so the next
// commit removes the field (or replaces it with what the handler assigned).
const CORRUPT = '\u0000corrupt'

/**
 * Loads `keys` in one round trip, which changes nothing in the store: the end of the request
 * slides what is due (key-expiries.ts). An ID whose record does not exist, or whose
 * stash outlived `maxLifetime`, is dropped: the request continues with a fresh stash.
 */
export async function loadStash(state: StashState, keys: readonly string[]): Promise<void> {
  const { adapter, store } = state.context
  const record = state.record
  if (record === undefined || keys.length === 0) return
  let loaded: LoadedRecord | undefined
  try {
    loaded = await store.call(() => loadOrRecover(adapter, record, keys, state.cookie.hint))
  } catch (err) {
    // The whole record was garbage (the store already removed it): report it, start fresh.
    if (!(err instanceof StashError) || err.code !== 'ERR_STASH_CORRUPT') throw err
    store.report(err)
    return state.forgetAll()
  }
  store.stats.loads++
  if (loaded !== undefined && state.expiry.outlived(loaded.createdAt, Date.now())) {
    log('load %s: older than maxLifetime; deleted', recordLabel(record))
    await store.call(() => adapter.delete(record), 'write')
    loaded = undefined
  }
  if (loaded === undefined) {
    if (log.enabled) log('load %s: no such record (expired or revoked); the stash starts empty', recordLabel(record))
    store.expired(record)
    state.cookie.drop() // a cookie whose stash is gone is cleared: it would only cost every later request a miss
    return state.forget()
  }
  store.stats.hits++
  state.persisted = true
  state.expiry.createdAt ??= loaded.createdAt
  state.keepAlive()
  if (!restore(state, record, keys, loaded)) {
    log('load %s: written under another version; deleted', recordLabel(record))
    await store.call(() => adapter.delete(record))
    state.forgetAll()
  }
}

/** Adds a route's keys and ttls: loads the keys not loaded yet; its `touch` and ttls apply from now on. */
export async function extendStash(state: StashState, plan: RoutePlan): Promise<void> {
  state.expiry.apply(plan)
  const fresh = plan.keys.filter((key) => !state.keys.includes(key))
  if (fresh.length === 0) return
  state.keys = [...state.keys, ...fresh]
  if (state.available) await loadStash(state, fresh)
}

/**
 * Decodes the loaded `values` of `keys` into `req.stash` (a key the handler set already keeps
 * its value) and the snapshot. A corrupt value is reported and marked for removal. Returns false
 * at the first value written under another version: the record must be deleted.
 */
function restore(state: StashState, record: string, keys: readonly string[], { values, expiresAt }: LoadedRecord): boolean {
  const { codec, store } = state.context
  const data = state.values
  for (let i = 0; i < keys.length; i++) {
    const key = keys[i]!
    const stored = values[i]
    if (stored === undefined) continue
    store.stats.bytesRead += Buffer.byteLength(key) + Buffer.byteLength(stored)
    state.stored.set(key, stored)
    state.expiry.stored.set(key, expiresAt[i]!)
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
  hint: string | undefined,
): Promise<LoadedRecord | undefined> {
  const loading = adapter.load(key, fields)
  const recovery = adapter.recovery
  if (recovery === undefined) return loading // no extra promise on the common path
  return loading.then(async (values) => {
    if (values !== undefined) return values
    return (await recovery.recover(key, hint)) ? adapter.load(key, fields) : undefined
  })
}
