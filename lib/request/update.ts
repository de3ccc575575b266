/**
 * `req.stash.update(key, fn)`: an atomic read-modify-write of one stored key, a compare-and-set
 * against the store retried on concurrent changes.
 * @module
 */
import { StashError } from '../errors.js'
import { log, recordLabel } from '../log.js'
import { commitChannel, publishing, traceCommit } from '../tracing/channels.js'
import { assertRoundTrips, storedJson } from './json-check.js'
import { unavailableWriteError, type StashState } from './stash-state.js'

/** Attempts of one `update()` before it gives up with `ERR_STASH_CONFLICT`. */
const UPDATE_ATTEMPTS = 1000

/** `req.stash.update(key, fn)`: atomic read-modify-write of one stored key of this route. */
export function updateKey(state: StashState, key: string, fn: (current: unknown) => unknown): Promise<unknown> {
  if (!state.keys.includes(key)) {
    return Promise.reject(new TypeError(`express-stash: update("${key}") needs a stored key of this route; "${key}" is not one`))
  }
  return state.enqueue(async () => {
    if (!state.available) throw unavailableWriteError()
    try {
      return await swap(state, key, fn)
    } catch (err) {
      if (!state.persisted) state.forget() // a new ID that stored nothing is never sent
      throw err
    }
  })
}

/** The compare-and-set loop of {@link updateKey}. */
async function swap(state: StashState, key: string, fn: (current: unknown) => unknown): Promise<unknown> {
  const { adapter, codec, options } = state.context
  if (!state.persisted) state.issueIfNeeded()
  const record = state.record!
  let expected = state.stored.get(key)
  for (let attempt = 0; attempt < UPDATE_ATTEMPTS; attempt++) {
    const decoded = expected === undefined ? undefined : codec.decode(record, key, expected)
    const current = decoded?.kind === 'value' ? decoded.value : undefined
    const next = await fn(current)
    const json = storedJson(key, next)
    if (json !== undefined) assertRoundTrips(key, next)
    const stored = json === undefined ? undefined : codec.encode(record, key, json)
    const existing = state.persisted
    const expiresAt = stored === undefined ? {} : { [key]: state.expiry.planned(key, Date.now()) }
    const cas = () =>
      adapter.compareAndSet(record, { field: key, expected, next: stored, expiresAt, maxBytes: options.maxBytes, existing })
    const result = await (publishing(commitChannel)
      ? traceCommit(adapter.kind, record, 'update', stored === undefined ? [] : [key], stored === undefined ? [key] : [], () =>
          state.guard(cas),
        )
      : state.guard(cas))
    if (!result.ok && result.gone === true) {
      state.abandon() // the stash was reset, rotated or revoked meanwhile: start from nothing, under a new ID
      return swap(state, key, fn)
    }
    if (result.ok) {
      if (log.enabled) log('update %s: "%s" after %d attempt(s)', recordLabel(record), key, attempt + 1)
      applySwapped(state, key, next, json, stored)
      state.written(result)
      if (stored === undefined) state.expiry.stored.delete(key)
      else state.expiry.record(expiresAt)
      return next
    }
    expected = result.current
  }
  throw new StashError('ERR_STASH_CONFLICT', `update("${key}") lost ${UPDATE_ATTEMPTS} races in a row`)
}

/** Records a swap the store accepted: `req.stash`, the snapshot and the stored form take the new value. */
function applySwapped(state: StashState, key: string, next: unknown, json: string | undefined, stored: string | undefined): void {
  const data = state.values
  if (json === undefined) {
    state.snapshot.delete(key)
    state.stored.delete(key)
    delete data[key]
    return
  }
  state.context.store.stats.bytesWritten += Buffer.byteLength(key) + Buffer.byteLength(stored!)
  state.snapshot.set(key, json)
  state.stored.set(key, stored!)
  data[key] = next
}
