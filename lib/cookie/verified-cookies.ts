/**
 * The memory of cookie values one stash instance verified lately, so that a returning client
 * costs neither an HMAC nor a SHA-256.
 * @module
 */
import { BoundedMap } from '../values/bounded-map.js'
import { sha256 } from '../values/ids.js'

/** How many verified cookie values one stash instance remembers. */
const CAPACITY = 10_000

/** What a signed cookie says of the stash's flash messages: some wait, or a request took them (the field holds an empty set). */
export type FlashFlag = 'waiting' | 'taken'

/** A stash ID from a verified cookie, with the hash its record key is made of. */
export interface VerifiedId {
  readonly id: string
  /** Verified by an old secret: the cookie should be re-signed with the current one. */
  readonly resign: boolean
  /** SHA-256 of the ID (see `recordKeyOf`). */
  readonly hash: string
  /** The node hint signed with the ID (cross-node recovery); absent in cookies without one. */
  readonly hint?: string
  /** The client's own cookie lifetime in seconds (`req.stash.cookie.maxAge`), signed with the ID. */
  readonly maxAge?: number
  /** The record version the client's last write reached, signed with the ID (adapters with a cache). */
  readonly version?: number
  /** The stash's flash messages wait, or were taken (signed with the ID). */
  readonly flash?: FlashFlag
}

/** What a cookie value whose signature verified says. */
export interface VerifiedCookie {
  readonly id: string
  readonly resign: boolean
  readonly hint: string | undefined
  readonly maxAge: number | undefined
  readonly version: number | undefined
  readonly flash?: FlashFlag | undefined
}

/**
 * The cookie values one stash instance verified lately, so that a returning client costs neither
 * an HMAC nor a SHA-256. Only values whose signature verified are remembered, under their exact
 * text, so a lookup gives what verifying again would: a forged or altered value is never in it.
 * Bounded: past `CAPACITY` the oldest value is forgotten (and verified again when it returns).
 */
export class VerifiedCookies {
  /** Cookie value → what it says; oldest first. */
  private readonly values = new BoundedMap<string, VerifiedId>({ capacity: CAPACITY })

  /** The ID of a cookie value verified before, if remembered. */
  get(value: string): VerifiedId | undefined {
    return this.values.get(value)
  }

  /**
   * Remembers a cookie value whose signature verified, or that this instance signed (with its
   * current secret); `hash`: the ID's SHA-256, when known already.
   */
  remember(value: string, { id, resign, hint, maxAge, version, flash }: VerifiedCookie, hash = sha256(id)): VerifiedId {
    const verified: VerifiedId = {
      id,
      resign,
      hash,
      ...(hint === undefined ? {} : { hint }),
      ...(maxAge === undefined ? {} : { maxAge }),
      ...(version === undefined ? {} : { version }),
      ...(flash === undefined ? {} : { flash }),
    }
    this.values.set(value, verified)
    return verified
  }
}
