/**
 * The store's side of flash messages. They live in one field of the stash's record
 * ({@link FLASH_FIELD}), a JSON object of key → messages encoded like any stored value. A load
 * that happens anyway asks for the field too (no extra round trip); when it holds messages, the
 * request takes them with a compare-and-set to an empty object before the handler runs, so of
 * concurrent requests exactly one gets each message. The end of the request merges what it took
 * and did not read, and what it queued, into the field as the store holds it then, with a
 * compare-and-set retried against the current value: concurrent requests never lose each
 * other's messages. The signed cookie says whether messages wait, so that a route without stored
 * keys reads the field only then.
 * @module
 */
import { StashError } from '../errors.js'
import { FLASH_FIELD } from '../types.js'
import { messagesJson, parseMessages, type FlashMessageMap } from './flash.js'
import { corruptError, unavailableWriteError, type StashState } from './stash-state.js'

/** Compare-and-set attempts of one take or one append before it gives up with `ERR_STASH_CONFLICT`. */
const ATTEMPTS = 1000
/** What the field holds once a request took its messages: it stays, so the record never vanishes under a request that may put them back. */
const TAKEN = '{}'

/** The fields a load asks for: `keys`, plus the flash field on the request's first load, unless it loads no key and the cookie says nothing waits. */
export function fieldsWithFlash(state: StashState, keys: readonly string[]): readonly string[] {
  const { flash } = state
  if (flash.requested || !state.available || (keys.length === 0 && state.cookie.flash !== 'waiting')) return keys
  flash.requested = true
  return [...keys, FLASH_FIELD]
}

/**
 * Takes the messages of the flash field a load found (`value`, expiring at `expiresAt`): resolves
 * once no other request can get them, `false` when the record is gone. `undefined`, with no
 * promise, when nothing waits.
 */
export function takeFlash(
  state: StashState,
  record: string,
  value: string | undefined,
  expiresAt: number | undefined,
): Promise<boolean> | undefined {
  const { flash } = state
  flash.stored = value
  flash.field = value === undefined ? 'absent' : 'taken'
  const messages = decodeFlash(state, record, value)
  if (messages?.size === 0) return undefined
  return swapOut(state, record, value, messages, expiresAt ?? flashExpiry(state, Date.now()))
}

/** The compare-and-set loop of {@link takeFlash}: the field becomes {@link TAKEN}, keeping its expiry. */
async function swapOut(
  state: StashState,
  record: string,
  loaded: string | undefined,
  found: FlashMessageMap | undefined,
  expiresAt: number,
): Promise<boolean> {
  const { adapter, codec, options, store } = state.context
  const next = codec.encode(record, FLASH_FIELD, TAKEN)
  let expected = loaded
  let messages = found
  for (let attempt = 0; attempt < ATTEMPTS && messages?.size !== 0; attempt++) {
    const swap = {
      field: FLASH_FIELD,
      expected,
      next,
      expiresAt: { [FLASH_FIELD]: expiresAt },
      maxBytes: options.maxBytes,
      existing: true,
    }
    // Part of the load: a failure is the store being unavailable, as for the load itself.
    const result = await store.call(() => adapter.compareAndSet(record, swap))
    store.stats.writes++
    if (!result.ok && result.gone === true) return false
    if (result.ok) {
      if (messages !== undefined) state.flash.takeIn(messages)
      state.flash.stored = next
      state.written(result)
      return true
    }
    expected = result.current
    messages = decodeFlash(state, record, expected)
  }
  if (messages?.size !== 0) throw conflictError()
  state.flash.stored = expected // another request took them meanwhile
  if (expected === undefined) state.flash.field = 'absent'
  return true
}

/**
 * The end of the request (and `save()`): writes back the messages it took and did not read and
 * appends those it queued (nothing when it has neither), then tells the cookie whether messages
 * wait. Under `onUnavailable: 'continue'` a stash that could not load drops them, like its writes.
 */
export async function commitFlash(state: StashState): Promise<void> {
  if (state.flash.dirty) {
    if (!state.available) throw unavailableWriteError()
    await appendFlash(state)
  }
  noteFlashWaiting(state)
}

/** Tells the cookie what the flash field holds, when this request knows: the response re-sends it when that changed. */
export function noteFlashWaiting(state: StashState): void {
  const { field } = state.flash
  if (field === undefined || state.cookie.id === undefined) return
  if (state.cookie.setFlash(field === 'absent' ? undefined : field)) state.watchHeaders()
}

/** After `rotate()`: the flash field as it moved to the new record (encoded for it), which the next compare-and-set expects. */
export function rebaseFlash(state: StashState): void {
  const { flash } = state
  const moved = state.stored.get(FLASH_FIELD)
  if (state.record === undefined) return flash.dropTaken()
  flash.stored = moved
  const messages = decodeFlash(state, state.record, moved)
  flash.field = moved === undefined ? 'absent' : messages !== undefined && messages.size > 0 ? 'waiting' : 'taken'
}

/**
 * The compare-and-set loop of {@link commitFlash}, merging into the field's current value. A
 * stash without an ID gets one, like a first write; an ID this request did not load is written
 * only if its record exists (never adopted blindly); a record deleted meanwhile is never brought
 * back: what this request queued goes to a new ID.
 */
async function appendFlash(state: StashState): Promise<void> {
  const { adapter, codec, options, store } = state.context
  const { flash } = state
  if (state.record === undefined) state.issueIfNeeded()
  const record = state.record!
  const existing = state.persisted || !state.cookie.issued
  // The field unread: the empty set when the cookie says a request took its messages (a guess a near miss corrects).
  let expected =
    flash.field !== undefined
      ? flash.stored
      : state.cookie.flash === 'taken'
        ? codec.encode(record, FLASH_FIELD, TAKEN)
        : undefined
  for (let attempt = 0; attempt < ATTEMPTS; attempt++) {
    const merged = flash.merged(decodeFlash(state, record, expected) ?? new Map<string, unknown[]>())
    const next = codec.encode(record, FLASH_FIELD, messagesJson(merged))
    const expiresAt = { [FLASH_FIELD]: flashExpiry(state, Date.now()) }
    const swap = { field: FLASH_FIELD, expected, next, expiresAt, maxBytes: options.maxBytes, existing }
    const result = await state.guard(() => adapter.compareAndSet(record, swap))
    if (result.ok) {
      store.stats.bytesWritten += Buffer.byteLength(FLASH_FIELD) + Buffer.byteLength(next)
      flash.settled(next)
      state.written(result)
      return
    }
    if (!result.ok && result.gone === true) {
      state.abandon() // drops what this request took from the record
      return flash.queued ? appendFlash(state) : undefined
    }
    expected = result.current
  }
  throw conflictError()
}

/** The messages of a stored flash field: none for an absent one; `undefined` for one that cannot be read (a corrupt one is reported), which the next swap replaces. */
function decodeFlash(state: StashState, record: string, stored: string | undefined): FlashMessageMap | undefined {
  if (stored === undefined) return new Map()
  const decoded = state.context.codec.decode(record, FLASH_FIELD, stored)
  if (decoded.kind === 'other-version') return undefined
  const messages = decoded.kind === 'value' ? parseMessages(decoded.value) : undefined
  if (messages === undefined) {
    const reason = decoded.kind === 'corrupt' ? decoded.reason : 'not an object of message arrays'
    state.context.store.reportCorrupt(corruptError(FLASH_FIELD, reason))
  }
  return messages
}

/** When the flash field expires if written at `now`: after the request's longest ttl, within `maxLifetime`. */
function flashExpiry(state: StashState, now: number): number {
  return Math.min(now + state.expiry.longestLife(now) * 1000, state.expiry.lifetimeEnd(now))
}

function conflictError(): StashError {
  return new StashError('ERR_STASH_CONFLICT', `flash messages lost ${ATTEMPTS} compare-and-set races in a row`)
}
