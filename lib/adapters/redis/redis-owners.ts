/**
 * The Redis adapter's calls that span records or owner indexes (`prefix{owner}`, a set of the
 * owner's record keys in their hash slot): `move` (rotation, keeping the indexes of both
 * owners right), `ownerKeys` and `deleteOwner`.
 * @module
 */
import { ownerOfKey, type StashAdapter } from '../../store/adapter.js'
import { expiryArgument } from './redis-layout.js'
import type { RedisLink } from './redis-link.js'
import { DELETE, DELETE_OWNER, MOVE, OWNER_KEYS, REPLACE } from './redis-scripts.js'

/** The calls of {@link ownerCalls}. */
export type RedisOwnerCalls = Pick<StashAdapter, 'move'> & Required<Pick<StashAdapter, 'ownerKeys' | 'deleteOwner'>>

/** `move`, `ownerKeys` and `deleteOwner` of the adapter on `link`. */
export function ownerCalls(link: RedisLink): RedisOwnerCalls {
  const { script, scriptKeys, redisKey, indexKey, settings } = link
  // Versions go out only with the near cache: they are what the cookie signs for read-your-writes.
  const receipt = (version: number) => (link.cache === undefined ? undefined : { version })
  return {
    async move(from, to, record) {
      const now = String(Date.now())
      const created = record.createdAt === undefined ? '' : String(record.createdAt)
      const triples = Object.entries(record.fields).flatMap(([field, value]) => [
        field,
        value,
        expiryArgument(record.expiresAt, field),
      ])
      const fromOwner = ownerOfKey(from)
      const toOwner = ownerOfKey(to)
      const oneSlot = from === to || (fromOwner !== undefined && fromOwner === toOwner)
      if (oneSlot || !(await link.driver()).cluster) {
        // One hash slot (one owner), or one server: atomic everywhere, the owner indexes included.
        const [layout, indexes] = moveIndexes(fromOwner, toOwner, indexKey)
        const moved = Number(await script(MOVE, [redisKey(from), redisKey(to), ...indexes], [now, layout, created, ...triples]))
        if (moved === 0) return 'gone'
        return receipt(moved)
      } else {
        // Two hash slots: write the new record first, so a failure never loses the data; if the
        // old one is gone by then (revoked meanwhile), take the new one back: its ID was never sent.
        const written = Number(await script(REPLACE, scriptKeys(to), [now, created, ...triples]))
        if (Number(await script(DELETE, scriptKeys(from), [])) === 0) {
          await script(DELETE, scriptKeys(to), [])
          return 'gone'
        }
        return receipt(written)
      }
    },
    async ownerKeys(owner) {
      const live = await script<string[]>(OWNER_KEYS, [indexKey(owner)], [])
      return live.map((k) => k.slice(settings.prefix.length))
    },
    async deleteOwner(owner) {
      return Number(await script(DELETE_OWNER, [indexKey(owner)], []))
    },
  }
}

/** Which owner indexes a MOVE keeps (see the script), and their keys. */
function moveIndexes(
  from: string | undefined,
  to: string | undefined,
  indexKey: (owner: string) => string,
): [layout: string, indexes: string[]] {
  if (from === to) return from === undefined ? ['', []] : ['same', [indexKey(from)]]
  if (from !== undefined && to !== undefined) return ['both', [indexKey(from), indexKey(to)]]
  if (from !== undefined) return ['from', [indexKey(from)]]
  return to === undefined ? ['', []] : ['to', [indexKey(to)]]
}
