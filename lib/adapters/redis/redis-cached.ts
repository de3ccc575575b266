/**
 * The record calls of a Redis adapter with the near cache (`cache`): loads answered from it when
 * it can (`loadNow`, and `load` before asking Redis), every load and write that Redis answers
 * kept in it unless an invalidation overtook the answer, and every change this process makes
 * through other calls (delete, move, compare-and-set, admin) dropped from it.
 * @module
 */
import type { LoadedRecord, RecordChange, StashAdapter, StashCacheStats, WriteReceipt } from '../../store/adapter.js'
import type { Known, RecordCache } from './redis-cache.js'
import type { RecordMeta } from './redis-layout.js'
import type { RedisLink } from './redis-link.js'
import type { RedisRecordCalls, WriteObserver } from './redis-records.js'

/** The calls of an adapter the cache wraps. */
type CachedCalls = Pick<StashAdapter, 'load' | 'write' | 'compareAndSet' | 'move' | 'delete'> &
  Pick<StashAdapter, 'clear' | 'deleteOwner'>

/** What a load read from Redis: the marker as stored, its metadata, and the reply holding the values. */
export type LoadObserver = (raw: unknown, meta: RecordMeta | undefined, reply: readonly unknown[], offset: number) => void

/** The adapter's load from Redis that reports what it read (redis-load.ts). */
export type ObservedLoad = (record: string, fields: readonly string[], observe: LoadObserver) => Promise<LoadedRecord | undefined>

/**
 * The record calls with the cache in front of `inner`, the adapter's own calls (whose `write`
 * reports what it stored), and of `loadFromRedis`, its load that reports what it read.
 */
export function cachedCalls(
  link: RedisLink,
  cache: RecordCache,
  inner: CachedCalls & Pick<RedisRecordCalls, 'write'>,
  loadFromRedis: ObservedLoad,
): CachedCalls & CacheExtras {
  const forgetting =
    <A extends unknown[], R>(call: (record: string, ...args: A) => Promise<R>) =>
    (record: string, ...args: A): Promise<R> => {
      cache.forget(link.redisKey(record))
      return call(record, ...args).finally(() => cache.forget(link.redisKey(record)))
    }
  const flushing =
    <A extends unknown[], R>(call: ((...args: A) => Promise<R>) | undefined) =>
    (...args: A): Promise<R> =>
      call!(...args).finally(() => cache.flush())
  return {
    loadNow: (record, fields, seen) => cache.load(link.redisKey(record), fields, seen, Date.now()),
    load(record, fields, seen) {
      const target = link.redisKey(record)
      const known = cache.load(target, fields, seen, Date.now())
      if (known !== undefined) return Promise.resolve(known ?? undefined)
      // The ticket is taken before Redis is asked: an invalidation that overtakes the answer marks it stale.
      cache.counters.misses++
      const ticket = cache.begin(target)
      const observe: LoadObserver = (raw, meta, reply, offset) => {
        if (typeof raw !== 'string' || meta === undefined) return cache.end(target, ticket, undefined)
        const values: [string, string][] = []
        fields.forEach((field, i) => typeof reply[offset + i] === 'string' && values.push([field, reply[offset + i] as string]))
        cache.end(target, ticket, { raw, meta, values })
      }
      return loadFromRedis(record, fields, observe).finally(() => cache.release(target, ticket))
    },
    write: (record, change) => writeThrough(cache, inner.write, link.redisKey(record), record, change),
    compareAndSet: forgetting(inner.compareAndSet),
    move: (from, to, stored) => {
      const forget = () => (cache.forget(link.redisKey(from)), cache.forget(link.redisKey(to)))
      forget()
      return inner.move(from, to, stored).finally(forget)
    },
    delete: forgetting(inner.delete),
    clear: flushing(inner.clear),
    deleteOwner: flushing(inner.deleteOwner),
    cacheStats: (): StashCacheStats => ({ ...cache.counters, entries: cache.size, bytes: cache.bytes }),
  }
}

/** What the cache adds to the adapter. */
interface CacheExtras {
  readonly loadNow: NonNullable<StashAdapter['loadNow']>
  cacheStats(): StashCacheStats
}

/**
 * A write, then the record as it now is in the cache: the values it set, and those cached under
 * the marker it replaced when the write applied to exactly that one (else the next load of the
 * others reads them). Only a record held already is kept: a flood of new visitors, each written
 * once and never read again, cannot push out the records in use (a record is cached by a load).
 * Dropped when the write failed, or when an invalidation overtook it.
 */
async function writeThrough(
  cache: RecordCache,
  write: RedisRecordCalls['write'],
  target: string,
  record: string,
  change: RecordChange,
): Promise<void | 'gone' | WriteReceipt> {
  const held = cache.holds(target)
  const ticket = cache.begin(target)
  let known: Known | undefined
  const observe: WriteObserver = (raw, meta, predecessor) => {
    if (held && meta !== undefined) known = { raw, meta, values: Object.entries(change.set), predecessor }
  }
  try {
    return await write(record, change, observe)
  } finally {
    cache.end(target, ticket, known)
  }
}
