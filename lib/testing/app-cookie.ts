/**
 * The stash cookie in what an application's test holds: a `Cookie` header, `Set-Cookie` lines,
 * or a response (supertest's, node's, fetch's), for {@link readStash}.
 * @module
 */

/**
 * Where {@link readStash} finds the stash cookie: a `Cookie` header value (`'stash=s%3A...'`,
 * what {@link seedStash} returns), one `Set-Cookie` line, an array of them (the cookies of a
 * response, of which the last one of the stash's name counts, as in a browser), or a response
 * object with `headers`: supertest's and node's (`headers['set-cookie']`) or fetch's
 * (`headers.getSetCookie()`).
 */
export type StashCookieSource = string | readonly string[] | { readonly headers: unknown }

/**
 * The `Cookie` header the source amounts to for cookie `name`; `undefined` when it holds no
 * value of that name (none, or a cookie cleared by `Set-Cookie: name=; Expires=...`).
 */
export function cookieHeaderOf(source: StashCookieSource, name: string): string | undefined {
  if (typeof source === 'string') return hasValue(source, name) ? source : undefined
  const lines = Array.isArray(source) ? (source as readonly unknown[]) : setCookieLines(source)
  let last: string | undefined
  for (const line of lines) {
    if (typeof line !== 'string')
      throw new TypeError(`express-stash: readStash: a cookie line must be a string, got ${typeof line}`)
    const pair = line.split(';', 1)[0]!.trim()
    if (nameOf(pair) === name) last = pair
  }
  return last !== undefined && hasValue(last, name) ? last : undefined
}

/** The `Set-Cookie` lines of a response-like object. */
function setCookieLines(source: unknown): readonly unknown[] {
  const headers = typeof source === 'object' && source !== null ? (source as { headers?: unknown }).headers : undefined
  if (typeof headers !== 'object' || headers === null) {
    throw new TypeError(
      'express-stash: readStash: the cookie must be a Cookie header, Set-Cookie lines, or a response with headers',
    )
  }
  const getSetCookie = (headers as { getSetCookie?: unknown }).getSetCookie
  if (typeof getSetCookie === 'function') return (getSetCookie as () => string[]).call(headers)
  const lines = (headers as Record<string, unknown>)['set-cookie']
  return lines === undefined ? [] : Array.isArray(lines) ? lines : [lines]
}

/** Whether a `Cookie` header (or `Set-Cookie` line) carries a non-empty value for cookie `name`. */
export function hasValue(header: string, name: string): boolean {
  return header.split(';').some((pair) => {
    if (nameOf(pair) !== name) return false
    const value = pair.slice(pair.indexOf('=') + 1).trim()
    return value !== '' && value !== '""'
  })
}

function nameOf(pair: string): string | undefined {
  const eq = pair.indexOf('=')
  return eq < 0 ? undefined : pair.slice(0, eq).trim()
}
