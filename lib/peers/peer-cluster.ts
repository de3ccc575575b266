/**
 * The cluster transport of cross-node recovery: a {@link PeerLink} between the workers of
 * `node:cluster`, over their IPC channels, relayed by the primary (see cluster-primary.ts), and
 * the message format they share.
 * @module
 */
import cluster from 'node:cluster'
import { randomBytes } from 'node:crypto'
import { optionError } from '../errors.js'
import type { Peer, PeerLink } from './peer-link.js'

/** Marks the IPC messages of express-stash, so the application's own messages pass untouched. */
export const MESSAGE_TAG = 'express-stash:peers'

/** Messages between workers and the primary; `body` is a sealed request or reply, opaque to the primary. */
export type ClusterMessage =
  | { readonly tag: typeof MESSAGE_TAG; readonly type: 'hello'; readonly hint: string }
  | { readonly tag: typeof MESSAGE_TAG; readonly type: 'peers'; readonly peers: readonly { worker: number; hint: string }[] }
  | { readonly tag: typeof MESSAGE_TAG; readonly type: 'relay'; readonly to: number; readonly id: number; readonly body: string }
  | {
      readonly tag: typeof MESSAGE_TAG
      readonly type: 'request'
      readonly from: number
      readonly id: number
      readonly body: string
    }
  | {
      readonly tag: typeof MESSAGE_TAG
      readonly type: 'reply'
      readonly to?: number
      readonly id: number
      readonly body?: string
    }

/** Whether an IPC message is one of ours. */
export function isClusterMessage(message: unknown): message is ClusterMessage {
  return typeof message === 'object' && message !== null && (message as { tag?: unknown }).tag === MESSAGE_TAG
}

/** Whether the primary's list of workers has the shape it is sent in. */
function isPeerList(value: unknown): value is readonly { worker: number; hint: string }[] {
  return (
    Array.isArray(value) &&
    value.every(
      (peer: { worker?: unknown; hint?: unknown } | null) => typeof peer?.worker === 'number' && typeof peer.hint === 'string',
    )
  )
}

/** Sends `message` to the primary; `failed` runs when it cannot be sent (the channel closed). */
function send(message: ClusterMessage, failed?: () => void): void {
  process.send!(message, undefined, undefined, (err: Error | null) => {
    if (err !== null) failed?.()
  })
}

/**
 * The link between workers of `node:cluster`: requests travel worker → primary → worker over
 * the IPC channels, relayed by {@link clusterPrimary} in the primary. Each worker announces its
 * hint; the primary tells every worker who the others are. `close()` leaves nothing behind that
 * keeps the worker alive: its `'message'` listener (which holds the IPC channel open) is removed,
 * waiting asks are answered "nothing" with their timers cleared, and later asks answer at once.
 */
export function clusterLink(): PeerLink {
  const worker = cluster.worker
  if (!cluster.isWorker || worker === undefined || process.send === undefined) {
    throw optionError('memoryAdapter.peers', '"cluster" only in a worker of node:cluster (call clusterPrimary() in the primary)')
  }
  let answer: ((request: string) => string | undefined) | undefined
  let peers: readonly Peer[] = []
  let nextId = 0
  let closed = false
  const pending = new Map<number, (reply: string | undefined) => void>()

  const ask = (to: number, body: string, giveUpAfter: number) =>
    new Promise<string | undefined>((resolve) => {
      if (closed) return resolve(undefined)
      const id = nextId++
      const done = (reply: string | undefined) => {
        clearTimeout(timer)
        pending.delete(id)
        resolve(reply)
      }
      // A late reply is worth waiting for only while something else keeps the worker running.
      const timer = setTimeout(() => done(undefined), giveUpAfter).unref()
      pending.set(id, done)
      send({ tag: MESSAGE_TAG, type: 'relay', to, id, body }, () => done(undefined))
    })

  const onMessage = (message: unknown) => {
    if (!isClusterMessage(message)) return
    if (message.type === 'peers' && isPeerList(message.peers)) {
      peers = message.peers
        .filter((peer) => peer.worker !== worker.id)
        .map((peer) => ({ hint: peer.hint, ask: (body, giveUpAfter) => ask(peer.worker, body, giveUpAfter) }))
    } else if (message.type === 'reply') {
      pending.get(message.id)?.(typeof message.body === 'string' ? message.body : undefined)
    } else if (message.type === 'request' && typeof message.body === 'string') {
      const body = answer?.(message.body)
      send({ tag: MESSAGE_TAG, type: 'reply', to: message.from, id: message.id, ...(body === undefined ? {} : { body }) })
    }
  }

  return {
    name: `cluster worker ${randomBytes(16).toString('base64url')}`,
    start(_keys, hint, answerRequest) {
      if (closed) return
      answer = answerRequest
      process.on('message', onMessage)
      send({ tag: MESSAGE_TAG, type: 'hello', hint })
    },
    peers: () => peers,
    close() {
      closed = true
      answer = undefined
      peers = []
      process.off('message', onMessage)
      for (const done of pending.values()) done(undefined)
    },
  }
}
