/**
 * The Redis adapter's calls on one record besides `load`: `write`, `compareAndSet`, `readAll`
 * and `delete`, one script each (so one round trip, atomic with the owner index). The caller's
 * clock (`Date.now()`) goes to the scripts as `now`: every expiry is on that clock. A write or a
 * compare-and-set is worked out on the client from the marker memo when it knows the record's
 * marker, and the script only applies it when that marker is still the one stored (its fast path).
 * @module
 */
import { tooLargeError } from '../../errors.js'
import type { CompareAndSetResult, FieldSwap, RecordChange, StashAdapter, WriteReceipt } from '../../store/adapter.js'
import { markerMemoOf, type MarkerMemo } from './marker-memo.js'
import { expiryOf, metaOf, planChange, storedOf, versionOf, type MarkerChange, type RecordMeta } from './redis-layout.js'
import type { RedisLink } from './redis-link.js'
import { COMPARE_AND_SET, DELETE, READ_ALL, WRITE } from './redis-scripts.js'

/**
 * What a write left stored, for the near cache: the marker exactly as stored, its metadata, and
 * the marker it replaced when the script checked that very one (`undefined`: not known exactly).
 */
export type WriteObserver = (raw: string, meta: RecordMeta | undefined, predecessor: string | undefined) => void

/**
 * The record calls of {@link recordCalls}; its `write` also reports the marker it leaves stored
 * to an `observe` callback (the near cache).
 */
export type RedisRecordCalls = Pick<StashAdapter, 'compareAndSet' | 'readAll' | 'delete'> & {
  write(record: string, change: RecordChange, observe?: WriteObserver): ReturnType<StashAdapter['write']>
}

/** `write`, `compareAndSet`, `readAll` and `delete` of the adapter on `link`. */
export function recordCalls(link: RedisLink): RedisRecordCalls {
  const { script, scriptKeys, redisKey } = link
  const memo = markerMemoOf(link)
  return {
    write: (record, change, observe) => writeRecord(link, memo, record, change, observe),
    compareAndSet: (record, swap) => swapField(link, memo, record, swap),
    async readAll(record) {
      const now = Date.now()
      return storedOf(await script<unknown[]>(READ_ALL, [redisKey(record)], []), now)
    },
    async delete(record) {
      memo.forget(redisKey(record))
      await script(DELETE, scriptKeys(record), [])
    },
  }
}

/** The metadata of the marker a script's full path answered with, now stored under `target` (the memo learns it). */
function stored(memo: MarkerMemo, target: string, marker: string): RecordMeta | undefined {
  const meta = metaOf(marker)
  memo.learn(target, marker, meta)
  return meta
}

/**
 * The adapter's `write`: by the WRITE script, worked out from the memo when it knows the marker.
 * `observe` hears of the marker the write left stored, and of the one it replaced when that is
 * known exactly (the fast path: the script checked it).
 */
async function writeRecord(
  { script, scriptKeys, redisKey, cache }: RedisLink,
  memo: MarkerMemo,
  record: string,
  change: RecordChange,
  observe?: WriteObserver,
): Promise<void | 'gone' | WriteReceipt> {
  const { set, del, expiresAt, maxBytes = 0 } = change
  const target = redisKey(record)
  const now = Date.now()
  const sets = Object.keys(set).map((field) => [field, set[field]!, expiryOf(expiresAt, field)] as const)
  const slides = Object.keys(expiresAt)
    .filter((field) => !Object.hasOwn(set, field))
    .map((field) => [field, expiryOf(expiresAt, field)] as const)
  const known = memo.recall(target)
  const existing = change.existing === true
  const plan = known && planChange(known.meta, { del, set: sets, slide: slides, maxBytes, existing, always: false }, now)
  const deleted = new Set(del)
  const extra = plan === undefined ? [] : plan.removed.filter((field) => !deleted.has(field))
  const numbers = [now, maxBytes, existing ? 1 : 0, del.length, slides.length]
  for (const [, , at] of sets) numbers.push(at)
  for (const [, at] of slides) numbers.push(at)
  const args = [plan === undefined ? '' : known!.raw, plan?.marker ?? '', String(plan?.lifetime ?? 0)]
  args.push(String(del.length + extra.length), String(sets.length), numbers.join(' '), ...del, ...extra)
  for (const [field, value] of sets) args.push(field, value)
  for (const [field] of slides) args.push(field)
  // Known before the answer, so that a write sent meanwhile works itself out from this one.
  if (plan !== undefined && plan.marker !== '') memo.learn(target, plan.marker, plan.meta)
  const reply = await script(WRITE, scriptKeys(record), args)
  // Versions go out only with the near cache: they are what the cookie signs for read-your-writes.
  if (typeof reply === 'string') {
    const meta = stored(memo, target, reply) // the full path: worked out from whatever was stored
    observe?.(reply, meta, undefined)
    return cache === undefined ? undefined : { version: versionOf(meta) }
  }
  const status = Number(reply)
  if (status === 0) {
    // The fast path: applied as planned, to the very marker the memo knew.
    observe?.(plan!.marker === '' ? known!.raw : plan!.marker, plan!.meta, known!.raw)
    return cache === undefined ? undefined : { version: versionOf(plan!.meta) }
  }
  memo.forget(target)
  if (status < 0) return 'gone'
  throw tooLargeError(status, maxBytes)
}

/** The adapter's `compareAndSet`: by the COMPARE_AND_SET script, worked out from the memo as a write is. */
async function swapField(
  { script, scriptKeys, redisKey, cache }: RedisLink,
  memo: MarkerMemo,
  record: string,
  swap: FieldSwap,
): Promise<CompareAndSetResult> {
  const { field, expected, next, expiresAt, maxBytes = 0 } = swap
  const target = redisKey(record)
  const now = Date.now()
  const expiries: (readonly [string, number])[] = next === undefined ? [] : [[field, expiryOf(expiresAt, field)]]
  for (const other of Object.keys(expiresAt)) if (other !== field) expiries.push([other, expiryOf(expiresAt, other)])
  const known = memo.recall(target)
  const existing = swap.existing === true
  const change: MarkerChange = {
    del: next === undefined ? [field] : [],
    set: next === undefined ? [] : [[field, next, expiries[0]![1]]],
    slide: expiries,
    maxBytes,
    existing,
    always: true,
  }
  const plan = known && planChange(known.meta, change, now)
  const entry = known !== undefined && Object.hasOwn(known.meta.f, field) ? known.meta.f[field] : undefined
  const removed = plan?.removed ?? []
  const args = [plan === undefined ? '' : known!.raw, plan?.marker ?? '', String(plan?.lifetime ?? 0), String(removed.length)]
  args.push(`${now} ${maxBytes} ${existing ? 1 : 0}`, field, expected === undefined ? '0' : '1', expected ?? '')
  args.push(next === undefined ? '0' : '1', next ?? '', entry !== undefined && entry[0] <= now ? '0' : '1', ...removed)
  for (const [name, at] of expiries) args.push(name, String(at))
  const [status, value] = await script<[number, string | number | null | undefined]>(COMPARE_AND_SET, scriptKeys(record), args)
  if (status === 3) {
    memo.forget(target)
    return { ok: false, current: undefined, gone: true }
  }
  if (status === 2) throw tooLargeError(Number(value), maxBytes)
  if (status !== 1) return { ok: false, current: (value as string | null | undefined) ?? undefined }
  const receipt = { version: versionOf(typeof value === 'string' ? stored(memo, target, value) : plan!.meta) }
  if (typeof value !== 'string') memo.learn(target, plan!.marker, plan!.meta) // the fast path: as planned
  return cache === undefined ? { ok: true } : { ok: true, ...receipt }
}
