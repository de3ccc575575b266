import { optionError } from '../errors.js'
import { derivePeerKeys, nodeHint, type PeerKeys } from '../node-hint.js'
import type { StashRecovery } from '../recovery.js'
import type { MemoryTable } from './memory.js'
import { handOver, receive } from './memory-moves.js'
import { NonceCache, openReply, openRequest, sealReply, sealRequest } from './peer-protocol.js'

/** A reply that arrives this long after the timeout is still stored, so no record is lost in flight. */
export const REPLY_GRACE_MS = 5000

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
 */
export function createPeerRecovery(table: MemoryTable, link: PeerLink, timeout: number): PeerRecovery {
  let secrets: readonly string[] | undefined
  let keys: PeerKeys | undefined
  let hint: string | undefined
  const nonces = new NonceCache()
  const searches = new Map<string, Promise<boolean>>()
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
      let running = searches.get(key)
      if (running === undefined) {
        running = search(key, cookieHint).finally(() => searches.delete(key))
        searches.set(key, running)
      }
      return running
    },
    close() {
      closed = true
      link.close()
    },
  }
}
