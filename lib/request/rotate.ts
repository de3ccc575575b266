/**
 * `req.stash.rotate()` (the whole record moves to a new ID bound to the session value the
 * request has now: login, privilege changes) and `req.stash.reset()` (the record is deleted:
 * logout).
 * @module
 */
import { log, recordLabel } from '../log.js'
import { ownerOfKey, type StoredRecord } from '../store/adapter.js'
import { newStashId, recordKeyOf, recordKeyOfHash } from '../values/ids.js'
import { requestOwner } from './session-binding.js'
import { corruptError, type StashState } from './stash-state.js'

/**
 * `req.stash.rotate()`: when the client presented an ID whose record exists, moves the whole
 * record (every key, loaded or not, each with its expiry, and the record's creation time, so that
 * rotating never extends `maxLifetime`) to a new ID bound to the request's session value now, and
 * deletes the old one; the response carries the new cookie. A stash is carried from anonymous
 * to bound (the login) and within one binding, never from one user to another: another user's
 * stash is deleted instead. Without a record there is nothing an attacker could have planted:
 * a fresh ID is issued once something is stored.
 */
export async function rotateStash(state: StashState): Promise<void> {
  const { adapter, options, store } = state.context
  const owner = requestOwner(state.req, options.sessionKey)
  if (state.record !== undefined || state.presented !== undefined) state.assertCookieWritable('rotate the stash ID')
  const found = await findRecordToRotate(state)
  state.owner = owner
  state.bound = true
  if (found === undefined) return state.abandon()
  const [from, stored] = found
  const previous = ownerOfKey(from)
  if (previous !== undefined && previous !== owner) {
    await store.call(() => adapter.delete(from), 'write')
    log('rotate %s: bound to another session value; deleted, not carried over', recordLabel(from))
    state.clearData()
    state.cookie.drop()
    return state.forgetAll()
  }
  const id = newStashId()
  const to = recordKeyOf(id, owner)
  const fields = reencode(state, from, to, stored.fields)
  const expiresAt: Record<string, number> = {}
  for (const field of Object.keys(fields)) expiresAt[field] = stored.expiresAt[field]!
  // The creation time moves with the data: rotating never extends `maxLifetime`.
  const moved: StoredRecord = { fields, expiresAt, createdAt: stored.createdAt }
  const result = await store.call(() => adapter.move(from, to, moved), 'write')
  if (result === 'gone') return state.abandon() // deleted since it was read (a logout elsewhere): nothing of it may come back
  log('rotate %s -> %s', recordLabel(from), recordLabel(to))
  state.stored = new Map(Object.entries(fields))
  state.expiry.forget()
  state.expiry.record(expiresAt)
  state.expiry.createdAt = stored.createdAt ?? Date.now()
  state.record = to
  state.persisted = true
  state.slid = true
  state.cookie.issue(id)
  state.written(result)
}

/** `req.stash.reset()`: deletes the stored record now, empties the stash and clears the cookie. */
export async function resetStash(state: StashState): Promise<void> {
  const record = state.record
  if (record !== undefined) {
    const { adapter, store } = state.context
    // Tried even when the load failed (`onUnavailable: 'continue'`): a logout must not be dropped.
    await store.call(() => adapter.delete(record), 'write')
    log('reset %s', recordLabel(record))
  }
  state.clearData()
  state.cookie.clear()
  state.forgetAll()
  state.presented = undefined
}

/**
 * The record `rotate()` moves, with its fields: this request's record, else (for a request
 * bound to a session value) the anonymous record of the ID the client presented, which a
 * request that brought the value with it could not load.
 */
async function findRecordToRotate(state: StashState): Promise<[string, StoredRecord] | undefined> {
  const { adapter, store } = state.context
  const anonymous = state.presented === undefined ? undefined : recordKeyOfHash(state.presented, undefined)
  for (const key of new Set([state.record, anonymous])) {
    if (key === undefined) continue
    const stored = await store.call(() => adapter.readAll(key))
    if (stored !== undefined) return [key, stored]
  }
  return undefined
}

/** The fields of record `from`, authenticated and encoded anew for record `to`; corrupt ones are reported and left behind. */
function reencode(state: StashState, from: string, to: string, all: Record<string, string>): Record<string, string> {
  const { codec, store } = state.context
  const fields: Record<string, string> = {}
  for (const [field, stored] of Object.entries(all)) {
    const decoded = codec.decode(from, field, stored)
    if (decoded.kind === 'value') fields[field] = codec.encode(to, field, decoded.json)
    else {
      const reason = decoded.kind === 'corrupt' ? decoded.reason : 'written under another version'
      store.reportCorrupt(corruptError(field, reason))
    }
  }
  return fields
}
