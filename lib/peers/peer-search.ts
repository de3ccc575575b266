/**
 * The search of one missed record among the peers: the hinted peer first, the others when it
 * answers none, fails, or is silent for half the timeout, all of it bounded by the timeout.
 * @module
 */
import type { Peer } from './peer-link.js'

/**
 * Asks `peers` for one record with `ask` (which resolves whether that peer handed it over, and
 * never rejects): the peer whose hint is `cookieHint` first, then every other, at once when
 * there is no such peer. Resolves true as soon as one peer hands the record over, false when
 * all have answered without it or `timeout` ms have passed. Its timers never keep the process
 * alive (the request waiting for the search does).
 */
export function searchPeers(
  peers: readonly Peer[],
  cookieHint: string | undefined,
  timeout: number,
  ask: (peer: Peer) => Promise<boolean>,
): Promise<boolean> {
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
      void ask(peer).then((found) => {
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
    const deadline = setTimeout(() => finish(false), timeout).unref()
    const hedge = hinted === undefined ? undefined : setTimeout(askOthers, timeout / 2).unref()
    if (hinted === undefined) askOthers()
    else askOne(hinted)
  })
}
