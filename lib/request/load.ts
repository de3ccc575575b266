/**
 * Loading a request's stash: the stored keys of the record its cookie names and their expiries,
 * in one round trip, recovered from a peer on a miss when the adapter can, and
 * decoded into `req.stash`. A route that adds keys loads only those.
 * @module
 */
import { StashError } from '../errors.js'
import { log, recordLabel } from '../log.js'
import type { LoadedRecord, StashAdapter } from '../store/adapter.js'
import { loadChannel, publishing, traceLoad } from '../tracing/channels.js'
import { FLASH_FIELD } from '../types.js'
import { fieldsWithFlash, takeFlash } from './flash-store.js'
import type { RoutePlan } from './route-plan.js'
import { corruptError, type StashState } from './stash-state.js'

// Marks a stored field that failed to decode: it differs from every JSON text, so the next
// commit removes the field (or replaces it with what the handler assigned).
const CORRUPT = '\u0000corrupt'

/**
 * Loads `keys` in one round trip, which changes nothing in the store: the end of the request
 * slides what is due (key-expiries.ts). An ID whose record does not exist, or whose stash
 * outlived `maxLifetime`, is dropped: the request continues with a fresh stash. An adapter that
 * answers from memory (`loadNow`) is answered synchronously: `undefined` then means done, with
 * no promise at all. While anyone subscribes, the load is published on `express-stash:load`.
 * The request's first load also asks for the flash field, and takes the messages it holds
 * (flash-store.ts). `seen`: the version the client saw last (`Infinity`: never a cache's copy).
 */
export function loadStash(state: StashState, keys: readonly string[], seen = state.cookie.version): Promise<void> | undefined {
  const record = state.record
  if (record === undefined) return undefined
  const fields = fieldsWithFlash(state, keys)
  if (fields.length === 0) return undefined
  if (!publishing(loadChannel)) return readStash(state, record, fields, seen)
  const read = () => readStash(state, record, fields, seen)
  return traceLoad(state.context.adapter.kind, record, keys, read, () => (state.persisted ? 'hit' : 'miss'))
}

/** {@link loadStash} of a record: `record`'s `keys`, from memory when the adapter can answer so. */
function readStash(
  state: StashState,
  record: string,
  keys: readonly string[],
  seen: number | undefined,
): Promise<void> | undefined {
  const { adapter, store } = state.context
  if (adapter.loadNow !== undefined) {
    let known: LoadedRecord | null | undefined
    try {
      known = store.callNow(() => adapter.loadNow!(record, keys, seen))
    } catch (err) {
      return Promise.resolve(loadFailed(state, err))
    }
    // A miss with recovery goes on to `load`, which asks the peers.
    if (known !== undefined && (known !== null || adapter.recovery === undefined)) {
      return settle(state, record, keys, known ?? undefined)
    }
  }
  return store
    .call(() => loadOrRecover(adapter, record, keys, { hint: state.cookie.hint, version: seen }))
    .then(
      (loaded) => settle(state, record, keys, loaded),
      (err: unknown) => loadFailed(state, err),
    )
}

/** A load that failed: a record that was all garbage (the store removed it) is reported and the stash starts fresh; anything else is thrown. */
function loadFailed(state: StashState, err: unknown): void {
  if (!(err instanceof StashError) || err.code !== 'ERR_STASH_CORRUPT') throw err
  state.context.store.report(err)
  state.forgetAll()
}

/** Takes the loaded record into `req.stash`; a promise only when the record must be deleted first, or flash messages taken. */
function settle(
  state: StashState,
  record: string,
  keys: readonly string[],
  loaded: LoadedRecord | undefined,
): Promise<void> | undefined {
  const { adapter, store } = state.context
  store.stats.loads++
  if (loaded !== undefined && state.expiry.outlived(loaded.createdAt, Date.now())) {
    log('load %s: older than maxLifetime; deleted', recordLabel(record))
    return store.call(() => adapter.delete(record), 'write').then(() => missed(state, record))
  }
  if (loaded === undefined) return missed(state, record)
  const at = keys.length - 1
  const taking = keys[at] === FLASH_FIELD ? takeFlash(state, record, loaded.values[at], loaded.expiresAt[at]) : undefined
  if (taking === undefined) return accept(state, record, keys, loaded)
  return taking.then((found) => (found ? accept(state, record, keys, loaded) : missed(state, record)))
}

/** {@link settle} of a record found (its flash messages taken). */
function accept(state: StashState, record: string, keys: readonly string[], loaded: LoadedRecord): Promise<void> | undefined {
  const { adapter, store } = state.context
  store.stats.hits++
  state.persisted = true
  state.expiry.createdAt ??= loaded.createdAt
  state.keepAlive()
  if (restore(state, record, keys, loaded)) return undefined
  log('load %s: written under another version; deleted', recordLabel(record))
  return store.call(() => adapter.delete(record)).then(() => state.forgetAll())
}

/** The cookie's record does not exist (expired, revoked, outlived): the stash starts empty. */
function missed(state: StashState, record: string): undefined {
  if (log.enabled) log('load %s: no such record (expired or revoked); the stash starts empty', recordLabel(record))
  state.context.store.expired(record)
  state.cookie.drop() // a cookie whose stash is gone is cleared: it would only cost every later request a miss
  state.forget()
  return undefined
}

/** Adds a route's keys and ttls: loads the keys not loaded yet; its `touch` and ttls apply from now on. */
export function extendStash(state: StashState, plan: RoutePlan): Promise<void> | undefined {
  state.expiry.apply(plan)
  const fresh = plan.keys.filter((key) => !state.keys.includes(key))
  if (fresh.length === 0) return undefined
  state.keys = [...state.keys, ...fresh]
  return state.available ? loadStash(state, fresh) : undefined
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
    if (key === FLASH_FIELD) continue // taken by flash-store.ts
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
 * `adapter.load` (with the version the cookie says the client's last write reached), and on a
 * miss with a recovery capability, a recovery from the peers (the node the cookie hints at)
 * followed by a second local load.
 */
function loadOrRecover(
  adapter: StashAdapter,
  key: string,
  fields: readonly string[],
  { hint, version }: { readonly hint: string | undefined; readonly version: number | undefined },
): Promise<LoadedRecord | undefined> {
  const loading = adapter.load(key, fields, version)
  const recovery = adapter.recovery
  if (recovery === undefined) return loading // no extra promise on the common path
  return loading.then(async (values) => {
    if (values !== undefined) return values
    return (await recovery.recover(key, hint)) ? adapter.load(key, fields) : undefined
  })
}
