/**
 * The memory adapter's tombstones: the records that moved to another node (cross-node recovery).
 * @module
 */
import { BoundedMap } from '../../values/bounded-map.js'

/**
 * Record keys that moved to another node, each until the moment the record would have expired.
 * While a key is here, writes to it are refused: a request that loaded the record before the
 * move cannot write a stale copy back on this node. Not bounded by a count (forgetting a live
 * tombstone would let a stale write through): each one goes when its record would have expired,
 * found so by `has` or by the table's periodic `sweep`.
 */
export class Tombstones {
  /** Record key → the moment (`Date.now()`) its tombstone expires. */
  private readonly until = new BoundedMap<string, number>({ expiresAt: (until) => until })

  /** Lays a tombstone for `key` until `until`. */
  add(key: string, until: number): void {
    this.until.set(key, until)
  }

  /** Whether `key` moved away and its tombstone is still alive. */
  has(key: string, now: number): boolean {
    return this.until.live(key, now) !== undefined
  }

  /** Removes the tombstone of `key` (its record came back). */
  delete(key: string): void {
    this.until.delete(key)
  }

  /** Drops the tombstones that outlived their record. */
  sweep(now: number): void {
    this.until.sweep(now)
  }

  /** Removes every tombstone. */
  clear(): void {
    this.until.clear()
  }
}
