/**
 * The keys of cross-node recovery, derived from the stash secrets, and the node hint: the
 * opaque address of a node that cookies carry.
 * @module
 */
import { createHmac, hkdfSync } from 'node:crypto'

/** Bytes of a node hint: HMAC-SHA256 truncated to 96 bits (16 base64url characters). */
const HINT_BYTES = 12

/**
 * Keys of cross-node recovery, each derived from the stash secrets with HKDF under its own
 * label (as the value codec derives its keys), so no secret is used twice for two purposes.
 * Arrays follow the secrets: the first signs, all verify.
 */
export interface PeerKeys {
  /** Makes node hints (current secret only: a hint is an address, not a credential). */
  readonly hint: Buffer
  /** Authenticate move requests between peers. */
  readonly auth: readonly Buffer[]
  /** Encrypt records in transit (AES-256-GCM). */
  readonly encryption: readonly Buffer[]
}

/** Derives the {@link PeerKeys} of a list of secrets. */
export function derivePeerKeys(secrets: readonly string[]): PeerKeys {
  const derive = (info: string) => secrets.map((secret) => Buffer.from(hkdfSync('sha256', secret, '', info, 32)))
  return {
    hint: derive('express-stash node hint')[0]!,
    auth: derive('express-stash peer auth'),
    encryption: derive('express-stash peer encryption'),
  }
}

/**
 * The opaque hint of a node, carried in the cookie: a truncated HMAC of the node's name (a peer
 * URL, or a random name of a cluster worker). It reveals no host, address or process, and only
 * a holder of the secret can tell which node it names, by computing the hints of known peers.
 */
export function nodeHint(keys: PeerKeys, name: string): string {
  return createHmac('sha256', keys.hint).update(name).digest().toString('base64url', 0, HINT_BYTES)
}
