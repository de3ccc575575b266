/**
 * The record calls of a Redis adapter with the near cache (`cache`): loads answered from it when
 * it can (`loadNow`, and `load` before asking Redis), every load and write that Redis answers
 * kept in it unless an invalidation overtook the answer, and every change this process makes
 * through other calls (delete, move, compare-and-set, admin) dropped from it.
 * @module
 */
import type { LoadedRecord, RecordChange, StashAdapter, StashCacheStats, WriteReceipt } from '../../store/adapter.js'
import type { RecordCache } from './redis-cache.js'
import { expiryOf, planChange, versionOf, type RecordMeta } from './redis-layout.js'
import type { RedisLink } from './redis-link.js'

/** The calls of an adapter the cache wraps. */
type CachedCalls = Pick<StashAdapter, 'load' | 'write' | 'compareAndSet' | 'move' | 'delete'> &
  Pick<StashAdapter, 'clear' | 'deleteOwner'>

/** What a load read from Redis: the marker as stored, its metadata, and the reply holding the values. */
export type LoadObserver = (raw: unknown, meta: RecordMeta | undefined, reply: readonly unknown[], offset: number) => void

/** The adapter's load from Redis that reports what it read (redis-load.ts). */
export type ObservedLoad = (record: string, fields: readonly string[], observe: LoadObserver) => Promise<LoadedRecord | undefined>

/**
 * The record calls with the cache in front of `inner`, the adapter's own calls, and of
 * `loadFromRedis`, its load that reports what it read.
 */
export function cachedCalls(
  link: RedisLink,
  cache: RecordCache,
  inner: CachedCalls,
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
    write: (record, change) => writeThrough(link, cache, inner, record, change),
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
 * A write, then the record as it now is in the cache: worked out from the cached record it
 * changed when Redis says it applied to exactly that version, else dropped (the next load reads it).
 */
async function writeThrough(
  link: RedisLink,
  cache: RecordCache,
  inner: CachedCalls,
  record: string,
  change: RecordChange,
): Promise<void | 'gone' | WriteReceipt> {
  const target = link.redisKey(record)
  const before = cache.marker(target)
  const ticket = cache.begin(target)
  let result: void | 'gone' | WriteReceipt
  try {
    result = await inner.write(record, change)
  } catch (err) {
    cache.end(target, ticket, undefined)
    throw err
  }
  const version = typeof result === 'object' ? result.version : undefined
  if (before === undefined || version === undefined) {
    cache.end(target, ticket, undefined)
    return result
  }
  const now = Date.now()
  const set = Object.keys(change.set).map((field) => [field, change.set[field]!, expiryOf(change.expiresAt, field)] as const)
  const slide = Object.keys(change.expiresAt)
    .filter((field) => !Object.hasOwn(change.set, field))
    .map((field) => [field, expiryOf(change.expiresAt, field)] as const)
  const plan = planChange(before.meta, { del: change.del, set, slide, maxBytes: 0, existing: false, always: false }, now)
  const applied = plan !== undefined && versionOf(plan.marker === '' ? before.meta : plan.meta) === version
  if (!applied) {
    cache.end(target, ticket, undefined)
    return result
  }
  const meta = plan.marker === '' ? before.meta : plan.meta
  const raw = plan.marker === '' ? before.raw : plan.marker
  cache.end(target, ticket, {
    raw,
    meta,
    values: set.map(([field, value]) => [field, value]),
    removed: plan.removed,
    predecessor: before.raw,
  })
  return result
}
