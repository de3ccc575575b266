/**
 * The transport contract of cross-node recovery: a {@link PeerLink} (HTTP between hosts, IPC
 * between cluster workers) and the {@link Peer}s it can ask. The memory adapter's recovery
 * (adapters/memory/memory-peers.ts) works over any link; peer-http.ts and peer-cluster.ts
 * implement it.
 * @module
 */
import type { PeerKeys } from './node-hint.js'

/** One node a link can ask for a record. */
export interface Peer {
  /** The node's hint (see `nodeHint`), as carried in the cookies of the records it wrote. */
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
