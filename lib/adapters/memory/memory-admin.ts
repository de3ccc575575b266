/**
 * The admin operations of the memory adapter: the expiry sweep on demand, listing and clearing
 * records, and the per-owner listing behind `listFor()` / `revokeAll()` (record keys `{owner}hash`).
 * @module
 */
import type { StashAdapter } from '../../store/adapter.js'
import type { MemoryTable } from './memory-table.js'

/** The admin methods of the memory adapter, all implemented. @internal */
export interface AdminOperations extends Required<Pick<StashAdapter, 'keys' | 'clear' | 'ownerKeys' | 'deleteOwner'>> {
  /** Runs a sweep now (or joins the one running); resolves to the number of expired records removed. */
  sweep(): Promise<number>
}

/**
 * The admin methods of a memory adapter; `open()` returns its table, or throws once the adapter
 * is closed.
 * @internal
 */
export function adminOperations(open: () => MemoryTable): AdminOperations {
  const ownerKeys = async (owner: string): Promise<string[]> => {
    const keys: string[] = []
    for await (const batch of open().keys((key) => key.startsWith(`{${owner}}`))) keys.push(...batch)
    return keys
  }
  return {
    async sweep() {
      return open().sweep()
    },
    keys(match) {
      return open().keys(match)
    },
    async clear(match) {
      const table = open()
      let live = 0
      if (match !== undefined) {
        // Moved-away records keep their tombstones: the other node still holds them.
        for await (const batch of table.keys(match)) for (const key of batch) live += table.records.delete(key) ? 1 : 0
        return live
      }
      const now = Date.now()
      for (const [, record] of table.records) if (record.expiresAt > now) live++
      table.records.clear()
      table.tombstones.clear()
      return live
    },
    ownerKeys,
    async deleteOwner(owner) {
      const table = open()
      const keys = await ownerKeys(owner)
      for (const key of keys) table.records.delete(key)
      return keys.length
    },
  }
}
