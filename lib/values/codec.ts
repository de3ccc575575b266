/**
 * The codec of stored values: MAC'd (or encrypted) JSON, authenticated on the way back.
 * @module
 */
import { createCipheriv, createDecipheriv, createHmac, hkdfSync, randomBytes, timingSafeEqual } from 'node:crypto'
import { VerifiedValues } from './verified-values.js'

/** Base64url characters of a value MAC: HMAC-SHA256 truncated to 128 bits. */
const MAC_CHARS = 22
const MAC_BYTES = 16
/** First character of an encrypted value (never a base64url character, so never a MAC's). */
const ENCRYPTED = '!'
/** First character of a value stored without a MAC by an in-process adapter (neither base64url nor `!`). */
const PLAIN = '='
const IV_BYTES = 12
const TAG_BYTES = 16
// Keys that could reach an object's prototype when restored data is merged somewhere.
const POLLUTING_KEYS = new Set(['__proto__', 'constructor', 'prototype'])
// A cheap pre-check; `\u` catches keys spelled with escapes ("\u005f_proto__").
const MAYBE_POLLUTING = /__proto__|constructor|prototype|\\u/

/** Result of decoding one stored field. */
export type Decoded =
  | { readonly kind: 'value'; readonly json: string; readonly value: unknown }
  | { readonly kind: 'corrupt'; readonly reason: string }
  | { readonly kind: 'other-version' }

/**
 * Encodes values for the store and authenticates them on the way back.
 *
 * A stored field is `<mac><version tag>.<json>`: the MAC (HMAC-SHA256/128 with a key derived
 * from the secret) covers the record key, the field name, the version tag and the JSON, so a
 * value cannot be forged, altered, or moved to another record or key without detection.
 *
 * With encryption, a field is `!<version tag>.<base64url(iv, ciphertext, GCM tag)>`: AES-256-GCM
 * with another derived key, the record key, field name and version tag as associated data.
 * Both forms are always readable, so encryption can be turned on (or off) on a live store.
 *
 * For an adapter whose records never leave this process's memory except sealed by the peer
 * protocol (`StashAdapter.inProcess`, the memory adapter), a field is `=<version tag>.<json>`:
 * nothing outside the process can alter it, so a MAC would only cost an HMAC per write. That
 * form is read only with `authenticate: false`; a store that needs the MAC rejects it as corrupt.
 * Short MAC'd values the codec wrote or authenticated lately are remembered exactly
 * ({@link VerifiedValues}), so reading them again costs no HMAC.
 */
export interface Codec {
  /** The stored form of `json` under `field` of record `record`. */
  encode(record: string, field: string, json: string): string
  /** Authenticates and parses a stored field. Never throws. */
  decode(record: string, field: string, stored: string): Decoded
}

/** How a codec stores values. */
export interface CodecOptions {
  /** Encrypt values (AES-256-GCM). @default false */
  readonly encrypt?: boolean
  /** MAC every value; `false` only for an in-process adapter (plain values, still readable MAC'd). @default true */
  readonly authenticate?: boolean
}

/**
 * Creates the codec for a list of secrets (the first signs, all verify) and an optional
 * version (stored values written under another version decode as `other-version`).
 */
export function createCodec(
  secrets: readonly string[],
  version: string | undefined,
  { encrypt = false, authenticate = true }: CodecOptions = {},
): Codec {
  const derive = (info: string) => secrets.map((secret) => Buffer.from(hkdfSync('sha256', secret, '', info, 32)))
  const keys = derive('express-stash value mac')
  const cipherKeys = derive('express-stash value encryption')
  const tag = version === undefined ? '' : Buffer.from(version).toString('base64url')
  const signingKey = keys[0]!
  const verified = new VerifiedValues()

  const mac = (key: Buffer, record: string, field: string, versionTag: string, json: string): Buffer =>
    // One update() of the joined text: the same MAC as one call per part, at a fraction of the calls into C++.
    createHmac('sha256', key).update(`${record}\n${field}\n${versionTag}\n${json}`).digest()

  return {
    encode(record, field, json) {
      if (!encrypt && !authenticate) return PLAIN + tag + '.' + json
      if (!encrypt) {
        const signature = mac(signingKey, record, field, tag, json).toString('base64url', 0, MAC_BYTES)
        const stored = signature + tag + '.' + json
        verified.remember(record, field, signature, stored, stored.length - json.length)
        return stored
      }
      return encryptValue(cipherKeys[0]!, tag, record, field, json)
    },
    decode(record, field, stored) {
      if (stored.startsWith(ENCRYPTED)) return decryptValue(cipherKeys, tag, record, field, stored)
      if (stored.startsWith(PLAIN))
        return authenticate ? { kind: 'corrupt', reason: 'a value without a MAC' } : plainValue(tag, stored)
      const signature = stored.slice(0, MAC_CHARS)
      const known = verified.get(record, field, signature, stored)
      if (known !== undefined) return parsed(known)
      const dot = stored.indexOf('.', MAC_CHARS)
      const given = Buffer.from(signature, 'base64url')
      if (dot < 0 || given.length !== MAC_BYTES) return { kind: 'corrupt', reason: 'not an express-stash value' }
      const versionTag = stored.slice(MAC_CHARS, dot)
      const json = stored.slice(dot + 1)
      // Constant-time compare against every secret (rotation).
      const authentic = keys.some((key) =>
        timingSafeEqual(given, mac(key, record, field, versionTag, json).subarray(0, MAC_BYTES)),
      )
      if (!authentic) return { kind: 'corrupt', reason: 'authentication failed' }
      if (versionTag !== tag) return { kind: 'other-version' }
      verified.remember(record, field, signature, stored, dot + 1)
      return parsed(json)
    },
  }
}

/** Decodes a value stored without a MAC (`=<version tag>.<json>`). */
function plainValue(tag: string, stored: string): Decoded {
  const dot = stored.indexOf('.')
  if (dot < 0) return { kind: 'corrupt', reason: 'not an express-stash value' }
  return stored.slice(PLAIN.length, dot) === tag ? parsed(stored.slice(dot + 1)) : { kind: 'other-version' }
}

/** Decodes an encrypted stored field with whichever of `cipherKeys` opens it. */
function decryptValue(cipherKeys: readonly Buffer[], tag: string, record: string, field: string, stored: string): Decoded {
  const dot = stored.indexOf('.')
  const versionTag = stored.slice(ENCRYPTED.length, dot)
  const sealed = Buffer.from(stored.slice(dot + 1), 'base64url')
  if (dot < 0 || sealed.length < IV_BYTES + TAG_BYTES) return { kind: 'corrupt', reason: 'not an express-stash value' }
  for (const key of cipherKeys) {
    try {
      const decipher = createDecipheriv('aes-256-gcm', key, sealed.subarray(0, IV_BYTES))
        .setAAD(aad(record, field, versionTag))
        .setAuthTag(sealed.subarray(sealed.length - TAG_BYTES))
      const json = Buffer.concat([
        decipher.update(sealed.subarray(IV_BYTES, sealed.length - TAG_BYTES)),
        decipher.final(),
      ]).toString('utf8')
      return versionTag === tag ? parsed(json) : { kind: 'other-version' }
    } catch {
      // Not this secret's key (or tampered): try the next one.
    }
  }
  return { kind: 'corrupt', reason: 'authentication failed' }
}

/** The encrypted stored form of `json`: AES-256-GCM, the record key, field name and version tag as associated data. */
function encryptValue(cipherKey: Buffer, tag: string, record: string, field: string, json: string): string {
  const iv = randomBytes(IV_BYTES)
  const cipher = createCipheriv('aes-256-gcm', cipherKey, iv).setAAD(aad(record, field, tag))
  const sealed = Buffer.concat([iv, cipher.update(json, 'utf8'), cipher.final(), cipher.getAuthTag()])
  return ENCRYPTED + tag + '.' + sealed.toString('base64url')
}

/** The associated data of an encrypted field. */
function aad(record: string, field: string, versionTag: string): Buffer {
  return Buffer.from(`${record}\n${field}\n${versionTag}`)
}

function parsed(json: string): Decoded {
  try {
    return { kind: 'value', json, value: parseJson(json) }
  } catch (err) {
    return { kind: 'corrupt', reason: `invalid JSON (${(err as Error).message})` }
  }
}

/** `JSON.parse` that drops `__proto__`, `constructor` and `prototype` keys at any depth. */
export function parseJson(json: string): unknown {
  if (!MAYBE_POLLUTING.test(json)) return JSON.parse(json)
  return JSON.parse(json, (key, value: unknown) => (POLLUTING_KEYS.has(key) ? undefined : value))
}
