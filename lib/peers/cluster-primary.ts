/**
 * The primary's side of the cluster transport: `clusterPrimary()`, the relay of sealed recovery
 * messages between the workers of `node:cluster` (exported from the package index).
 * @module
 */
import cluster, { type Worker } from 'node:cluster'
import { isClusterMessage, MESSAGE_TAG, type ClusterMessage } from './peer-cluster.js'
import { optionError } from '../errors.js'

/** What {@link clusterPrimary} returns. */
export interface ClusterPrimary {
  /**
   * Stops relaying (the workers' recoveries then find no peers) and removes its listeners from
   * `cluster`. The relay holds no timer or handle: it never keeps the primary alive, so once the
   * workers have exited the primary can exit by itself (call `close()` then, e.g. on the last
   * `'exit'` of a shutdown).
   */
  close(): void
}

/**
 * Relays cross-node recovery between the workers of `node:cluster`, for workers whose stash uses
 * `memoryAdapter({ peers: 'cluster' })`. Call it once in the primary, before or after forking.
 * The primary only forwards sealed messages: requests are authenticated and records encrypted
 * by the workers, with keys derived from the stash secret, which the primary never needs.
 *
 * @example
 * if (cluster.isPrimary) {
 *   const relay = clusterPrimary()
 *   for (let i = 0; i < 4; i++) cluster.fork()
 *   cluster.on('exit', () => Object.keys(cluster.workers ?? {}).length === 0 && relay.close())
 * } else {
 *   createStash({ secret, adapter: memoryAdapter({ peers: 'cluster' }) })
 * }
 */
export function clusterPrimary(): ClusterPrimary {
  if (!cluster.isPrimary) throw optionError('clusterPrimary()', 'called in the primary process of node:cluster')
  const hints = new Map<number, string>()
  const send = (worker: Worker | undefined, message: ClusterMessage): boolean => {
    if (worker === undefined || !worker.isConnected()) return false
    worker.send(message, () => {}) // a worker that died meanwhile: its requester times out
    return true
  }
  const announce = () => {
    const peers = [...hints].map(([worker, hint]) => ({ worker, hint }))
    for (const worker of Object.values(cluster.workers ?? {})) send(worker, { tag: MESSAGE_TAG, type: 'peers', peers })
  }

  const onMessage = (worker: Worker, message: unknown) => {
    if (!isClusterMessage(message)) return
    if (message.type === 'hello' && typeof message.hint === 'string') {
      hints.set(worker.id, message.hint)
      announce()
    } else if (message.type === 'relay' && typeof message.to === 'number' && typeof message.body === 'string') {
      const request: ClusterMessage = { tag: MESSAGE_TAG, type: 'request', from: worker.id, id: message.id, body: message.body }
      // An unknown or dead target answers "nothing" at once instead of costing the timeout.
      if (!send(cluster.workers?.[message.to], request)) send(worker, { tag: MESSAGE_TAG, type: 'reply', id: message.id })
    } else if (message.type === 'reply' && typeof message.to === 'number') {
      const { to: _to, ...reply } = message
      send(cluster.workers?.[message.to], reply)
    }
  }
  const onExit = (worker: Worker) => {
    if (hints.delete(worker.id)) announce()
  }

  cluster.on('message', onMessage)
  cluster.on('exit', onExit)
  return {
    close() {
      cluster.off('message', onMessage)
      cluster.off('exit', onExit)
      hints.clear()
    },
  }
}
