/**
 * The one bounded map every cache of the library is built on (verified values and cookies, recent
 * touches and misses, peer nonces, tombstones, the memory adapter's shards).
 * @module
 */

/** What a full {@link BoundedMap} does when a new key arrives. */
export type WhenFull = 'evict' | 'refuse'

/** How a {@link BoundedMap} bounds its entries. */
export interface BoundedMapOptions<V> {
  /** Most entries held. @default Infinity */
  readonly capacity?: number
  /**
   * `'evict'` forgets the oldest entry to make room; `'refuse'` forgets nothing, and `set` returns
   * false instead (for a memory whose forgetting would be unsafe, such as replay nonces).
   * @default 'evict'
   */
  readonly whenFull?: WhenFull
  /**
   * The moment an entry expires, on the caller's clock: an entry is expired once `now` reaches it.
   * Without it entries never expire. The map keeps no clock: every method that expires takes `now`.
   */
  readonly expiresAt?: (value: V) => number
}

/**
 * A Map with a capacity, kept in the order of its entries' arrival (`set` leaves a replaced entry
 * in its place; `refresh` moves it to the end, which makes the order least recently used), so the
 * oldest entry is always the first. Expiry is optional and explicit: `live(key, now)` drops an
 * expired entry it finds, `pruneFront(now)` the expired ones at the front (all of them when arrival
 * order is expiry order), `sweep(now)` every one.
 *
 * The front is found through one iterator kept across calls, not a new one each time: a Map keeps
 * a deleted entry's slot until it rehashes, and a new iterator walks past every such slot, so
 * `map.keys().next()` after evicting thousands of entries from the front costs microseconds (a
 * cache at capacity evicts on every write). A kept iterator walks each slot once: eviction is O(1).
 * An iterator also keeps the hash tables the Map outgrew alive until it moves on, so it is dropped
 * after as many new entries as the map holds (by then the Map has rehashed, leaving few empty slots
 * for the next iterator to walk): amortised, still O(1).
 */
export class BoundedMap<K, V> {
  private readonly entries = new Map<K, V>()
  private readonly capacity: number
  private readonly refuse: boolean
  private readonly expiresAt: ((value: V) => number) | undefined
  /** The kept iterator: every entry it passed is deleted, but `front`. */
  private cursor: Iterator<K> | undefined
  /** New entries since `cursor` was made. */
  private appended = 0
  /** The oldest entry, where `cursor` stopped; meaningful while `hasFront`. */
  private front: K | undefined
  private frontValue: V | undefined
  private hasFront = false

  constructor({ capacity = Infinity, whenFull = 'evict', expiresAt }: BoundedMapOptions<V> = {}) {
    this.capacity = capacity
    this.refuse = whenFull === 'refuse'
    this.expiresAt = expiresAt
  }

  /** Entries held, expired ones not yet dropped included. */
  get size(): number {
    return this.entries.size
  }

  /** Whether a new key would need room (evicting the oldest entry, or being refused). */
  get full(): boolean {
    return this.entries.size >= this.capacity
  }

  /** The value under `key`, expired or not, leaving its place in the order as it is. */
  get(key: K): V | undefined {
    return this.entries.get(key)
  }

  /** The value under `key` if it has not expired at `now`; an expired entry is dropped. */
  live(key: K, now: number): V | undefined {
    const value = this.entries.get(key)
    if (value === undefined || this.expiresAt === undefined || this.expiresAt(value) > now) return value
    this.delete(key)
    return undefined
  }

  /** Whether an entry is held under `key`, expired or not. */
  has(key: K): boolean {
    return this.entries.has(key)
  }

  /**
   * Stores `value` under `key`: a replaced entry keeps its place, a new one goes last, making room
   * when full. False (and nothing stored) when full and refusing.
   */
  set(key: K, value: V): boolean {
    if (!this.entries.has(key)) {
      if (!this.makeRoom()) return false
      if (this.cursor !== undefined) this.noteAppended()
    } else if (this.hasFront && key === this.front) this.frontValue = value // replaced in its place
    this.entries.set(key, value)
    return true
  }

  /**
   * Stores `value` under `key` as the newest entry (the most recently used), making room when
   * full. False (and nothing stored) when full and refusing.
   */
  refresh(key: K, value: V): boolean {
    if (this.entries.delete(key)) {
      if (this.hasFront && key === this.front) this.forgetFront()
    } else if (!this.makeRoom()) return false
    if (this.cursor !== undefined) this.noteAppended()
    this.entries.set(key, value)
    return true
  }

  /** Removes an entry; whether there was one. */
  delete(key: K): boolean {
    if (this.hasFront && key === this.front) this.forgetFront()
    return this.entries.delete(key)
  }

  /** Removes every entry. */
  clear(): void {
    this.entries.clear()
    this.cursor = undefined
    this.hasFront = false
    this.frontValue = undefined
  }

  /** The oldest entry (the least recently used, if every use refreshes), if any. */
  oldest(): [K, V] | undefined {
    if (!this.findFront()) return undefined
    return [this.front!, this.frontValue!]
  }

  /**
   * Drops the expired entries at the front, stopping at the first live one: every expired entry,
   * when arrival order is expiry order (a fixed ttl), else most of them at O(1) each.
   */
  pruneFront(now: number): void {
    if (this.expiresAt === undefined) return
    while (this.findFront() && this.expiresAt(this.frontValue!) <= now) this.delete(this.front!)
  }

  /** Drops every expired entry (a pass over all of them). */
  sweep(now: number): void {
    if (this.expiresAt === undefined) return
    for (const [key, value] of this.entries) if (this.expiresAt(value) <= now) this.delete(key)
  }

  /** Every entry, oldest first; entries may be deleted while iterating. */
  [Symbol.iterator](): IterableIterator<[K, V]> {
    return this.entries[Symbol.iterator]()
  }

  /** Room for one more key: true if there is (evicting the oldest entry if need be), false when refusing. */
  private makeRoom(): boolean {
    if (this.entries.size < this.capacity) return true
    if (this.refuse || !this.findFront()) return false
    this.delete(this.front!)
    return true
  }

  /** Counts a new entry; drops `cursor` after as many as the map holds (see the class). */
  private noteAppended(): void {
    if (++this.appended > this.entries.size) this.cursor = undefined
  }

  /** The front entry is gone (deleted, or moved to the end): the cursor is already past its slot. */
  private forgetFront(): void {
    this.hasFront = false
    this.frontValue = undefined
  }

  /** Points `front` at the oldest entry; false when the map is empty. */
  private findFront(): boolean {
    if (this.hasFront) return true
    let next = this.cursor?.next()
    if (next === undefined || next.done === true) {
      // A finished iterator stays finished (entries added later are not visited): start a new one.
      if (this.entries.size === 0) return false
      this.cursor = this.entries.keys()
      this.appended = 0
      next = this.cursor.next()
    }
    this.front = next.value as K
    this.frontValue = this.entries.get(this.front)
    this.hasFront = true
    return true
  }
}
