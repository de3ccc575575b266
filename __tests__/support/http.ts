import type { Response } from 'supertest'

/** The `Set-Cookie` lines of a response (always an array). */
export function setCookies(res: Response): string[] {
  const header = res.headers['set-cookie'] as string[] | string | undefined
  return header === undefined ? [] : Array.isArray(header) ? header : [header]
}

/** The `Set-Cookie` line for cookie `name`, if any. */
export function setCookie(res: Response, name = 'stash'): string | undefined {
  return setCookies(res).find((line) => line.startsWith(`${name}=`))
}

/** The `name=value` pair of the stash cookie a response set, for a `Cookie` header. */
export function cookiePair(res: Response, name = 'stash'): string {
  const line = setCookie(res, name)
  if (line === undefined) throw new Error(`response set no ${name} cookie; it set: ${JSON.stringify(setCookies(res))}`)
  return line.split(';')[0]!
}

/** The decoded stash ID inside a `name=s:ID.MAC` pair (with its `~hint`, without the `*version` and the `!maxAge` of remember me). */
export function idOf(pair: string): string {
  const value = decodeURIComponent(pair.slice(pair.indexOf('=') + 1))
  return value
    .slice(2, value.lastIndexOf('.'))
    .replace(/!\d+$/, '')
    .replace(/\*[0-9a-z]+$/, '')
}

/** A supertest `.expect()` assertion: the response sets no stash cookie. */
export function noStashCookie(res: Response): void {
  if (setCookie(res) !== undefined) throw new Error(`expected no stash cookie, got ${setCookie(res)}`)
}

/** Resolves after `ms` milliseconds. */
export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms))

/** A supertest `.expect()` assertion: an error response with this status, code and message part. */
export function stashError(status: number, code: string, messagePart = '') {
  return (res: Response): void => {
    expect({ status: res.status, code: res.body.code }).toEqual({ status, code })
    expect(res.body.message).toContain(messagePart)
  }
}
