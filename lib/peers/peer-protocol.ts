/**
 * The wire protocol of cross-node recovery: move requests authenticated with an HMAC (bound to
 * the recipient, a timestamp and a nonce) and replies encrypted with AES-256-GCM.
 * @module
 */
import { createCipheriv, createDecipheriv, createHmac, randomBytes, timingSafeEqual } from 'node:crypto'
import type { NonceCache } from './nonce-cache.js'
import type { PeerKeys } from './node-hint.js'

/**
 * A record in transit between nodes: its fields and, relative to the moment it left (the nodes'
 * clocks differ), the milliseconds each field has left to live and the record's age.
 */
export interface MovedRecord {
  /** The record's fields and values. */
  readonly fields: Readonly<Record<string, string>>
  /** Milliseconds the record has left to live (its longest-lived field's): all an older version sends and reads. */
  readonly ttlMs: number
  /** Milliseconds each field has left to live, one per field (from an older version: `ttlMs` for each). */
  readonly fieldTtlMs: Readonly<Record<string, number>>
  /** Milliseconds since the record was created (from an older version: 0, the receiver's now). */
  readonly ageMs: number
}

/** How far a request's timestamp may be from the receiver's clock (skew between hosts included). */
export const REPLAY_WINDOW_MS = 30_000
/** Longest request text accepted; a genuine one is about 200 characters. */
export const MAX_REQUEST_CHARS = 2048
const MAC_BYTES = 32
const IV_BYTES = 12
const TAG_BYTES = 16
const REQUEST_LABEL = 'express-stash move request\n'
const REPLY_LABEL = 'express-stash move reply\n'

/** A move request that passed authentication. */
export interface OpenedRequest {
  /** The record key asked for. */
  readonly key: string
  /** The request's nonce: the reply is bound to it. */
  readonly nonce: string
  /** Which secret authenticated it: the reply is encrypted with the same one. */
  readonly keyIndex: number
}

/**
 * Seals "move record `key` to me" for the peer whose hint is `to`: JSON with a timestamp and a
 * random nonce, then an HMAC-SHA256 with the peer auth key. Binding the recipient's hint means
 * a request captured on its way to one node is refused by every other.
 */
export function sealRequest(keys: PeerKeys, to: string, key: string): { text: string; nonce: string } {
  const nonce = randomBytes(16).toString('base64url')
  const payload = Buffer.from(JSON.stringify({ to, key, ts: Date.now(), nonce })).toString('base64url')
  return { text: `${payload}.${requestMac(keys.auth[0]!, payload).toString('base64url')}`, nonce }
}

/**
 * Authenticates a move request addressed to `self`: MAC against every secret (constant time),
 * recipient, timestamp within the replay window, and a nonce never seen before. `undefined`
 * for anything else, before the store is looked at.
 */
export function openRequest(keys: PeerKeys, text: string, self: string, nonces: NonceCache): OpenedRequest | undefined {
  if (text.length > MAX_REQUEST_CHARS) return undefined
  const dot = text.indexOf('.')
  const payload = text.slice(0, dot)
  const given = Buffer.from(text.slice(dot + 1), 'base64url')
  if (dot < 0 || given.length !== MAC_BYTES) return undefined
  const keyIndex = keys.auth.findIndex((key) => timingSafeEqual(given, requestMac(key, payload)))
  if (keyIndex < 0) return undefined
  let request: { to?: unknown; key?: unknown; ts?: unknown; nonce?: unknown }
  try {
    request = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as typeof request
  } catch {
    return undefined
  }
  const { to, key, ts, nonce } = request
  if (to !== self || typeof key !== 'string' || typeof nonce !== 'string' || typeof ts !== 'number') return undefined
  const now = Date.now()
  // A request is accepted while this clock is within the window of its timestamp, which may be
  // ahead of this clock (skew): its nonce is kept until the last moment it could be accepted, so
  // a replay is refused by the nonce wherever the timestamp alone would let it through. Future
  // timestamps keep the full window, since legitimate hosts' clocks may differ by that much.
  const until = Math.max(ts, now) + REPLAY_WINDOW_MS
  if (!(Math.abs(now - ts) <= REPLAY_WINDOW_MS) || !nonces.claim(nonce, until, now)) return undefined
  return { key, nonce, keyIndex }
}

/** Encrypts the answer to a request (the moved record, or none) with AES-256-GCM, bound to its nonce. */
export function sealReply(keys: PeerKeys, request: OpenedRequest, moved: MovedRecord | undefined): string {
  const iv = randomBytes(IV_BYTES)
  const cipher = createCipheriv('aes-256-gcm', keys.encryption[request.keyIndex]!, iv).setAAD(
    Buffer.from(REPLY_LABEL + request.nonce),
  )
  const plain = JSON.stringify(moved === undefined ? { found: false } : { found: true, ...moved })
  return Buffer.concat([iv, cipher.update(plain, 'utf8'), cipher.final(), cipher.getAuthTag()]).toString('base64url')
}

/**
 * Decrypts the reply to the request with `nonce`: the moved record, `null` when the peer does
 * not hold it, `undefined` when the reply is not authentic.
 */
export function openReply(keys: PeerKeys, nonce: string, text: string): MovedRecord | null | undefined {
  const sealed = Buffer.from(text, 'base64url')
  if (sealed.length < IV_BYTES + TAG_BYTES) return undefined
  for (const key of keys.encryption) {
    let plain: string
    try {
      const decipher = createDecipheriv('aes-256-gcm', key, sealed.subarray(0, IV_BYTES))
        .setAAD(Buffer.from(REPLY_LABEL + nonce))
        .setAuthTag(sealed.subarray(sealed.length - TAG_BYTES))
      plain = Buffer.concat([decipher.update(sealed.subarray(IV_BYTES, sealed.length - TAG_BYTES)), decipher.final()]).toString()
    } catch {
      continue // another secret's key, or tampered
    }
    return movedRecordOf(JSON.parse(plain) as unknown)
  }
  return undefined
}

function requestMac(key: Buffer, payload: string): Buffer {
  return createHmac('sha256', key).update(REQUEST_LABEL).update(payload).digest()
}

/**
 * The moved record of a decrypted reply, `null` for "not here", `undefined` when malformed. A
 * reply of an older version (no `fieldTtlMs`, no `ageMs`) gives every field `ttlMs` and age 0.
 */
function movedRecordOf(reply: unknown): MovedRecord | null | undefined {
  if (typeof reply !== 'object' || reply === null) return undefined
  const { found, fields, ttlMs, fieldTtlMs, ageMs = 0 } = reply as Record<string, unknown>
  if (found === false) return null
  if (!isMs(ttlMs) || ttlMs === 0 || !isMs(ageMs) || typeof fields !== 'object' || fields === null) return undefined
  const entries = Object.entries(fields)
  const ttls = (fieldTtlMs === undefined ? Object.fromEntries(entries.map(([field]) => [field, ttlMs])) : fieldTtlMs) as Record<
    string,
    unknown
  >
  if (typeof ttls !== 'object' || ttls === null || Object.keys(ttls).length !== entries.length) return undefined
  const valid = ([field, value]: [string, unknown]) =>
    typeof value === 'string' && Object.hasOwn(ttls, field) && isMs(ttls[field]) && ttls[field] > 0
  if (!entries.every(valid)) return undefined
  return { fields: Object.fromEntries(entries), ttlMs, fieldTtlMs: { ...ttls } as Record<string, number>, ageMs }
}

/** Whether `value` is a finite, non-negative number of milliseconds. */
function isMs(value: unknown): value is number {
  return typeof value === 'number' && Number.isFinite(value) && value >= 0
}
