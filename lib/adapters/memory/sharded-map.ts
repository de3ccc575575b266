/**
 * The memory adapter's record store: 64 shards of {@link BoundedMap}, in least-recently-used order,
 * with the sum of the records' bytes.
 * @module
 */
import { BoundedMap } from '../../values/bounded-map.js'

/** Shards of a {@link ShardedMap}: a power of two. */
const SHARDS = 64

/** A value that remembers when it was last used (for least-recently-used eviction) and its size. */
export interface Stamped {
  used: number
  /** Bytes the value holds, summed by the map: fixed while the value is in it. */
  readonly bytes: number
}

/**
 * A map split into 64 smaller ones. V8 rebuilds a Map's whole hash table in one synchronous step
 * when it grows past or shrinks below a power-of-two capacity: on a million records that is a
 * stall of tens of milliseconds. Split, no single rebuild touches more than 1/64 of the records.
 *
 * Each shard (an unbounded {@link BoundedMap}) keeps its entries in least-recently-used order
 * (`set` and `refresh` move an entry to the end), and every entry carries a stamp, so the globally
 * least recently used entry is the oldest among the shards' oldest entries. The map also keeps the
 * sum of its values' `bytes`, exact through every `set`, `delete` and `clear`.
 */
export class ShardedMap<V extends Stamped> {
  private readonly shards = Array.from({ length: SHARDS }, () => new BoundedMap<string, V>())
  private count = 0
  private total = 0
  private tick = 0

  /** Entries held. */
  get size(): number {
    return this.count
  }

  /** The sum of the `bytes` of the entries held. */
  get bytes(): number {
    return this.total
  }

  /** The entry under `key`, leaving its place in the order as it is. */
  get(key: string): V | undefined {
    return this.shard(key).get(key)
  }

  /** Stores `value` under `key` as the most recently used entry. */
  set(key: string, value: V): void {
    const shard = this.shard(key)
    const previous = shard.get(key)
    if (previous === undefined) this.count++
    else this.total -= previous.bytes
    value.used = ++this.tick
    this.total += value.bytes
    shard.refresh(key, value)
  }

  /** Marks an entry as the most recently used; `value` must be the one held under `key`. */
  refresh(key: string, value: V): void {
    value.used = ++this.tick
    this.shard(key).refresh(key, value)
  }

  /** Removes an entry; whether there was one. */
  delete(key: string): boolean {
    const shard = this.shard(key)
    const previous = shard.get(key)
    if (previous === undefined) return false
    shard.delete(key)
    this.count--
    this.total -= previous.bytes
    return true
  }

  /** Removes every entry. */
  clear(): void {
    for (const shard of this.shards) shard.clear()
    this.count = 0
    this.total = 0
  }

  /** The least recently used key, if any. */
  oldest(): string | undefined {
    let oldest: [string, V] | undefined
    for (const shard of this.shards) {
      const first = shard.oldest()
      if (first !== undefined && (oldest === undefined || first[1].used < oldest[1].used)) oldest = first
    }
    return oldest?.[0]
  }

  /** Every entry, shard by shard; entries may be deleted while iterating. */
  *[Symbol.iterator](): IterableIterator<[string, V]> {
    for (const shard of this.shards) yield* shard
  }

  private shard(key: string): BoundedMap<string, V> {
    // Record keys end in hash characters, so their last two spread evenly over the shards.
    const code = key.charCodeAt(key.length - 1) * 31 + key.charCodeAt(key.length - 2)
    return this.shards[(code || 0) & (SHARDS - 1)]!
  }
}
