import '../support/stash-data.js'
import { createHmac } from 'node:crypto'
import cookieParser from 'cookie-parser'
import express from 'express'
import request from 'supertest'
import { serialize } from 'cookie'
import { idCookie, readId as readIdWith, serializeOptions, signId, type CookieAttributes } from '../../lib/cookie/signed-id.js'
import { sha256 } from '../../lib/values/ids.js'
import { VerifiedCookies } from '../../lib/cookie/verified-cookies.js'
import { createStash, memoryAdapter, type StashOptions } from '../../lib/index.js'
import { cookiePair, idOf, noStashCookie, setCookie, setCookies } from '../support/http.js'

const ID = 'A'.repeat(32)

/** readId with a fresh memory of verified values: every call verifies. */
const readId = (header: string | undefined, name: string, secrets: string[]) =>
  readIdWith(header, name, secrets, new VerifiedCookies())
/** What readId finds for an ID. */
const found = (id: string, resign: boolean) => ({ id, resign, hash: sha256(id) })

describe('idCookie', () => {
  const signed = signId(ID, 'k', { hint: 'node1234', version: 7, flash: 'waiting' })
  /** The line `serialize` writes for these attributes: what every ID cookie must be. */
  const serialized = (options: CookieAttributes, secure: boolean, maxAge?: number, expires?: Date) =>
    serialize(options.name, signed, { ...serializeOptions(options, secure), ...(maxAge !== undefined && { maxAge, expires }) })

  it("writes a session cookie's line exactly as serialize does, for every combination of attributes", () => {
    for (const sameSite of ['lax', 'strict', 'none'] as const) {
      for (const domain of [undefined, 'example.com']) {
        for (const [httpOnly, partitioned, priority] of [
          [true, false, undefined],
          [false, true, 'high'],
        ] as const) {
          const options: CookieAttributes = {
            name: 'stash',
            path: '/app',
            domain,
            httpOnly,
            sameSite,
            secure: 'auto',
            partitioned,
            priority,
          }
          // The same options twice per `Secure` (the second line comes from the attributes kept from the first), alternating as under 'auto'.
          for (const secure of [false, true, false, true])
            expect(idCookie(options, secure, signed, undefined)).toBe(serialized(options, secure))
        }
      }
    }
  })

  it('writes persistent and clearing lines with their dates', () => {
    const options: CookieAttributes = {
      name: 'stash',
      path: '/',
      domain: undefined,
      httpOnly: true,
      sameSite: 'lax',
      secure: false,
      partitioned: false,
      priority: undefined,
    }
    const line = idCookie(options, false, signed, 3600)
    const expires = new Date(Date.parse(/Expires=([^;]+)/.exec(line)![1]!))
    expect(Math.abs(expires.getTime() - (Date.now() + 3600_000))).toBeLessThan(2000)
    expect(line).toBe(serialized(options, false, 3600, expires))
    expect(idCookie(options, false, undefined, undefined)).toBe(
      'stash=; Path=/; Expires=Thu, 01 Jan 1970 00:00:00 GMT; HttpOnly; SameSite=Lax',
    )
  })
})

describe('signId / readId', () => {
  it('uses the cookie-signature format', () => {
    const mac = createHmac('sha256', 'k').update(ID).digest('base64').replace(/=+$/, '')
    expect(signId(ID, 'k')).toBe(`s:${ID}.${mac}`)
  })

  it('reads a signed ID, URL-encoded or not, quoted or not, among other cookies', () => {
    const signed = signId(ID, 'k')
    for (const header of [
      `stash=${signed}`,
      `a=1; stash=${encodeURIComponent(signed)}; b=2`,
      `stash="${signed}"`,
      ` stash = ${signed} `,
    ]) {
      expect(readId(header, 'stash', ['k'])).toEqual(found(ID, false))
    }
  })

  it('verifies against every secret and asks to re-sign with the first', () => {
    expect(readId(`stash=${signId(ID, 'old')}`, 'stash', ['new', 'old'])).toEqual(found(ID, true))
    expect(readId(`stash=${signId(ID, 'gone')}`, 'stash', ['new', 'old'])).toBeUndefined()
  })

  it('carries a record version (base 36) under the signature, with the hint and the lifetime', () => {
    const hint = 'H'.repeat(11)
    const signed = signId(ID, 'k', { hint, version: 1295, maxAge: 60 })
    expect(signed).toMatch(new RegExp(`^s:${ID}~${hint}\\*zz!60\\.`))
    expect(readId(`stash=${encodeURIComponent(signed)}`, 'stash', ['k'])).toEqual({
      ...found(ID, false),
      hint,
      version: 1295,
      maxAge: 60,
    })
    expect(readId(`stash=${signId(ID, 'k', { version: 7 })}`, 'stash', ['k'])).toEqual({ ...found(ID, false), version: 7 })
    // A version is never made up: raising it breaks the signature, and malformed ones are not read.
    expect(readId(`stash=${signed.replace('*zz', '*zzz')}`, 'stash', ['k'])).toBeUndefined()
    for (const version of ['', '0', '-1', 'ZZ', '1'.repeat(12)]) {
      const value = `${ID}*${version}`
      const forged = `s:${value}.${createHmac('sha256', 'k').update(value).digest('base64').replace(/=+$/, '')}`
      expect(readId(`stash=${forged}`, 'stash', ['k'])).toBeUndefined()
    }
    expect(signId(ID, 'k', { version: 0 })).toBe(signId(ID, 'k'))
  })

  it('takes the first valid one among duplicate names', () => {
    const header = `stash=s:${ID}.forged; stash=${signId('B'.repeat(32), 'k')}`
    expect(readId(header, 'stash', ['k'])).toEqual(found('B'.repeat(32), false))
  })

  it('verifies at most three values shaped like a signed ID; values of other shapes do not count', () => {
    const genuine = `stash=${signId(ID, 'k')}`
    const forged = (n: number) => Array.from({ length: n }, (_, i) => `stash=s:${String(i).padStart(32, 'B')}.forged`)
    expect(readId([...forged(2), genuine].join('; '), 'stash', ['k'])).toEqual(found(ID, false))
    expect(readId([...forged(3), genuine].join('; '), 'stash', ['k'])).toBeUndefined()
    const junk = Array.from({ length: 20 }, () => 'stash=not-an-id')
    expect(readId([...junk, ...forged(2), genuine].join('; '), 'stash', ['k'])).toEqual(found(ID, false))
  })

  it.each([
    ['missing', undefined],
    ['empty', ''],
    ['other name', `stashed=${signId(ID, 'k')}`],
    ['unsigned', `stash=${ID}`],
    ['no s: prefix', `stash=${signId(ID, 'k').slice(2)}`],
    ['tampered ID', `stash=${signId(ID, 'k').replace('AAAA', 'AAAB')}`],
    ['tampered MAC', `stash=${signId(ID, 'k').slice(0, -2)}xx`],
    ['short ID', `stash=${signId('abc', 'k')}`],
    ['bad characters in ID', `stash=${signId('A'.repeat(31) + '!', 'k')}`],
    ['broken percent-encoding', 'stash=%E0%A4%A'],
    ['oversized', `stash=${signId('A'.repeat(300), 'k')}`],
    ['no value', 'stash'],
  ])('ignores a %s cookie', (_name, header) => {
    expect(readId(header, 'stash', ['k'])).toBeUndefined()
  })
})

describe('verified cookie values are remembered', () => {
  it('answers a value verified before without verifying it again, and exactly as verifying would', () => {
    const verified = new VerifiedCookies()
    const header = `stash=${signId(ID, 'old')}`
    const first = readIdWith(header, 'stash', ['new', 'old'], verified)
    expect(first).toEqual(found(ID, true))
    // Secrets that verify nothing: only the remembered value can answer.
    expect(readIdWith(header, 'stash', ['other'], verified)).toBe(first)
  })

  it('never remembers a forged or altered value', () => {
    const verified = new VerifiedCookies()
    const signed = signId(ID, 'k')
    expect(readIdWith(`stash=${signed}`, 'stash', ['k'], verified)).toEqual(found(ID, false))
    for (const forged of [signed.slice(0, -2) + 'xx', signed.replace('AAAA', 'AAAB'), `s:${ID}.`, signed + 'x']) {
      expect(readIdWith(`stash=${forged}`, 'stash', ['k'], verified)).toBeUndefined()
      expect(verified.get(forged)).toBeUndefined()
    }
  })

  it('forgets the oldest values past its capacity of 10,000', () => {
    const verified = new VerifiedCookies()
    const ids = Array.from({ length: 10_001 }, (_, i) => String(i).padStart(32, 'A'))
    for (const id of ids)
      verified.remember(`value ${id}`, { id, resign: false, hint: undefined, maxAge: undefined, version: undefined })
    expect(verified.get(`value ${ids[0]}`)).toBeUndefined()
    expect(verified.get(`value ${ids[1]}`)).toEqual(found(ids[1]!, false))
    expect(verified.get(`value ${ids[10_000]}`)).toEqual(found(ids[10_000]!, false))
  })
})

describe('the stash cookie over HTTP (express 5)', () => {
  const opened: { close(): Promise<void> }[] = []
  afterAll(() => Promise.all(opened.map((s) => s.close())))

  function app(options: StashOptions = {}, configure?: (app: express.Express) => void) {
    const stash = createStash({ secret: 'secret', storedKeys: ['count'], adapter: memoryAdapter(), ...options })
    opened.push(stash)
    const app = express()
    configure?.(app)
    app.use(stash)
    app.get('/count', (req, res) => {
      req.stash.count = (req.stash.count ?? 0) + 1
      res.json({ count: req.stash.count })
    })
    app.get('/', (req, res) => res.json(req.stash))
    return app
  }

  it.each([
    ['garbage', 'stash=%%%; other=1', false],
    ['unsigned ID', `stash=${ID}`, false],
    ['forged signature', `stash=${encodeURIComponent(signId(ID, 'not the secret'))}`, false],
    ['huge value', `stash=${'x'.repeat(8000)}`, false],
    // Signed, but no such stash: the response clears the cookie, so the client stops sending it.
    ['duplicates', `stash=a; stash=b; stash=${encodeURIComponent(signId(ID, 'secret'))}`, true],
  ])('treats a %s cookie as a fresh stash, never an error', async (_name, cookie, cleared) => {
    const server = app()
    const read = await request(server).get('/').set('Cookie', cookie).expect(200, {})
    if (cleared) expect(setCookies(read)).toEqual([expect.stringMatching(/^stash=; Path=\/; Expires=Thu, 01 Jan 1970/)])
    else noStashCookie(read)
    const res = await request(server).get('/count').set('Cookie', cookie).expect(200, { count: 1 })
    expect(idOf(cookiePair(res))).not.toBe(ID)
  })

  it('is readable by cookie-parser with the same secret', async () => {
    const server = app({}, (a) => {
      a.use(cookieParser('secret'))
      a.get('/parsed', (req, res) => res.json({ id: req.signedCookies.stash }))
    })
    const first = await request(server).get('/count').expect(200)
    await request(server)
      .get('/parsed')
      .set('Cookie', cookiePair(first))
      .expect(200, { id: idOf(cookiePair(first)) })
  })

  it('re-signs a cookie verified by an old secret, keeping the ID and the data', async () => {
    const adapter = memoryAdapter()
    const before = app({ secret: 'old', adapter })
    const after = app({ secret: ['new', 'old'], adapter })
    const first = await request(before).get('/count').expect(200)
    const rotated = await request(after).get('/count').set('Cookie', cookiePair(first)).expect(200, { count: 2 })
    expect(idOf(cookiePair(rotated))).toBe(idOf(cookiePair(first)))
    expect(cookiePair(rotated)).toBe(`stash=${encodeURIComponent(signId(idOf(cookiePair(first)), 'new'))}`)
    await request(after).get('/count').set('Cookie', cookiePair(rotated)).expect(noStashCookie).expect(200, { count: 3 })
  })

  it("keeps the application's own cookies", async () => {
    const server = app({}, (a) => {
      a.get('/both', (req, res, next) => {
        res.cookie('app', 'one')
        res.setHeader('Set-Cookie', [String(res.getHeader('Set-Cookie')), 'raw=two; Path=/'])
        next()
      })
    })
    server.get('/both', (req, res) => {
      req.stash.count = 1
      res.cookie('late', 'three').json({})
    })
    const res = await request(server).get('/both').expect(200)
    expect(setCookies(res).map((c) => c.split('=')[0])).toEqual(['app', 'raw', 'late', 'stash'])
  })

  it("marks the cookie Secure with secure 'auto' only for secure requests, honouring trust proxy", async () => {
    const trusting = app({}, (a) => a.set('trust proxy', 'loopback'))
    const viaProxy = await request(trusting).get('/count').set('X-Forwarded-Proto', 'https').expect(200)
    expect(setCookie(viaProxy)).toMatch(/; Secure/)
    const plain = await request(trusting).get('/count').expect(200)
    expect(setCookie(plain)).not.toMatch(/Secure/)
    const untrusting = app()
    const spoofed = await request(untrusting).get('/count').set('X-Forwarded-Proto', 'https').expect(200)
    expect(setCookie(spoofed)).not.toMatch(/Secure/)
  })

  it('honours every cookie option', async () => {
    const server = app({
      cookie: {
        name: '__Host-st',
        sameSite: 'strict',
        secure: true,
        httpOnly: false,
        maxAge: 60,
        partitioned: true,
        priority: 'high',
      },
    })
    const res = await request(server).get('/count').expect(200)
    const line = setCookie(res, '__Host-st')!
    const attributes = line.split('; ').slice(1)
    expect(attributes.filter((a) => !a.startsWith('Expires=')).sort()).toEqual([
      'Max-Age=60',
      'Partitioned',
      'Path=/',
      'Priority=High',
      'SameSite=Strict',
      'Secure',
    ])
    expect(attributes).toContainEqual(expect.stringMatching(/^Expires=\w{3}, /))
  })
})
