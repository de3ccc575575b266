/**
 * The Redis adapter's `load`, the hot path of every request: one `HMGET` of the marker and the
 * fields, in one round trip without Lua, changing nothing; the LOAD script for what it cannot
 * settle. Each marker it reads goes to the adapter's marker memo, for the write that follows.
 * @module
 */
import { StashError } from '../../errors.js'
import type { LoadedRecord, StashAdapter } from '../../store/adapter.js'
import { bounded, isAnswer } from './redis-call.js'
import type { RedisDriver } from './redis-driver.js'
import { markerMemoOf, type MarkerMemo } from './marker-memo.js'
import type { LoadObserver, ObservedLoad } from './redis-cached.js'
import { ASK_SCRIPT, loadedOf, metaOf } from './redis-layout.js'
import type { RedisLink } from './redis-link.js'
import { LOAD, MARKER, NOT_A_HASH } from './redis-scripts.js'

/** The `load` of the adapter on `link`. */
export function redisLoad(link: RedisLink): StashAdapter['load'] {
  const load = observedLoad(link)
  return (record, fields) => load(record, fields)
}

/** The load of the adapter on `link` that reports each marker and the values it read to `observe` (the near cache). */
export function observedLoad(
  link: RedisLink,
): (record: string, fields: readonly string[], observe?: LoadObserver) => ReturnType<ObservedLoad> {
  const memo = markerMemoOf(link)
  return (record, fields, observe) => {
    const direct = link.directDriver()
    if (direct !== undefined) return loadByCommand(link, memo, direct, record, fields, observe)
    return link.driver().then((d) => loadByCommand(link, memo, d, record, fields, observe))
  }
}

/**
 * The hot path of every request, in one round trip without Lua (a script costs Redis several
 * times what its commands do): `HMGET` of the marker and the fields; the marker gives each
 * field's expiry (an expired field is absent) and `createdAt`. Whatever it cannot settle goes to
 * the LOAD script: no marker (a missing record, or one written before the marker), a marker of
 * the previous layout (a size), a value without an entry in the marker, a key of another type.
 */
function loadByCommand(
  link: RedisLink,
  memo: MarkerMemo,
  d: RedisDriver,
  record: string,
  fields: readonly string[],
  observe: LoadObserver | undefined,
): Promise<LoadedRecord | undefined> {
  const target = link.redisKey(record)
  const now = Date.now()
  const read = (reply: unknown) => {
    const marker = (reply as unknown[])[0]
    const meta = metaOf(marker)
    memo.read(target, marker, meta)
    const loaded = loadedOf(meta, fields, reply as unknown[], 1, now)
    if (loaded !== ASK_SCRIPT) observe?.(marker, meta, reply as unknown[], 1)
    return loaded
  }
  return bounded(d, link.settings, ['HMGET', target, MARKER, ...fields], target, read).then(
    (loaded) => (loaded === ASK_SCRIPT ? loadByScript(link, memo, record, fields) : loaded),
    (err: unknown) => {
      // Redis's own answer that the key holds another type: the script removes it.
      if (!isAnswer(err) || err instanceof StashError || !String((err as Error)?.message).startsWith('WRONGTYPE')) throw err
      return loadByScript(link, memo, record, fields)
    },
  )
}

/** A load by the LOAD script, which also tells how long the key lives (`PTTL`). */
function loadByScript(
  link: RedisLink,
  memo: MarkerMemo,
  record: string,
  fields: readonly string[],
): Promise<LoadedRecord | undefined> {
  const now = Date.now()
  const target = link.redisKey(record)
  return link.script(LOAD, [target], [...fields], (reply) => {
    if (reply === null || reply === undefined) return undefined
    if (reply === NOT_A_HASH) {
      throw new StashError('ERR_STASH_CORRUPT', `the record under ${target} was not a hash; it was deleted`)
    }
    const [left, marker] = reply as [number, unknown]
    const meta = metaOf(marker)
    memo.read(target, marker, meta)
    return loadedOf(meta, fields, reply as unknown[], 2, now, Number(left)) as LoadedRecord | undefined
  })
}
