/**
 * The limits on how often a node searches its peers for missed records: a record searched in
 * vain is not searched again for a while under the same cookie hint, and searches are rate
 * limited, so a cookie whose record is gone cannot make a node ask its peers again and again.
 * @module
 */
import { log, recordLabel } from '../log.js'
import { RecentMisses } from './recent-misses.js'
import { TokenBucket } from './token-bucket.js'

/** How often one node may search its peers; every field is optional. */
export interface SearchLimits {
  /** Milliseconds a record searched in vain is not searched again under the same cookie hint. @default 30000 */
  readonly missTtl?: number
  /** Most records remembered as searched in vain; past it the oldest is forgotten. @default 10000 */
  readonly maxMisses?: number
  /** Searches the node may start per second, on average; beyond it a miss asks no peer. @default 100 */
  readonly searchesPerSecond?: number
  /** Searches the node may start in a burst above that rate. @default 200 */
  readonly searchBurst?: number
}

/** The defaults of {@link SearchLimits}. */
export const DEFAULT_SEARCH_LIMITS: Required<SearchLimits> = {
  missTtl: 30_000,
  maxMisses: 10_000,
  searchesPerSecond: 100,
  searchBurst: 200,
}

/** Decides, under {@link SearchLimits}, whether a miss may ask the peers, and remembers the outcomes. */
export class SearchGate {
  private readonly misses: RecentMisses
  private readonly bucket: TokenBucket
  private readonly searchesPerSecond: number

  constructor(limits: SearchLimits = {}) {
    const { missTtl, maxMisses, searchesPerSecond, searchBurst } = { ...DEFAULT_SEARCH_LIMITS, ...limits }
    this.misses = new RecentMisses(missTtl, maxMisses)
    this.bucket = new TokenBucket(searchesPerSecond, searchBurst)
    this.searchesPerSecond = searchesPerSecond
  }

  /** Whether a miss of `key` may ask the peers: not searched in vain lately, and within the search rate. */
  allows(key: string, cookieHint: string | undefined): boolean {
    if (this.misses.has(key, cookieHint)) {
      log('recover %s: searched in vain lately; a plain miss, no peer asked', recordLabel(key))
      return false
    }
    if (this.bucket.take()) return true
    log('recover %s: over %d searches a second; a plain miss, no peer asked', recordLabel(key), this.searchesPerSecond)
    return false
  }

  /** Notes that a search of `key` under `cookieHint` found nothing. */
  missed(key: string, cookieHint: string | undefined): void {
    this.misses.add(key, cookieHint)
  }

  /** Notes that `key` is here now (a peer handed it over): it may be searched again. */
  found(key: string): void {
    this.misses.delete(key)
  }
}
