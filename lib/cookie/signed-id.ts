/**
 * The signed stash ID cookie: signing and verifying its value (cookie-signature format, with the
 * node hint and the client's lifetime inside), and writing the `Set-Cookie` line.
 * @module
 */
import { createHmac, createSecretKey, timingSafeEqual, type KeyObject } from 'node:crypto'
import type { IncomingMessage, OutgoingHttpHeaders, ServerResponse } from 'node:http'
import { serialize, type SerializeOptions } from 'cookie'
import { BoundedMap } from '../values/bounded-map.js'
import type { FlashFlag, VerifiedCookies, VerifiedId } from './verified-cookies.js'

/**
 * The attributes of the stash cookie, validated (the instance's resolved `cookie` option): what
 * {@link isSecure} and {@link idCookie} read. The client's own lifetime is passed separately.
 */
export interface CookieAttributes {
  readonly name: string
  readonly path: string
  readonly domain: string | undefined
  readonly httpOnly: boolean
  readonly sameSite: 'lax' | 'strict' | 'none'
  readonly secure: boolean | 'auto'
  readonly partitioned: boolean
  readonly priority: 'low' | 'medium' | 'high' | undefined
}

/** Longest cookie value considered; anything longer is ignored unread. */
const MAX_COOKIE_VALUE = 256
/**
 * Most cookie values of one request whose signature is checked (an HMAC per secret each): a
 * browser sends at most a few cookies of one name (other paths or domains), and a forged header
 * with hundreds of them must not multiply the work of a request.
 */
const MAX_CANDIDATES = 3
const ID_PATTERN = /^[A-Za-z0-9_-]{32,128}$/
/** Separates the ID from the node hint inside the signed value (never a base64url character). */
const HINT_SEPARATOR = '~'
const HINT_PATTERN = /^[A-Za-z0-9_-]{8,64}$/
/** Starts the client's own cookie lifetime (`req.stash.cookie.maxAge`) at the end of the signed value. */
const MAX_AGE_SEPARATOR = '!'
const MAX_AGE_PATTERN = /^[1-9][0-9]{0,9}$/
/** Starts the record version the client's last write reached (a cache's read-your-writes), before the lifetime. */
const VERSION_SEPARATOR = '*'
const VERSION_PATTERN = /^[1-9a-z][0-9a-z]{0,10}$/
/** End the ID part (before the lifetime): flash messages wait (a route without stored keys then reads them), or were taken. */
const FLASH_FLAGS = { waiting: '(', taken: ')' } as const satisfies Record<FlashFlag, string>

/** What a signed ID cookie carries besides the ID, all of it under the signature. */
export interface SignedExtras {
  /** The node hint (cross-node recovery). */
  readonly hint?: string | undefined
  /** The client's own cookie lifetime, whole seconds (remember me). */
  readonly maxAge?: number | undefined
  /** The record version the client's last write reached, for an adapter with a cache. */
  readonly version?: number | undefined
  /** What the stash's flash field holds (`req.stash.flash`): messages, or the empty set a request left after taking them. */
  readonly flash?: FlashFlag | undefined
}

/**
 * Signs an ID in the format of cookie-signature (`s:` + value + `.` + base64 HMAC-SHA256
 * without padding), so cookie-parser with the same secret reads it as a signed cookie. A node
 * `hint` (cross-node recovery) is appended to the ID as `~hint`, the record `version` of the
 * client's last write (base 36) as `*version`, `(` when flash messages wait (`)`: taken), the client's own
 * cookie lifetime (`maxAge`, whole seconds: remember me) as `!seconds`, all inside the signed
 * value: the record key depends on the ID alone, and a changed extra breaks the signature.
 */
export function signId(id: string, secret: string, { hint, maxAge, version, flash }: SignedExtras = {}): string {
  let value = hint === undefined ? id : id + HINT_SEPARATOR + hint
  if (version !== undefined && version > 0) value += VERSION_SEPARATOR + version.toString(36)
  if (flash !== undefined) value += FLASH_FLAGS[flash]
  if (maxAge !== undefined) value += MAX_AGE_SEPARATOR + maxAge
  return `s:${value}.${mac(value, secret)}`
}

/**
 * Finds the stash ID in a `Cookie` header: cookies named `name` are tried in order (duplicates
 * happen with several paths or domains) and the first one whose signature verifies wins. Only the
 * first {@link MAX_CANDIDATES} values shaped like a signed ID are considered, whatever the header
 * holds; values of any other shape cost no signature check and do not count. Anything missing,
 * malformed, oversized or forged yields `undefined`, never an error. Values verified before are
 * looked up in `verified` instead of being verified again (the answer is the same either way).
 */
export function readId(
  header: string | undefined,
  name: string,
  secrets: readonly string[],
  verified: VerifiedCookies,
): VerifiedId | undefined {
  if (header === undefined || header.length === 0) return undefined
  let from = 0
  let candidates = 0
  while (from < header.length && candidates < MAX_CANDIDATES) {
    let end = header.indexOf(';', from)
    if (end < 0) end = header.length
    const eq = header.indexOf('=', from)
    if (eq > from && eq < end && header.slice(from, eq).trim() === name) {
      const raw = header.slice(eq + 1, end).trim()
      const known = verified.get(raw)
      if (known !== undefined) return known
      const parsed = parse(raw)
      if (parsed !== undefined) {
        candidates++
        const found = verify(raw, parsed, secrets, verified)
        if (found !== undefined) return found
      }
    }
    from = end + 1
  }
  return undefined
}

/** A cookie value shaped like a signed ID, taken apart; its signature is not checked yet. */
interface SignedValue {
  readonly signed: string
  readonly signature: string
  readonly id: string
  readonly hint: string | undefined
  readonly maxAge: number | undefined
  readonly version: number | undefined
  readonly flash: FlashFlag | undefined
}

/** Takes a cookie value apart (unquoted, percent-decoded), or `undefined` if it is not shaped like a signed ID. */
function parse(raw: string): SignedValue | undefined {
  if (raw.length > MAX_COOKIE_VALUE) return undefined
  let value = raw.startsWith('"') && raw.endsWith('"') && raw.length > 1 ? raw.slice(1, -1) : raw
  if (value.includes('%')) {
    try {
      value = decodeURIComponent(value)
    } catch {
      return undefined
    }
  }
  const dot = value.lastIndexOf('.')
  if (!value.startsWith('s:') || dot < 0) return undefined
  const signed = value.slice(2, dot)
  const bang = signed.indexOf(MAX_AGE_SEPARATOR)
  const flagged = bang < 0 ? signed : signed.slice(0, bang)
  const maxAge = bang < 0 ? undefined : signed.slice(bang + 1)
  const flash = flagged.endsWith(FLASH_FLAGS.waiting) ? 'waiting' : flagged.endsWith(FLASH_FLAGS.taken) ? 'taken' : undefined
  const versioned = flash === undefined ? flagged : flagged.slice(0, -1)
  const star = versioned.indexOf(VERSION_SEPARATOR)
  const body = star < 0 ? versioned : versioned.slice(0, star)
  const version = star < 0 ? undefined : versioned.slice(star + 1)
  const separator = body.indexOf(HINT_SEPARATOR)
  const id = separator < 0 ? body : body.slice(0, separator)
  const hint = separator < 0 ? undefined : body.slice(separator + 1)
  if (!ID_PATTERN.test(id) || (hint !== undefined && !HINT_PATTERN.test(hint))) return undefined
  if (maxAge !== undefined && !MAX_AGE_PATTERN.test(maxAge)) return undefined
  if (version !== undefined && !VERSION_PATTERN.test(version)) return undefined
  return {
    signed,
    signature: value.slice(dot + 1),
    id,
    hint,
    maxAge: maxAge === undefined ? undefined : Number(maxAge),
    version: version === undefined ? undefined : Number.parseInt(version, 36),
    flash,
  }
}

/** Checks the signature of a parsed value against every secret, remembering a value that verifies. */
function verify(
  raw: string,
  { signed, signature, id, hint, maxAge, version, flash }: SignedValue,
  secrets: readonly string[],
  verified: VerifiedCookies,
): VerifiedId | undefined {
  const given = Buffer.from(signature)
  // Constant-time compare against every secret; the first is current, the rest are old.
  for (let i = 0; i < secrets.length; i++) {
    const expected = Buffer.from(mac(signed, secrets[i]!))
    if (expected.length === given.length && timingSafeEqual(expected, given)) {
      return verified.remember(raw, { id, resign: i > 0, hint, maxAge, version, flash })
    }
  }
  return undefined
}

/** Whether browsers accept the cookie only with `Secure`. */
function mustBeSecure({ name, sameSite }: CookieAttributes): boolean {
  return sameSite === 'none' || name.startsWith('__Host-') || name.startsWith('__Secure-')
}

/**
 * The HMAC key of each secret, made once: an HMAC keyed by a string converts the string anew on
 * every call (a few microseconds of a signed cookie, measured in a server under load). A process
 * has a few secrets; the bound keeps an app that creates instances without end from growing it.
 */
const hmacKeys = new BoundedMap<string, KeyObject>({ capacity: 64 })

function mac(value: string, secret: string): string {
  let key = hmacKeys.get(secret)
  if (key === undefined) hmacKeys.set(secret, (key = createSecretKey(Buffer.from(secret))))
  return createHmac('sha256', key).update(value).digest('base64').replace(/=+$/, '')
}

/**
 * Whether the cookie should carry `Secure` for this request. A `__Host-` or `__Secure-` name, and
 * `SameSite=None`, always do: browsers drop such a cookie without it, so under `'auto'` a plain
 * HTTP request (a proxy that does not say it terminated TLS) still gets a cookie that works.
 */
export function isSecure(req: IncomingMessage, options: CookieAttributes): boolean {
  const option = options.secure
  if (option !== 'auto') return option
  if (mustBeSecure(options)) return true
  // Express's req.secure honours `trust proxy`; plain Connect only knows the socket.
  const secure = (req as { secure?: unknown }).secure
  if (typeof secure === 'boolean') return secure
  return (req.socket as { encrypted?: boolean } | undefined)?.encrypted === true
}

/**
 * The attributes part of the `Set-Cookie` line of a session cookie (no lifetime) carrying an ID,
 * per cookie options and `Secure`: made once by `serialize` (which also checks the name), so a
 * response that sends the ID cookie only encodes its value; `serialize` costs several
 * microseconds per call in a server under load, mostly checking attributes that never change.
 */
const sessionSuffixes = new WeakMap<CookieAttributes, [insecure?: string, secure?: string]>()

/** The options `serialize` writes the ID cookie's attributes from (without a lifetime). */
export function serializeOptions(options: CookieAttributes, secure: boolean): SerializeOptions {
  return {
    path: options.path,
    domain: options.domain,
    httpOnly: options.httpOnly,
    sameSite: options.sameSite,
    secure,
    partitioned: options.partitioned || undefined,
    priority: options.priority,
  }
}

/**
 * The `Set-Cookie` value carrying a signed ID, or clearing the cookie when `signedValue` is
 * undefined. `maxAge` (seconds) makes it persistent; without it the cookie lasts the browser session.
 */
export function idCookie(
  options: CookieAttributes,
  secure: boolean,
  signedValue: string | undefined,
  maxAge: number | undefined,
): string {
  const { name } = options
  if (signedValue === undefined) return serialize(name, '', { ...serializeOptions(options, secure), expires: new Date(0) })
  if (maxAge !== undefined) {
    const expires = new Date(Date.now() + maxAge * 1000)
    return serialize(name, signedValue, { ...serializeOptions(options, secure), maxAge, expires })
  }
  let suffixes = sessionSuffixes.get(options)
  if (suffixes === undefined) sessionSuffixes.set(options, (suffixes = []))
  const suffix = (suffixes[secure ? 1 : 0] ??= serialize(name, '', serializeOptions(options, secure)).slice(name.length + 1))
  return `${name}=${cookieValueOf(signedValue)}${suffix}`
}

/**
 * A signed value as the `Set-Cookie` line writes it, and so as the client sends it back:
 * encoded by encodeURIComponent, as `serialize` encodes (its output is always a valid cookie value).
 */
export function cookieValueOf(signedValue: string): string {
  return encodeURIComponent(signedValue)
}

/**
 * Adds a `Set-Cookie` line without touching the ones already there: those set with
 * `res.setHeader`/`res.cookie`, and those passed to `res.writeHead(status, headers)`.
 */
export function appendSetCookie(res: ServerResponse, line: string, writeHeadHeaders?: unknown): void {
  if (writeHeadHeaders !== null && typeof writeHeadHeaders === 'object' && !Array.isArray(writeHeadHeaders)) {
    const headers = writeHeadHeaders as OutgoingHttpHeaders
    const name = Object.keys(headers).find((key) => key.toLowerCase() === 'set-cookie')
    if (name !== undefined) {
      headers[name] = ([] as string[]).concat(headers[name] as string | string[], line)
      return
    }
  }
  const previous = res.getHeader('Set-Cookie')
  res.setHeader('Set-Cookie', previous === undefined ? line : ([] as string[]).concat(previous as string | string[], line))
}
