/**
 * The node hint in the cookie and the authenticated move protocol between peers, below HTTP:
 * hints are opaque and signed with the ID, forged or replayed move requests get nothing.
 */
import cookieParser from 'cookie-parser'
import { readId as readIdWith, signId } from '../../lib/cookie/signed-id.js'
import { sha256 } from '../../lib/values/ids.js'
import { VerifiedCookies } from '../../lib/cookie/verified-cookies.js'

/** readId with a fresh memory of verified values: every call verifies. */
const readId = (header: string, name: string, secrets: string[]) => readIdWith(header, name, secrets, new VerifiedCookies())
import { NonceCache } from '../../lib/peers/nonce-cache.js'
import {
  openReply,
  openRequest,
  REPLAY_WINDOW_MS,
  sealReply,
  sealRequest,
  type MovedRecord,
} from '../../lib/peers/peer-protocol.js'
import { derivePeerKeys, nodeHint } from '../../lib/peers/node-hint.js'

const ID = 'A'.repeat(32)
const keys = derivePeerKeys(['current', 'old'])
const URL_A = 'http://10.1.2.3:4001/_stash/peer'
const HINT = nodeHint(keys, URL_A)

describe('node hint', () => {
  it('is opaque: fixed length, no trace of the name, different under another secret', () => {
    expect(HINT).toMatch(/^[A-Za-z0-9_-]{16}$/)
    for (const part of ['10', '1.2.3', '4001', 'stash', 'http']) expect(HINT).not.toContain(part)
    expect(nodeHint(keys, 'http://10.1.2.3:4002/_stash/peer')).not.toBe(HINT)
    expect(nodeHint(derivePeerKeys(['other']), URL_A)).not.toBe(HINT)
    expect(nodeHint(derivePeerKeys(['current']), URL_A)).toBe(HINT) // the first secret makes hints
  })

  it('travels signed with the ID; the ID alone names the record', () => {
    const value = signId(ID, 'k', { hint: HINT })
    expect(value.startsWith(`s:${ID}~${HINT}.`)).toBe(true)
    expect(readId(`stash=${encodeURIComponent(value)}`, 'stash', ['k'])).toEqual({
      id: ID,
      resign: false,
      hash: sha256(ID),
      hint: HINT,
    })
    expect(readId(`stash=${signId(ID, 'old', { hint: HINT })}`, 'stash', ['k', 'old'])).toEqual({
      id: ID,
      resign: true,
      hash: sha256(ID),
      hint: HINT,
    })
  })

  it('keeps cookies without a hint readable (backwards compatible)', () => {
    expect(readId(`stash=${signId(ID, 'k')}`, 'stash', ['k'])).toEqual({ id: ID, resign: false, hash: sha256(ID) })
  })

  it('is still a cookie-signature value that cookie-parser verifies', () => {
    expect(cookieParser.signedCookie(signId(ID, 'k', { hint: HINT }), 'k')).toBe(`${ID}~${HINT}`)
    expect(cookieParser.signedCookie(signId(ID, 'k', { hint: HINT }), 'wrong')).toBe(false)
  })

  const hinted = signId(ID, 'k', { hint: HINT })
  it.each([
    ['a hint swapped for another node', hinted.replace(HINT, nodeHint(keys, 'http://b:1/'))],
    ['a hint added to a hintless cookie', signId(ID, 'k').replace(ID, `${ID}~${HINT}`)],
    ['a hint removed', hinted.replace(`~${HINT}`, '')],
    ['a malformed hint', hinted.replace(HINT, 'a!b')],
  ])('rejects the whole cookie for %s', (_name, value) => {
    expect(readId(`stash=${value}`, 'stash', ['k'])).toBeUndefined()
  })
})

describe('move protocol', () => {
  const other = derivePeerKeys(['not the secret'])
  const record = {
    fields: { count: 'mac.1', name: 'mac.2' },
    ttlMs: 60_000,
    fieldTtlMs: { count: 60_000, name: 5_000 },
    ageMs: 1_500,
  }

  it('round-trips an authenticated request and an encrypted reply', () => {
    const { text, nonce } = sealRequest(keys, HINT, 'record-key')
    const opened = openRequest(keys, text, HINT, new NonceCache())
    expect(opened).toMatchObject({ key: 'record-key', nonce, keyIndex: 0 })
    const reply = sealReply(keys, opened!, record)
    expect(reply).not.toContain('mac.1') // encrypted, not just signed
    expect(openReply(keys, nonce, reply)).toEqual(record)
    expect(openReply(keys, nonce, sealReply(keys, opened!, undefined))).toBeNull()
  })

  /** The reply `moved` (of any shape, as another version or a faulty peer may send it) as the asking node opens it. */
  const roundTrip = (moved: object) => {
    const { text, nonce } = sealRequest(keys, HINT, 'k')
    return openReply(keys, nonce, sealReply(keys, openRequest(keys, text, HINT, new NonceCache())!, moved as MovedRecord))
  }

  it("reads an older version's reply (no per-field ttls, no age): every field gets the record's ttl, and age 0", () => {
    expect(roundTrip({ fields: { count: 'mac.1', name: 'mac.2' }, ttlMs: 60_000 })).toEqual({
      fields: { count: 'mac.1', name: 'mac.2' },
      ttlMs: 60_000,
      fieldTtlMs: { count: 60_000, name: 60_000 },
      ageMs: 0,
    })
  })

  it.each([
    ['a field ttl of 0', { fieldTtlMs: { count: 0, name: 5_000 } }],
    ['a negative field ttl', { fieldTtlMs: { count: -1, name: 5_000 } }],
    ['a field ttl that is not a number', { fieldTtlMs: { count: '60000', name: 5_000 } }],
    ['a field without its ttl', { fieldTtlMs: { count: 60_000 } }],
    ['a ttl for no field', { fieldTtlMs: { count: 60_000, name: 5_000, other: 1 } }],
    ['a ttl under another name', { fieldTtlMs: { count: 60_000, other: 5_000 } }],
    ['field ttls that are not an object', { fieldTtlMs: [60_000, 5_000] }],
    ['null field ttls', { fieldTtlMs: null }],
    ['a negative age', { ageMs: -1 }],
    ['an age that is not a number', { ageMs: '1500' }],
    ['a null age', { ageMs: null }],
    ['no ttl', { ttlMs: undefined }],
    ['a value that is not a string', { fields: { count: 1, name: 'mac.2' } }],
  ])('refuses a reply with %s', (_name, change) => {
    expect(roundTrip({ ...record, ...change })).toBeUndefined()
  })

  it('accepts requests of an old secret and answers under the same one', () => {
    const old = derivePeerKeys(['old'])
    const { text, nonce } = sealRequest(old, HINT, 'k')
    const opened = openRequest(keys, text, HINT, new NonceCache())
    expect(opened?.keyIndex).toBe(1)
    expect(openReply(old, nonce, sealReply(keys, opened!, record))).toEqual(record)
  })

  it('refuses forged, misaddressed, altered, replayed and stale requests', () => {
    const nonces = new NonceCache()
    const forged = sealRequest(other, HINT, 'k').text
    expect(openRequest(keys, forged, HINT, nonces)).toBeUndefined()
    expect(openRequest(keys, sealRequest(keys, 'someone-else', 'k').text, HINT, nonces)).toBeUndefined()
    const { text } = sealRequest(keys, HINT, 'k')
    const [payload, mac] = text.split('.') as [string, string]
    const altered = Buffer.from(Buffer.from(payload, 'base64url').toString().replace('"k"', '"x"')).toString('base64url')
    expect(openRequest(keys, `${altered}.${mac}`, HINT, nonces)).toBeUndefined()
    expect(openRequest(keys, text, HINT, nonces)).toBeDefined()
    expect(openRequest(keys, text, HINT, nonces)).toBeUndefined() // replay
    const realNow = Date.now
    try {
      Date.now = () => realNow() - 60_000
      const stale = sealRequest(keys, HINT, 'k').text
      Date.now = realNow
      expect(openRequest(keys, stale, HINT, nonces)).toBeUndefined()
    } finally {
      Date.now = realNow
    }
    for (const junk of ['', '.', 'a.b', 'x'.repeat(5000), `${payload}.${'A'.repeat(43)}`]) {
      expect(openRequest(keys, junk, HINT, nonces)).toBeUndefined()
    }
  })

  /** Runs `fn` with the clock at `offsetMs` from a fixed start. */
  const start = Date.now()
  const at = <T>(offsetMs: number, fn: () => T): T => {
    const realNow = Date.now
    Date.now = () => start + offsetMs
    try {
      return fn()
    } finally {
      Date.now = realNow
    }
  }

  it('refuses a replay of a request from a sender whose clock is ahead, for as long as its timestamp is accepted', () => {
    const nonces = new NonceCache()
    const captured = at(25_000, () => sealRequest(keys, HINT, 'k').text) // the sender's clock: 25 s ahead
    expect(at(0, () => openRequest(keys, captured, HINT, nonces))).toBeDefined()
    for (const later of [1_000, 31_000, 25_000 + REPLAY_WINDOW_MS - 1, 25_000 + REPLAY_WINDOW_MS + 1]) {
      expect(at(later, () => openRequest(keys, captured, HINT, nonces))).toBeUndefined()
    }
  })

  it('keeps at most its capacity of nonces, and refuses requests when full instead of forgetting a live one', () => {
    const nonces = new NonceCache(3)
    const requests = Array.from({ length: 4 }, () => sealRequest(keys, HINT, 'k').text)
    for (const text of requests.slice(0, 3)) expect(at(0, () => openRequest(keys, text, HINT, nonces))).toBeDefined()
    expect(at(0, () => openRequest(keys, requests[3]!, HINT, nonces))).toBeUndefined() // full: refused
    expect(at(1_000, () => openRequest(keys, requests[0]!, HINT, nonces))).toBeUndefined() // and still no replay
    expect(nonces.size).toBe(3)
    // Once the window has passed, the old nonces go and new requests are accepted again.
    const fresh = at(REPLAY_WINDOW_MS + 1_000, () => sealRequest(keys, HINT, 'k').text)
    expect(at(REPLAY_WINDOW_MS + 1_000, () => openRequest(keys, fresh, HINT, nonces))).toBeDefined()
    expect(nonces.size).toBe(1)
  })

  it('binds a reply to its request: another nonce or key cannot open it', () => {
    const first = sealRequest(keys, HINT, 'k')
    const opened = openRequest(keys, first.text, HINT, new NonceCache())!
    const reply = sealReply(keys, opened, record)
    expect(openReply(keys, sealRequest(keys, HINT, 'k').nonce, reply)).toBeUndefined()
    expect(openReply(other, first.nonce, reply)).toBeUndefined()
    expect(openReply(keys, first.nonce, reply.slice(0, -4) + 'AAAA')).toBeUndefined()
  })
})
