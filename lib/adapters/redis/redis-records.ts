/**
 * The Redis adapter's calls on one record besides `load`: `write`, `compareAndSet`, `touch`,
 * `readAll` and `delete`, one script each (so one round trip, atomic with the owner index).
 * @module
 */
import { tooLargeError } from '../../errors.js'
import type { CompareAndSetResult, StashAdapter } from '../../store/adapter.js'
import type { RedisLink } from './redis-link.js'
import { COMPARE_AND_SET, DELETE, MARKER, READ_ALL, TOUCH, WRITE } from './redis-scripts.js'

/** The record calls of {@link recordCalls}. */
export type RedisRecordCalls = Pick<StashAdapter, 'write' | 'compareAndSet' | 'touch' | 'readAll' | 'delete'>

/** `write`, `compareAndSet`, `touch`, `readAll` and `delete` of the adapter on `link`. */
export function recordCalls({ script, scriptKeys, redisKey }: RedisLink): RedisRecordCalls {
  return {
    async write(record, change) {
      const set = Object.entries(change.set).flat()
      const flags = change.existing === true ? 'e' : ''
      const args = [ttlArgument(change), String(change.maxBytes ?? 0), flags, String(change.del.length), ...change.del, ...set]
      const size = Number(await script(WRITE, scriptKeys(record), args))
      if (size < 0) return 'gone'
      if (size > 0) throw tooLargeError(size, change.maxBytes!)
    },
    async compareAndSet(record, swap): Promise<CompareAndSetResult> {
      const { field, expected, next, maxBytes } = swap
      const args = [
        field,
        expected === undefined ? '0' : '1',
        expected ?? '',
        next === undefined ? '0' : '1',
        next ?? '',
        ttlArgument(swap),
        String(maxBytes ?? 0),
        swap.existing === true ? 'e' : '',
      ]
      const [status, value] = await script<[number, string | number | null]>(COMPARE_AND_SET, scriptKeys(record), args)
      if (status === 3) return { ok: false, current: undefined, gone: true }
      if (status === 2) throw tooLargeError(Number(value), maxBytes!)
      return status === 1 ? { ok: true } : { ok: false, current: (value as string | null) ?? undefined }
    },
    async touch(record, ttl) {
      return Number(await script(TOUCH, scriptKeys(record), [String(ttl)])) === 1
    },
    async readAll(record) {
      const flat = await script<string[]>(READ_ALL, [redisKey(record)], [])
      if (flat.length === 0) return undefined
      const fields: Record<string, string> = {}
      for (let i = 0; i < flat.length; i += 2) if (flat[i] !== MARKER) fields[flat[i]!] = flat[i + 1]!
      return fields
    },
    async delete(record) {
      await script(DELETE, scriptKeys(record), [])
    },
  }
}

/** The ttl argument of WRITE and COMPARE_AND_SET: the seconds, after `=` when `exact`. */
const ttlArgument = ({ ttl, exact }: { ttl: number; exact?: boolean }): string => (exact === true ? `=${ttl}` : String(ttl))
