import { optionError } from '../errors.js'
import { log, recordLabel } from '../log.js'
import { derivePeerKeys, nodeHint, type PeerKeys } from '../node-hint.js'
import type { StashRecovery } from '../recovery.js'
import type { MemoryTable } from './memory-table.js'
import { handOver, receive } from './memory-moves.js'
import { NonceCache, openReply, openRequest, sealReply, sealRequest } from './peer-protocol.js'
import { RecentMisses } from './recent-misses.js'
import { TokenBucket } from './token-bucket.js'

/** A reply that arrives this long after the timeout is still stored, so no record is lost in flight. */
export const REPLY_GRACE_MS = 5000

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

/** One node a link can ask for a record. */
export interface Peer {
  readonly hint: string
  /** Sends a sealed request; resolves the reply text, or `undefined` (no answer). Never rejects. */
  ask(request: string, giveUpAfter: number): Promise<string | undefined>
}

/** A transport between the nodes of a deployment: HTTP between hosts, or IPC between cluster workers. */
export interface PeerLink {
  /** This node's name; its hint is a MAC of it. */
  readonly name: string
  /** Starts serving: `answer` turns a request text into a reply text (`undefined`: refused). */
  start(keys: PeerKeys, hint: string, answer: (request: string) => string | undefined): void
  /** The other nodes known now. */
  peers(): readonly Peer[]
  /** Stops serving and asking: nothing of the link may keep the process alive afterwards. */
  close(): void
}

/** The memory adapter's {@link StashRecovery}, plus `close()`. */
export interface PeerRecovery extends StashRecovery {
  /** Closes the link; searches still running end with "not found", later ones find nothing. */
  close(): void
}

/**
 * Cross-node recovery over `link` for the records of `table`. A miss asks the hinted peer, and
 * the others when it answers none, fails, or is silent for half the timeout; the whole search
 * ends by `timeout` ms. Concurrent misses of one key on this node share one search.
 *
 * A miss asks no peer (it is a plain miss) when the record was searched in vain under the same
 * cookie hint in the last 30 s (`missTtl`; at most 10,000 records remembered), or when the node
 * has started more than 100 searches a second (`searchesPerSecond`, in bursts of up to 200,
 * `searchBurst`): a cookie whose record is gone cannot make a node ask its peers again and again.
 * A record stored here meanwhile (a late reply, a write) is always found: the table comes first.
 */
export function createPeerRecovery(table: MemoryTable, link: PeerLink, timeout: number, limits: SearchLimits = {}): PeerRecovery {
  const { missTtl, maxMisses, searchesPerSecond, searchBurst } = { ...DEFAULT_SEARCH_LIMITS, ...limits }
  let secrets: readonly string[] | undefined
  let keys: PeerKeys | undefined
  let hint: string | undefined
  const nonces = new NonceCache()
  const searches = new Map<string, Promise<boolean>>()
  const misses = new RecentMisses(missTtl, maxMisses)
  const bucket = new TokenBucket(searchesPerSecond, searchBurst)
  let closed = false

  const answer = (text: string): string | undefined => {
    if (closed) return undefined
    const request = openRequest(keys!, text, hint!, nonces)
    return request === undefined ? undefined : sealReply(keys!, request, handOver(table, request.key, Date.now()))
  }

  const ask = async (peer: Peer, key: string): Promise<boolean> => {
    const { text, nonce } = sealRequest(keys!, peer.hint, key)
    const reply = await peer.ask(text, timeout + REPLY_GRACE_MS)
    const moved = reply === undefined ? undefined : openReply(keys!, nonce, reply)
    if (moved === undefined || moved === null || closed) return false
    receive(table, key, moved, Date.now())
    misses.delete(key)
    return true
  }

  const search = (key: string, cookieHint: string | undefined): Promise<boolean> => {
    const peers = link.peers()
    const hinted = peers.find((peer) => peer.hint === cookieHint)
    const others = peers.filter((peer) => peer !== hinted)
    return new Promise<boolean>((resolve) => {
      let asking = 0
      let askedOthers = false
      const finish = (found: boolean) => {
        clearTimeout(deadline)
        clearTimeout(hedge)
        resolve(found)
      }
      const askOne = (peer: Peer) => {
        asking++
        void ask(peer, key).then((found) => {
          asking--
          if (found) return finish(true)
          if (peer === hinted) askOthers()
          if (asking === 0 && askedOthers) finish(false)
        })
      }
      const askOthers = () => {
        if (askedOthers) return
        askedOthers = true
        others.forEach(askOne)
        if (asking === 0) finish(false)
      }
      // The request waiting for this search keeps the process alive, never these timers.
      const deadline = setTimeout(() => finish(false), timeout).unref()
      const hedge = hinted === undefined ? undefined : setTimeout(askOthers, timeout / 2).unref()
      if (hinted === undefined) askOthers()
      else askOne(hinted)
    })
  }

  return {
    get hint() {
      return hint
    },
    attach(given) {
      if (secrets !== undefined) {
        if (given.length !== secrets.length || given.some((secret, i) => secret !== secrets![i])) {
          throw optionError('secret', 'the same for every stash sharing a memoryAdapter with peers')
        }
        return
      }
      secrets = [...given]
      keys = derivePeerKeys(secrets)
      hint = nodeHint(keys, link.name)
      link.start(keys, hint, answer)
    },
    recover(key, cookieHint) {
      if (keys === undefined || closed) return Promise.resolve(false)
      const running = searches.get(key)
      if (running !== undefined) return running
      if (table.get(key, Date.now()) !== undefined) return Promise.resolve(true) // arrived since the load missed
      if (misses.has(key, cookieHint)) {
        log('recover %s: searched in vain lately; a plain miss, no peer asked', recordLabel(key))
        return Promise.resolve(false)
      }
      if (!bucket.take()) {
        log('recover %s: over %d searches a second; a plain miss, no peer asked', recordLabel(key), searchesPerSecond)
        return Promise.resolve(false)
      }
      const started = search(key, cookieHint)
        .then((found) => {
          if (!found) misses.add(key, cookieHint)
          return found
        })
        .finally(() => searches.delete(key))
      searches.set(key, started)
      return started
    },
    close() {
      closed = true
      link.close()
    },
  }
}
