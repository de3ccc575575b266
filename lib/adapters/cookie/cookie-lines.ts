/**
 * The sealed cookie on the wire: its values in a request's `Cookie` header, and its `Set-Cookie`
 * lines, which take every attribute (path, domain, flags, lifetime) of the ID cookie's line they
 * go out with, so the two cookies always live and die together.
 * @module
 */
import { looksSealed } from './seal.js'

/**
 * Most values of the sealed cookie one request may present that are tried (an AES-GCM open per
 * secret each): a browser sends a few at most (other paths or domains), a forged header more.
 */
const MAX_CANDIDATES = 3
/** Longest value considered: nothing longer fits in a cookie. */
const MAX_VALUE = 4096
/** The attributes that give a cookie its lifetime, left out of a line that clears it. */
const LIFETIME = /^(max-age|expires)=/i
const CLEARED = 'Expires=Thu, 01 Jan 1970 00:00:00 GMT'

/**
 * The values of cookie `name` in a `Cookie` header that have the shape of a sealed value, in
 * order, at most {@link MAX_CANDIDATES}; values of any other shape are skipped unread.
 */
export function sealedCandidates(header: string | undefined, name: string): string[] {
  const found: string[] = []
  if (header === undefined) return found
  let from = 0
  while (from < header.length && found.length < MAX_CANDIDATES) {
    let end = header.indexOf(';', from)
    if (end < 0) end = header.length
    const eq = header.indexOf('=', from)
    if (eq > from && eq < end && end - eq <= MAX_VALUE + 3 && header.slice(from, eq).trim() === name) {
      let value = header.slice(eq + 1, end).trim()
      if (value.length > 1 && value.startsWith('"') && value.endsWith('"')) value = value.slice(1, -1)
      if (looksSealed(value)) found.push(value)
    }
    from = end + 1
  }
  return found
}

/** The `Set-Cookie` line of the sealed cookie `name=value`, with the attributes of the ID cookie's line `idLine`. */
export function sealedLine(name: string, value: string, idLine: string): string {
  return `${name}=${value}${attributesOf(idLine)}`
}

/** The `Set-Cookie` line that clears the sealed cookie `name`, on the path and domain of the ID cookie's line `idLine`. */
export function clearingLine(name: string, idLine: string): string {
  const kept = attributesOf(idLine)
    .split(';')
    .map((attribute) => attribute.trim())
    .filter((attribute) => attribute !== '' && !LIFETIME.test(attribute))
  return [`${name}=`, ...kept, CLEARED].join('; ')
}

/** The attributes of a `Set-Cookie` line: everything after its `name=value`, from the first `;`. */
function attributesOf(line: string): string {
  const semicolon = line.indexOf(';')
  return semicolon < 0 ? '' : line.slice(semicolon)
}

/** Bytes of the `name=value` part of a cookie: what browsers count against their 4,096-byte limit. */
export function cookieBytes(name: string, value: string): number {
  return Buffer.byteLength(name) + 1 + value.length
}
