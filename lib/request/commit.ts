/**
 * Committing a request's stash: the change set of its stored keys (what differs from what the
 * store holds), encoded and written in one atomic call, under a new ID when the record is not
 * confirmed; a record deleted meanwhile is never brought back. Also the touch that confirms a
 * record whose cookie gets a new lifetime.
 * @module
 */
import { tooLargeError } from '../errors.js'
import { log, recordLabel } from '../log.js'
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

/** Writes `changes` to the record (a new ID when it is not confirmed), or confirms the record when there are none. */
export async function commitChanges(state: StashState, changes: Changes | undefined): Promise<void> {
  if (changes === undefined) return confirmRecord(state)
  if (!state.available) throw unavailableWriteError()
  // Writes go to a record the store confirmed, or to a new ID: an unconfirmed ID is never adopted.
  if (!state.persisted) {
    if (changes.set.size === 0) return confirmRecord(state)
    state.issueIfNeeded()
  }
  const record = state.record!
  const { adapter, codec, options, store } = state.context
  const set: Record<string, string> = {}
  let bytes = 0
  for (const [key, json] of changes.set) {
    const stored = codec.encode(record, key, json)
    set[key] = stored
    bytes += Buffer.byteLength(key) + Buffer.byteLength(stored)
  }
  if (bytes > options.maxBytes) {
    if (!state.persisted) state.forget()
    throw tooLargeError(bytes, options.maxBytes)
  }
  const existing = state.persisted
  const written = await state.guard(() =>
    adapter.write(record, { set, del: changes.del, ttl: state.ttl, maxBytes: options.maxBytes, existing }),
  )
  if (written === 'gone') {
    // The stash was reset, rotated or revoked since this request loaded it: it stays gone. What
    // this request changed goes to a new stash; what it merely loaded is not carried over.
    state.abandon()
    return commitChanges(state, changes.set.size === 0 ? undefined : { set: changes.set, del: [] })
  }
  store.stats.bytesWritten += bytes
  if (log.enabled) log('write %s: %d set, %d removed', recordLabel(record), changes.set.size, changes.del.length)
  for (const [key, json] of changes.set) {
    state.snapshot.set(key, json)
    state.stored.set(key, set[key]!)
  }
  for (const key of changes.del) {
    state.snapshot.delete(key)
    state.stored.delete(key)
  }
}

/**
 * A new cookie lifetime for an ID this request did not load (a route without stored keys):
 * the record must exist, and live at least as long as the cookie will.
 */
export function mustConfirmRecord(state: StashState): boolean {
  return state.cookie.changed && !state.persisted && state.record !== undefined && state.available
}

/** Confirms (and slides) the record of {@link mustConfirmRecord}; a missing one drops the ID. */
async function confirmRecord(state: StashState): Promise<void> {
  if (!mustConfirmRecord(state)) return
  const record = state.record!
  const { adapter, store } = state.context
  if (await store.call(() => adapter.touch(record, state.ttl))) {
    state.persisted = true
    state.slid = true
  } else {
    state.cookie.drop()
    state.forget()
  }
}
