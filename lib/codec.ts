import { createHmac, hkdfSync, timingSafeEqual } from 'node:crypto'

/** Base64url characters of a value MAC: HMAC-SHA256 truncated to 128 bits. */
const MAC_CHARS = 22
const MAC_BYTES = 16
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
 */
export interface Codec {
  /** The stored form of `json` under `field` of record `record`. */
  encode(record: string, field: string, json: string): string
  /** Authenticates and parses a stored field. Never throws. */
  decode(record: string, field: string, stored: string): Decoded
}

/**
 * Creates the codec for a list of secrets (the first signs, all verify) and an optional
 * version (stored values written under another version decode as `other-version`).
 */
export function createCodec(secrets: readonly string[], version: string | undefined): Codec {
  const keys = secrets.map((secret) => Buffer.from(hkdfSync('sha256', secret, '', 'express-stash value mac', 32)))
  const tag = version === undefined ? '' : Buffer.from(version).toString('base64url')
  const signingKey = keys[0]!

  const mac = (key: Buffer, record: string, field: string, versionTag: string, json: string): Buffer =>
    createHmac('sha256', key)
      .update(record)
      .update('\n')
      .update(field)
      .update('\n')
      .update(versionTag)
      .update('\n')
      .update(json)
      .digest()

  return {
    encode(record, field, json) {
      return mac(signingKey, record, field, tag, json).toString('base64url', 0, MAC_BYTES) + tag + '.' + json
    },
    decode(record, field, stored) {
      const dot = stored.indexOf('.', MAC_CHARS)
      const given = Buffer.from(stored.slice(0, MAC_CHARS), 'base64url')
      if (dot < 0 || given.length !== MAC_BYTES) return { kind: 'corrupt', reason: 'not an express-stash value' }
      const versionTag = stored.slice(MAC_CHARS, dot)
      const json = stored.slice(dot + 1)
      // Constant-time compare against every secret (rotation).
      const authentic = keys.some((key) =>
        timingSafeEqual(given, mac(key, record, field, versionTag, json).subarray(0, MAC_BYTES)),
      )
      if (!authentic) return { kind: 'corrupt', reason: 'authentication failed' }
      if (versionTag !== tag) return { kind: 'other-version' }
      try {
        return { kind: 'value', json, value: parseJson(json) }
      } catch (err) {
        return { kind: 'corrupt', reason: `invalid JSON (${(err as Error).message})` }
      }
    },
  }
}

/** `JSON.parse` that drops `__proto__`, `constructor` and `prototype` keys at any depth. */
export function parseJson(json: string): unknown {
  if (!MAYBE_POLLUTING.test(json)) return JSON.parse(json)
  return JSON.parse(json, (key, value: unknown) => (POLLUTING_KEYS.has(key) ? undefined : value))
}
