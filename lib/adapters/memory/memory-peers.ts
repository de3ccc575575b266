/**
 * The table side of cross-node recovery: a miss of the memory adapter asks the other nodes
 * (over a {@link PeerLink}) to hand the record over, and this node answers theirs from its
 * table. The transports, the sealing of requests and replies, and the search order live in
 * peers/.
 * @module
 */
import { optionError } from '../../errors.js'
import { derivePeerKeys, nodeHint, type PeerKeys } from '../../peers/node-hint.js'
import { NonceCache } from '../../peers/nonce-cache.js'
import type { Peer, PeerLink } from '../../peers/peer-link.js'
import { openReply, openRequest, sealReply, sealRequest } from '../../peers/peer-protocol.js'
import { searchPeers } from '../../peers/peer-search.js'
import { SearchGate, type SearchLimits } from '../../peers/search-gate.js'
import type { StashRecovery } from '../../store/recovery.js'
import { handOver, receive } from './memory-moves.js'
import type { MemoryTable } from './memory-table.js'

/** A reply that arrives this long after the timeout is still stored, so no record is lost in flight. */
export const REPLY_GRACE_MS = 5000

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
  let secrets: readonly string[] | undefined
  let keys: PeerKeys | undefined
  let hint: string | undefined
  const nonces = new NonceCache()
  const searches = new Map<string, Promise<boolean>>()
  const gate = new SearchGate(limits)
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
    gate.found(key)
    return true
  }
  const search = (key: string, cookieHint: string | undefined): Promise<boolean> => {
    const started = searchPeers(link.peers(), cookieHint, timeout, (peer) => ask(peer, key))
      .then((found) => {
        if (!found) gate.missed(key, cookieHint)
        return found
      })
      .finally(() => searches.delete(key))
    searches.set(key, started)
    return started
  }

  return {
    get hint() {
      return hint
    },
    attach(given) {
      if (secrets !== undefined) return assertSameSecrets(secrets, given)
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
      return gate.allows(key, cookieHint) ? search(key, cookieHint) : Promise.resolve(false)
    },
    close() {
      closed = true
      link.close()
    },
  }
}

/** A second stash attaching to one recovery must use the same secrets, in the same order. */
function assertSameSecrets(secrets: readonly string[], given: readonly string[]): void {
  if (given.length !== secrets.length || given.some((secret, i) => secret !== secrets[i])) {
    throw optionError('secret', 'the same for every stash sharing a memoryAdapter with peers')
  }
}
