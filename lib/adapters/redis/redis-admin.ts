/**
 * The Redis adapter's admin calls, `keys()` and `clear()`: SCAN batches over every master,
 * never KEYS, and `UNLINK`. Keys are `prefix` + record key; owner indexes are `prefix{owner}`.
 * @module
 */
import type { StashAdapter } from '../../store/adapter.js'
import { bounded } from './redis-call.js'
import type { RedisLink } from './redis-link.js'
import { OWNER_KEYS } from './redis-scripts.js'

/** What the admin calls need of their adapter's link. @internal */
export type RedisAdminContext = Pick<RedisLink, 'settings' | 'driver' | 'command' | 'script'>

/** A test of record keys, as `keys()` and `clear()` take it. */
type Match = ((recordKey: string) => boolean) | undefined

/** `keys()` and `clear()` of the Redis adapter. @internal */
export function redisAdmin(context: RedisAdminContext): Required<Pick<StashAdapter, 'keys' | 'clear'>> {
  const { prefix } = context.settings
  return {
    async *keys(match) {
      for await (const batch of scan(context)) {
        const records = recordsOf(batch, prefix, match)
        if (records.length > 0) yield records
      }
    },
    clear: (match) => clear(context, match),
  }
}

/** Every key under the prefix, node by node, in SCAN batches (indexes end with `}`). */
async function* scan({ settings, driver }: RedisAdminContext): AsyncGenerator<string[]> {
  const d = await driver()
  const pattern = settings.prefix.replace(/[*?[\]\\]/g, '\\$&') + '*'
  for (const node of await d.masters()) {
    let cursor = '0'
    do {
      const [next, batch] = await bounded<[string | number, string[]]>(
        d,
        settings,
        ['SCAN', cursor, 'MATCH', pattern, 'COUNT', String(settings.scanCount)],
        node,
      )
      cursor = String(next)
      if (batch.length > 0) yield batch
    } while (cursor !== '0')
  }
}

/** The record keys of a SCAN batch that `match` accepts (all of them without it), indexes left out. */
function recordsOf(batch: string[], prefix: string, match: Match): string[] {
  const records: string[] = []
  for (const k of batch) {
    if (k.endsWith('}')) continue // an owner index, of this prefix or of a longer one
    const record = k.slice(prefix.length)
    if (match === undefined || match(record)) records.push(record)
  }
  return records
}

/** Whether a key is an owner index of this prefix, `prefix{owner}`: never one of a longer prefix (`prefix` + `v2:{owner}`). */
function isIndex(k: string, prefix: string): boolean {
  return k.length > prefix.length + 2 && k[prefix.length] === '{' && k.indexOf('}', prefix.length) === k.length - 1
}

/** The adapter's `clear(match)`: UNLINKs the records `match` accepts, then the indexes left empty. */
async function clear(context: RedisAdminContext, match: Match): Promise<number> {
  const { settings, driver, command, script } = context
  const { prefix } = settings
  const d = await driver()
  let deleted = 0
  const indexes: string[] = []
  // On a cluster the keys of one batch may sit in different slots: one UNLINK each.
  const unlink = async (keys: string[]) => {
    for (const group of keys.length === 0 ? [] : d.cluster ? keys.map((k) => [k]) : [keys]) {
      deleted += Number(await command(group[0]!, ['UNLINK', ...group]))
    }
  }
  for await (const batch of scan(context)) {
    await unlink(recordsOf(batch, prefix, match).map((record) => prefix + record))
    for (const k of batch) if (isIndex(k, prefix)) indexes.push(k)
  }
  const records = deleted
  if (match === undefined) {
    await unlink(indexes)
    return records
  }
  // Of the indexes, only what the deleted records leave empty goes: pruning drops the members
  // that are gone, and Redis deletes a set left without members.
  for (let i = 0; i < indexes.length; i += settings.scanCount) {
    await Promise.all(indexes.slice(i, i + settings.scanCount).map((index) => script(OWNER_KEYS, [index], [])))
  }
  return records
}
