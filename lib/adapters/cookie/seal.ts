/**
 * The seal of the cookie adapter: a record encrypted and authenticated with AES-256-GCM under a
 * key derived from the stash's secret, bound to its record key, as one cookie value.
 * @module
 */
import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from 'node:crypto'
import type { CookieRecord } from './cookie-record.js'
import { recordFromBytes, recordToBytes } from './record-bytes.js'

/** Starts every sealed value: the format, so that another one can follow it. */
const FORMAT = '1.'
const IV_BYTES = 12
const TAG_BYTES = 16
/** The HKDF `info` of the seal key: no other key of express-stash (ID signatures, value MACs, encryption, peers) is derived with it. */
const KEY_INFO = 'express-stash cookie adapter seal'
/** Shape of a sealed value; anything else is not even tried. */
const SEALED = /^1\.[A-Za-z0-9_-]{38,}$/

/** The seal keys of each list of secrets, derived once per list (a stash instance keeps its list). */
const derived = new WeakMap<readonly string[], readonly Buffer[]>()

/** The seal key of each secret (the first seals, all open), derived with HKDF-SHA256. */
export function sealKeys(secrets: readonly string[]): readonly Buffer[] {
  let keys = derived.get(secrets)
  if (keys === undefined) {
    keys = secrets.map((secret) => Buffer.from(hkdfSync('sha256', secret, '', KEY_INFO, 32)))
    derived.set(secrets, keys)
  }
  return keys
}

/** Whether `value` has the shape of a sealed value (it may still fail to open). */
export function looksSealed(value: string): boolean {
  return SEALED.test(value)
}

/** `record` sealed under `key` for the record key `recordKey`: `1.` + base64url(iv, ciphertext, GCM tag). */
export function seal(record: CookieRecord, recordKey: string, key: Buffer): string {
  const iv = randomBytes(IV_BYTES)
  const cipher = createCipheriv('aes-256-gcm', key, iv).setAAD(associatedData(recordKey))
  const sealed = Buffer.concat([iv, cipher.update(recordToBytes(record)), cipher.final(), cipher.getAuthTag()])
  return FORMAT + sealed.toString('base64url')
}

/** What a sealed value held: the record, and whether the current (first) key opened it. */
export interface Opened {
  readonly record: CookieRecord
  readonly current: boolean
}

/**
 * Opens a sealed value for `recordKey` with whichever of `keys` sealed it; `undefined` when none
 * does (tampered, truncated, forged, sealed for another record key, or under a secret no longer
 * listed). Never throws.
 */
export function unseal(value: string, recordKey: string, keys: readonly Buffer[]): Opened | undefined {
  if (!looksSealed(value)) return undefined
  const sealed = Buffer.from(value.slice(FORMAT.length), 'base64url')
  if (sealed.length < IV_BYTES + TAG_BYTES) return undefined
  const aad = associatedData(recordKey)
  for (let i = 0; i < keys.length; i++) {
    let plain: Buffer
    try {
      const decipher = createDecipheriv('aes-256-gcm', keys[i]!, sealed.subarray(0, IV_BYTES))
        .setAAD(aad)
        .setAuthTag(sealed.subarray(sealed.length - TAG_BYTES))
      plain = Buffer.concat([decipher.update(sealed.subarray(IV_BYTES, sealed.length - TAG_BYTES)), decipher.final()])
    } catch {
      continue // not this secret's key (or not authentic): try the next one
    }
    const record = recordFromBytes(plain)
    return record === undefined ? undefined : { record, current: i === 0 }
  }
  return undefined
}

/** The associated data of a seal: the record key, so a sealed value opens for its own stash ID (and session) only. */
function associatedData(recordKey: string): Buffer {
  return Buffer.from(`express-stash cookie seal\n${recordKey}`)
}
