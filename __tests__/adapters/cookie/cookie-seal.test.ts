/**
 * The seal on its own: what one response's records become as a cookie, and what the next
 * request opens of it, byte for byte; and what never opens.
 */
import { randomBytes } from 'node:crypto'
import { RequestRecords } from '../../../lib/adapters/cookie/request-records.js'
import { recordFromBytes, recordToBytes } from '../../../lib/adapters/cookie/record-bytes.js'
import { seal, sealKeys, unseal } from '../../../lib/adapters/cookie/seal.js'
import type { AdapterRequest } from '../../../lib/index.js'

const secrets = ['seal test secret, 32 characters or more']
const ID_LINE = 'stash=s%3Aid.mac; Max-Age=60; Path=/; Expires=Thu, 01 Jan 2099 00:00:00 GMT; HttpOnly; SameSite=Lax'
const requestWith = (cookieHeader?: string, keys = secrets): AdapterRequest => ({
  cookieHeader,
  cookieName: 'stash',
  secrets: keys,
  headersSent: () => false,
})
const records = (cookieHeader?: string, keys = secrets) =>
  new RequestRecords(requestWith(cookieHeader, keys), { name: undefined, maxSize: 4096 }, () => {})

/** The `Cookie` header the next request sends after a response carrying `lines`. */
const nextRequest = (lines: readonly string[]) => lines.map((line) => line.split(';')[0]).join('; ')

describe('the sealed cookie', () => {
  it('carries every field, its expiry and the creation time exactly, and shows none of them', async () => {
    const values: Record<string, string> = {
      'ключ-🔑': 'значение ✓',
      emoji: '👩🏽‍💻 family: 👨‍👩‍👧‍👦',
      controls: 'nul\u0000tab\tnewline\ncr\r"quotes" \\backslash\\ {"json":[1,2]}',
      '': 'an empty name',
      empty: '',
    }
    const expiresAt = Object.fromEntries(Object.keys(values).map((name, i) => [name, Date.now() + 60_000 + i]))
    const first = records()
    await first.write('record-key', { set: values, del: [], expiresAt })
    const written = await first.readAll('record-key')
    const lines = first.responseCookies('record-key', ID_LINE)
    expect(lines).toHaveLength(1)
    expect(lines[0]).toMatch(
      /^stash\.data=1\.[A-Za-z0-9_-]+; Max-Age=60; Path=\/; Expires=Thu, 01 Jan 2099 00:00:00 GMT; HttpOnly; SameSite=Lax$/,
    )
    expect(lines[0]).not.toMatch(/json|quotes|empty/)

    const next = records(nextRequest(lines))
    expect(await next.readAll('record-key')).toEqual(written)
    expect(await next.readAll('another-key')).toBeUndefined() // bound to its record key
    expect(await records(nextRequest(lines), ['another secret']).readAll('record-key')).toBeUndefined()
  })

  it('opens under an old secret (told apart from the current one), never under an unknown one', () => {
    const record = { fields: new Map([['a', { value: '1', expiresAt: Date.now() + 60_000 }]]), createdAt: Date.now(), version: 3 }
    const [current, old] = sealKeys(['new secret', 'old secret'])
    const sealed = seal(record, 'key', old!)
    expect(unseal(sealed, 'key', [current!, old!])).toEqual({ record, current: false })
    expect(unseal(seal(record, 'key', current!), 'key', [current!, old!])).toEqual({ record, current: true })
    expect(unseal(sealed, 'key', [current!])).toBeUndefined()
    expect(unseal(sealed, 'other key', [current!, old!])).toBeUndefined()
    expect(sealKeys(['new secret'])[0]).toEqual(current) // derived from the secret alone
  })

  it('bytes of another shape are no record', () => {
    const record = { fields: new Map([['name', { value: 'value', expiresAt: 1 }]]), createdAt: 2, version: 1 }
    const bytes = recordToBytes(record)
    expect(recordFromBytes(bytes)).toEqual(record)
    for (const broken of [
      bytes.subarray(0, bytes.length - 1),
      Buffer.from('garbage'),
      Buffer.from('1,1\nzz,1\n'),
      randomBytes(64),
    ]) {
      expect(recordFromBytes(broken)).toBeUndefined()
    }
  })
})
