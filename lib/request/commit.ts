/**
 * Committing a request's stash: the change set of its stored keys (what differs from what the
 * store holds), encoded and written with their expiries and the slides that are due in one
 * atomic call, under a new ID when the record is not confirmed; a record deleted meanwhile is
 * never brought back. A request that changes nothing slides what is due, or confirms a record
 * whose cookie gets a new lifetime.
 * @module
 */
import { tooLargeError } from '../errors.js'
import { log, recordLabel } from '../log.js'
import { commitChannel, publishing, traceCommit } from '../tracing/channels.js'
import { assertRoundTrips, storedJson } from './json-check.js'
import { unavailableWriteError, type Changes, type StashState } from './stash-state.js'

/** Compares every stored key with its snapshot; `undefined` when nothing changed. Throws `ERR_STASH_SERIALIZE`. */
export function collectChanges(state: StashState): Changes | undefined {
  let changes: Changes | undefined
  const data = state.values
  for (const key of state.keys) {
    const json = storedJson(key, data[key])
    const before = state.snapshot.get(key)
    if (json === before || (json === undefined && before === undefined)) continue
    changes ??= { set: new Map(), del: [] }
    if (json === undefined) changes.del.push(key)
    else {
      assertRoundTrips(key, data[key])
      changes.set.set(key, json)
    }
  }
  return changes
}

/** {@link collectChanges}, `undefined` when a value cannot be stored (the commit at the end reports it). */
export function collectChangesOrNone(state: StashState): Changes | undefined {
  try {
    return collectChanges(state)
  } catch {
    return undefined
  }
}

/**
 * Writes `changes` to the record (a new ID when it is not confirmed), with the expiry of each key
 * it sets and the slides that are due, in one call; with no changes, only the slides (or the
 * confirmation of a record whose cookie gets a new lifetime).
 */
export async function commitChanges(state: StashState, changes: Changes | undefined): Promise<void> {
  const now = Date.now()
  if (changes === undefined) return slideOrConfirm(state, now)
  if (!state.available) throw unavailableWriteError()
  // Writes go to a record the store confirmed, or to a new ID: an unconfirmed ID is never adopted.
  if (!state.persisted) {
    if (changes.set.size === 0) return slideOrConfirm(state, now)
    state.issueIfNeeded()
  }
  const record = state.record!
  const { adapter, codec, options, store } = state.context
  const { expiry } = state
  const set: Record<string, string> = {}
  const expiresAt =
    (state.persisted && expiry.slidesDue(state.keys, now, (key) => changes.set.has(key) || changes.del.includes(key))) || {}
  let bytes = 0
  for (const [key, json] of changes.set) {
    const stored = codec.encode(record, key, json)
    set[key] = stored
    expiresAt[key] = expiry.planned(key, now)
    bytes += Buffer.byteLength(key) + Buffer.byteLength(stored)
  }
  if (bytes > options.maxBytes) {
    if (!state.persisted) state.forget()
    throw tooLargeError(bytes, options.maxBytes)
  }
  const existing = state.persisted
  const write = () => adapter.write(record, { set, del: changes.del, expiresAt, maxBytes: options.maxBytes, existing })
  const written = await (publishing(commitChannel)
    ? traceCommit(adapter.kind, record, 'write', Object.keys(set), changes.del, () => state.guard(write))
    : state.guard(write))
  if (written === 'gone') {
    // The stash was reset, rotated or revoked since this request loaded it: it stays gone. What
    // this request changed goes to a new stash; what it merely loaded is not carried over.
    state.abandon()
    return commitChanges(state, changes.set.size === 0 ? undefined : { set: changes.set, del: [] })
  }
  state.written(written)
  store.stats.bytesWritten += bytes
  if (log.enabled) log('write %s: %d set, %d removed', recordLabel(record), changes.set.size, changes.del.length)
  expiry.record(expiresAt)
  for (const [key, json] of changes.set) {
    state.snapshot.set(key, json)
    state.stored.set(key, set[key]!)
  }
  for (const key of changes.del) {
    state.snapshot.delete(key)
    state.stored.delete(key)
    expiry.stored.delete(key)
  }
}

/** The slides due at `now` of a request that changes nothing; `undefined` when none is. */
export function slidesOf(state: StashState, now: number): Record<string, number> | undefined {
  if (!state.persisted || !state.available || state.record === undefined) return undefined
  return state.expiry.slidesDue(state.keys, now)
}

/**
 * A new cookie lifetime for an ID this request did not load (a route without stored keys):
 * the record must exist.
 */
export function mustConfirmRecord(state: StashState): boolean {
  return state.cookie.changed && !state.persisted && state.record !== undefined && state.available
}

/**
 * Slides the loaded keys that are due, else confirms the record of {@link mustConfirmRecord}; a
 * record gone drops the ID. A slide that fails is reported and the response goes on: the keys
 * keep their expiry, and the next request slides them.
 */
async function slideOrConfirm(state: StashState, now: number): Promise<void> {
  const slides = slidesOf(state, now)
  const confirm = mustConfirmRecord(state)
  if (slides === undefined && !confirm) return
  const record = state.record!
  const { adapter, store } = state.context
  const expiresAt = slides ?? {}
  let result: Awaited<ReturnType<typeof adapter.write>>
  try {
    const slide = () => adapter.write(record, { set: {}, del: [], expiresAt, existing: true })
    result = await (publishing(commitChannel)
      ? traceCommit(adapter.kind, record, 'write', [], [], () => store.call(slide, 'write'))
      : store.call(slide, 'write'))
  } catch (err) {
    if (confirm) throw err
    return store.report(err)
  }
  if (result === 'gone') {
    if (state.persisted) return state.abandon() // reset or revoked while this request ran
    state.cookie.drop()
    return state.forget()
  }
  state.persisted = true
  state.slid = true
  state.written(result)
  state.expiry.record(expiresAt)
}
