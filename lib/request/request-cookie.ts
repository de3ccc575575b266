/**
 * The stash ID cookie of one request: the ID it carries and the `Set-Cookie` line it needs.
 * @module
 */
import type { IncomingMessage } from 'node:http'
import { cookieValueOf, idCookie, isSecure, signId } from '../cookie/signed-id.js'
import { optionError } from '../errors.js'
import type { StashAdapter } from '../store/adapter.js'
import type { ResolvedOptions } from '../options.js'
import type { FlashFlag, VerifiedCookies, VerifiedId } from '../cookie/verified-cookies.js'

/** Longest client cookie lifetime the cookie can carry (ten digits of seconds). */
const MAX_AGE_LIMIT = 9_999_999_999

/** What {@link RequestCookie.setCookie} needs to know of the request's stash. */
export interface CookieContext {
  /** The record is known to exist (loaded, or written by this request). */
  readonly persisted: boolean
  /** This request moves the expiry of the record's keys (a write, a slide). */
  readonly slid: boolean
  /** Seconds the stash may live after this request: the longest ttl of its keys, within `maxLifetime`. */
  readonly ttl: number
  /** The SHA-256 of the ID the client presented, if it presented one (`StashState.presented`). */
  readonly presented: string | undefined
}

/**
 * The stash ID cookie of one request: the ID the client holds (or this request issued), whether
 * it must be re-signed, cleared, or sent with a new lifetime, and the `Set-Cookie` line that says so.
 */
export class RequestCookie {
  /** The ID the client holds, or the one this request issued; undefined for a fresh stash. */
  id: string | undefined
  /** A new ID was issued during this request: the cookie must carry it. */
  issued = false
  /** The cookie verified with an old secret, or names another node: re-sign it. */
  resign = false
  /** The node hint the cookie carried (cross-node recovery). */
  hint: string | undefined
  /** `reset()` dropped the ID: clear the cookie unless a new ID replaces it. */
  cleared = false
  /** The client's own cookie lifetime, signed into the cookie; undefined: the instance's. */
  private clientMaxAge: number | undefined
  /** `req.stash.cookie.maxAge` changed on this request: the cookie must say so. */
  changed = false
  /**
   * The record version the client's last write reached (adapters with a cache): what the cookie
   * carries, passed to the adapter's `load` as `seen`, so the client reads its own writes on any node.
   */
  version: number | undefined
  /** This request's write gave the record a new version: the cookie must carry it. */
  private versionChanged = false
  /** What the stash's flash field holds: as the cookie said, then as this request leaves it ({@link RequestCookie.setFlash}). */
  flash: FlashFlag | undefined
  private flashChanged = false

  constructor(
    private readonly options: ResolvedOptions,
    private readonly adapter: StashAdapter,
    private readonly secrets: readonly string[],
    private readonly verified: VerifiedCookies,
  ) {}

  /** Takes over what a verified cookie says. */
  adopt({ id, resign, hint, maxAge, version, flash }: VerifiedId): void {
    this.id = id
    this.flash = flash
    this.hint = hint
    this.clientMaxAge = maxAge
    this.version = version
    this.resign = resign || hint !== this.adapter.recovery?.hint
  }

  /** A new ID for this client; its cookie goes out with this response. */
  issue(id: string): void {
    this.id = id
    this.issued = true
    this.cleared = false
    this.version = undefined
  }

  /** The client's ID is not (or no longer) known to the store. */
  forget(): void {
    this.id = undefined
    this.issued = false
    this.resign = false
    this.version = undefined
    this.versionChanged = false
    this.flash = undefined
    this.flashChanged = false
  }

  /**
   * Takes the record version a write resolved to (`WriteReceipt`): a newer one than the cookie's
   * goes out with this response; whether it did. Adapters without versions resolve none, and
   * nothing changes.
   */
  written(receipt: unknown): boolean {
    const version = (receipt as { version?: unknown } | undefined)?.version
    if (typeof version !== 'number' || !Number.isSafeInteger(version) || version <= (this.version ?? 0)) return false
    this.version = version
    this.versionChanged = true
    return true
  }

  /** What the stash's flash field holds as this response leaves it; whether the cookie must say so anew. */
  setFlash(flash: FlashFlag | undefined): boolean {
    if (flash === this.flash) return false
    this.flash = flash
    return (this.flashChanged = true)
  }

  /** The client's ID is dropped: the cookie is cleared unless a new ID replaces it. */
  drop(): void {
    this.cleared = this.cleared || this.id !== undefined
    this.forget()
  }

  /** After `reset()`: the cookie is cleared, and the client's lifetime with it. */
  clear(): void {
    this.drop()
    this.clientMaxAge = undefined
    this.changed = false
  }

  /** The lifetime the cookie is configured with: the client's, else the instance's. */
  get maxAge(): number | undefined {
    return this.clientMaxAge ?? this.options.cookie.maxAge
  }

  /** Sets the client's own lifetime (`req.stash.cookie.maxAge = seconds`). */
  setMaxAge(seconds: unknown): void {
    let next: number | undefined
    if (seconds !== undefined && seconds !== null) {
      if (typeof seconds !== 'number' || !(seconds > 0) || seconds > MAX_AGE_LIMIT) {
        throw optionError(
          'req.stash.cookie.maxAge',
          `a positive number of seconds (at most ${MAX_AGE_LIMIT}), null or undefined`,
          seconds,
        )
      }
      next = Math.ceil(seconds)
    }
    if (next === this.clientMaxAge) return
    this.clientMaxAge = next
    this.changed = true
  }

  /** Whether a returning client's cookie may have to be sent again on this request. */
  mayResend(ttl: number): boolean {
    return this.resign || this.options.rolling || this.capped(ttl)
  }

  /** The `Set-Cookie` line this response must carry, if any. */
  setCookie(req: IncomingMessage, { persisted, slid, ttl, presented }: CookieContext): string | undefined {
    const { cookie, rolling } = this.options
    if (this.id === undefined) {
      return this.cleared ? idCookie(cookie, isSecure(req, cookie), undefined, undefined) : undefined
    }
    const renewed = this.resign || rolling || this.changed || this.versionChanged || this.flashChanged
    const send = this.issued || (persisted && (renewed || (slid && this.capped(ttl))))
    if (!send) return undefined
    const configured = this.maxAge
    const extras = { hint: this.adapter.recovery?.hint, maxAge: this.clientMaxAge, version: this.version, flash: this.flash }
    const value = signId(this.id, this.secrets[0]!, extras)
    if (!this.issued && presented !== undefined) {
      // The client comes back with this value, the ID it presented signed anew: known to verify, it
      // costs no HMAC then. Only a returning client's: a flood of one-time visitors must not push
      // out the values of the clients in use.
      this.verified.remember(cookieValueOf(value), { id: this.id, resign: false, ...extras }, presented)
    }
    return idCookie(cookie, isSecure(req, cookie), value, configured === undefined ? undefined : Math.min(configured, ttl))
  }

  /**
   * A configured lifetime longer than the stash's (the longest ttl of the request's keys, within
   * `maxLifetime`) is cut to it, so the cookie never outlives the stash; such a cookie is sent again whenever the stash's expiry slides, so an active
   * client keeps it as long as the stash lives.
   */
  private capped(ttl: number): boolean {
    const configured = this.maxAge
    return configured !== undefined && configured > ttl
  }
}
