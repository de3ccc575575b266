/**
 * The memory adapter's `peers` and `peerTimeout` options, validated and resolved into the
 * {@link PeerLink} they name: the cluster link, or the HTTP link with its endpoint.
 * @module
 */
import { describe, optionError } from '../errors.js'
import type { PeerLink } from './peer-link.js'
import { clusterLink } from './peer-cluster.js'
import { httpLink, type PeerHandler } from './peer-http.js'

/** HTTP peers: this node's endpoint URL and every node's (the same list can be given to each). */
export interface HttpPeers {
  /** The URL of this node's peer endpoint (where `adapter.peerHandler` is served), as the others reach it. */
  self: string
  /** The peer endpoint URL of every node of the deployment; `self` may be among them. */
  urls: readonly string[]
}

/** Where the other nodes are: `'cluster'` for workers of `node:cluster`, or HTTP endpoints. */
export type MemoryPeers = 'cluster' | HttpPeers

/** Default of `memoryAdapter({ peerTimeout })`, in milliseconds. */
export const DEFAULT_PEER_TIMEOUT = 500

/** The link a `peers` option names, validated; `undefined` without `peers`. */
export function resolvePeers(
  peers: unknown,
  peerTimeout: unknown,
): { link: PeerLink; handler: PeerHandler | undefined; timeout: number } | undefined {
  if (peers === undefined) {
    if (peerTimeout !== undefined) throw optionError('memoryAdapter.peerTimeout', 'given with `peers`', peerTimeout)
    return undefined
  }
  if (peerTimeout !== undefined && (typeof peerTimeout !== 'number' || !Number.isSafeInteger(peerTimeout) || peerTimeout <= 0)) {
    throw optionError('memoryAdapter.peerTimeout', 'a positive integer (milliseconds)', peerTimeout)
  }
  const timeout = peerTimeout ?? DEFAULT_PEER_TIMEOUT
  if (peers === 'cluster') return { link: clusterLink(), handler: undefined, timeout }
  if (typeof peers !== 'object' || peers === null || Array.isArray(peers)) {
    throw optionError('memoryAdapter.peers', '"cluster" or { self, urls }', peers)
  }
  for (const key of Object.keys(peers)) {
    if (key !== 'self' && key !== 'urls') throw new TypeError(`express-stash: unknown option \`memoryAdapter.peers.${key}\``)
  }
  const { self, urls } = peers as { self?: unknown; urls?: unknown }
  const own = endpointUrl('memoryAdapter.peers.self', self)
  if (!Array.isArray(urls)) throw optionError('memoryAdapter.peers.urls', 'an array of http(s) URLs', urls)
  const others = [...new Set(urls.map((url) => endpointUrl('memoryAdapter.peers.urls', url)))].filter((url) => url !== own)
  const link = httpLink(own, others)
  return { link, handler: link.handler, timeout }
}

/** A normalized http(s) URL, so every node computes the same hint for it. */
function endpointUrl(option: string, value: unknown): string {
  let url: URL | undefined
  try {
    url = typeof value === 'string' ? new URL(value) : undefined
  } catch {
    url = undefined
  }
  if (url === undefined || (url.protocol !== 'http:' && url.protocol !== 'https:') || url.username || url.password) {
    throw optionError(option, 'an http:// or https:// URL without credentials', value)
  }
  if (url.hash || url.search) throw optionError(option, `a URL without query or fragment, got ${describe(value)}`)
  return url.href
}
