/**
 * The Redis adapter's `load`, the hot path of every request: one `HMGET` (and `PEXPIRE ... GT`
 * when the expiry is due to slide), in one round trip without Lua; the LOAD script for what
 * these cannot settle, and for every load once a server turns out to lack `PEXPIRE GT`.
 * @module
 */
import { performance } from 'node:perf_hooks'
import { StashError } from '../../errors.js'
import type { StashAdapter } from '../../store/adapter.js'
import { bounded, isAnswer } from './redis-call.js'
import type { RedisDriver } from './redis-driver.js'
import type { RedisLink } from './redis-link.js'
import { LOAD, MARKER, NOT_A_HASH } from './redis-scripts.js'
import { RecentTouches } from './recent-touches.js'

/** What `load` resolves: the values in the order of the fields, or `undefined` for no record. */
type Loaded = (string | undefined)[] | undefined

/** The state of one adapter's loads. */
interface LoadState {
  readonly link: RedisLink
  /** Loads take plain commands (`HMGET`, `PEXPIRE GT`) until a server turns out to lack `PEXPIRE GT` (Redis < 7). */
  plainLoads: boolean
  readonly recentTouches: RecentTouches
}

/** The `load` of the adapter on `link`. */
export function redisLoad(link: RedisLink): StashAdapter['load'] {
  const state: LoadState = { link, plainLoads: true, recentTouches: new RecentTouches() }
  return (record, fields, ttl) => {
    if (!state.plainLoads) return loadByScript(link, record, fields, ttl)
    const direct = link.directDriver()
    if (direct !== undefined) return loadByCommands(state, direct, record, fields, ttl)
    return link.driver().then((d) => loadByCommands(state, d, record, fields, ttl))
  }
}

/** A load by the LOAD script. */
function loadByScript(link: RedisLink, record: string, fields: readonly string[], ttl: number | undefined): Promise<Loaded> {
  return link.script(LOAD, link.scriptKeys(record), [String(ttl ?? 0), ...fields], (reply) =>
    loaded(reply, link.redisKey(record)),
  )
}

/**
 * The hot path of every request, in one round trip without Lua (a script costs Redis several
 * times what its commands do): `HMGET` of the marker and the fields and, unless this process
 * slid the expiry moments ago ({@link RecentTouches}), `PEXPIRE ... GT` of the record (and its
 * owner index), which only ever pushes an expiry out and never creates a key. Whatever these
 * cannot settle goes to the LOAD script: no marker and no value (a missing record, or one
 * written before the marker), a key of another type, a server without `GT`.
 */
function loadByCommands(
  state: LoadState,
  d: RedisDriver,
  record: string,
  fields: readonly string[],
  ttl: number | undefined,
): Promise<Loaded> {
  const { link, recentTouches } = state
  const target = link.redisKey(record)
  const read = ['HMGET', target, MARKER, ...fields]
  const now = performance.now()
  const ttlMs = (ttl ?? 0) * 1000
  const touched = ttlMs > 0 && recentTouches.due(target, ttlMs, now) ? link.scriptKeys(record) : []
  const send = (): Promise<unknown> => {
    if (touched.length === 0) return d.command(target, read)
    const sent = [d.command(target, read)]
    for (const touch of touched) sent.push(d.command(target, ['PEXPIRE', touch, String(ttlMs), 'GT']))
    return Promise.all(sent)
  }
  const byScript = () => loadByScript(link, record, fields, ttl)
  // The values, or undefined when neither the marker nor any value came back: the script decides.
  const valuesOf = (reply: unknown): Loaded => {
    const values = (touched.length === 0 ? reply : (reply as unknown[])[0]) as (string | null)[]
    const marker = values.shift()
    if (!withoutNulls(values) && marker === null) return undefined
    if (touched.length > 0) recentTouches.touched(target, ttlMs, now)
    return values as (string | undefined)[]
  }
  return bounded(d, link.settings, read, send, valuesOf).then(
    (values) => values ?? byScript(),
    (err: unknown) => {
      // Redis's own error answer: a key of another type (HMGET), or PEXPIRE without GT (Redis < 7).
      if (!isAnswer(err) || err instanceof StashError) throw err
      const wrongType = String((err as Error)?.message).startsWith('WRONGTYPE')
      return byScript().then((values) => {
        if (!wrongType) state.plainLoads = false // the script could do what the commands could not
        return values
      })
    },
  )
}

/** A LOAD reply as `load` returns it: `undefined` for no record, and for each missing field. */
function loaded(reply: unknown, key: string): Loaded {
  if (reply === null || reply === undefined) return undefined
  if (reply === NOT_A_HASH) throw new StashError('ERR_STASH_CORRUPT', `the record under ${key} was not a hash; it was deleted`)
  const values = reply as (string | null)[]
  withoutNulls(values)
  return values as (string | undefined)[]
}

/** Turns the nils of an `HMGET` reply into `undefined`, in place; whether any value was there. */
function withoutNulls(values: (string | null | undefined)[]): boolean {
  let any = false
  for (let i = 0; i < values.length; i++) {
    if (values[i] === null) values[i] = undefined
    else any = true
  }
  return any
}
