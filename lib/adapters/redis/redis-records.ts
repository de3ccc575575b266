/**
 * The Redis adapter's calls on one record besides `load`: `write`, `compareAndSet`, `readAll`
 * and `delete`, one script each (so one round trip, atomic with the owner index). The caller's
 * clock (`Date.now()`) goes to the scripts as `now`: every expiry is on that clock.
 * @module
 */
import { tooLargeError } from '../../errors.js'
import type { CompareAndSetResult, StashAdapter } from '../../store/adapter.js'
import { expiryArgument, storedOf } from './redis-layout.js'
import type { RedisLink } from './redis-link.js'
import { COMPARE_AND_SET, DELETE, READ_ALL, WRITE } from './redis-scripts.js'

/** The record calls of {@link recordCalls}. */
export type RedisRecordCalls = Pick<StashAdapter, 'write' | 'compareAndSet' | 'readAll' | 'delete'>

/** `write`, `compareAndSet`, `readAll` and `delete` of the adapter on `link`. */
export function recordCalls({ script, scriptKeys, redisKey }: RedisLink): RedisRecordCalls {
  return {
    async write(record, change) {
      const { set, del, expiresAt, maxBytes } = change
      const sets = Object.keys(set)
      const slides = Object.keys(expiresAt).filter((field) => !Object.hasOwn(set, field))
      const args = [String(Date.now()), String(maxBytes ?? 0), flagsOf(change), String(del.length)]
      args.push(String(sets.length), String(slides.length), ...del)
      for (const field of sets) args.push(field, set[field]!, expiryArgument(expiresAt, field))
      for (const field of slides) args.push(field, expiryArgument(expiresAt, field))
      const size = Number(await script(WRITE, scriptKeys(record), args))
      if (size < 0) return 'gone'
      if (size > 0) throw tooLargeError(size, maxBytes!)
    },
    async compareAndSet(record, swap): Promise<CompareAndSetResult> {
      const { field, expected, next, expiresAt, maxBytes } = swap
      const args = [String(Date.now()), String(maxBytes ?? 0), flagsOf(swap), field]
      args.push(expected === undefined ? '0' : '1', expected ?? '', next === undefined ? '0' : '1', next ?? '')
      if (next !== undefined) args.push(field, expiryArgument(expiresAt, field))
      for (const other of Object.keys(expiresAt)) if (other !== field) args.push(other, expiryArgument(expiresAt, other))
      const [status, value] = await script<[number, string | number | null]>(COMPARE_AND_SET, scriptKeys(record), args)
      if (status === 3) return { ok: false, current: undefined, gone: true }
      if (status === 2) throw tooLargeError(Number(value), maxBytes!)
      return status === 1 ? { ok: true } : { ok: false, current: (value as string | null) ?? undefined }
    },
    async readAll(record) {
      const now = Date.now()
      return storedOf(await script<unknown[]>(READ_ALL, [redisKey(record)], []), now)
    },
    async delete(record) {
      await script(DELETE, scriptKeys(record), [])
    },
  }
}

/** The flags argument of WRITE and COMPARE_AND_SET: `'e'` when the record must exist. */
const flagsOf = ({ existing }: { existing?: boolean }): string => (existing === true ? 'e' : '')
