import crypto, { createHmac, hkdfSync } from 'node:crypto'
import { createCodec, parseJson } from '../../lib/values/codec.js'
import { VerifiedValues } from '../../lib/values/verified-values.js'

describe('the value codec', () => {
  const codec = createCodec(['secret'], undefined)

  it('round-trips JSON bound to its record and field', () => {
    const stored = codec.encode('rec', 'cart', '["é",1]')
    expect(stored).toMatch(/^[A-Za-z0-9_-]{22}\.\["é",1\]$/)
    expect(codec.decode('rec', 'cart', stored)).toEqual({ kind: 'value', json: '["é",1]', value: ['é', 1] })
  })

  it.each([
    ['another record', (s: string) => codec.decode('other', 'cart', s)],
    ['another field', (s: string) => codec.decode('rec', 'theme', s)],
    ['altered JSON', (s: string) => codec.decode('rec', 'cart', s.replace('1', '2'))],
    ['altered MAC', (s: string) => codec.decode('rec', 'cart', 'A' + s.slice(1))],
    ['another secret', (s: string) => createCodec(['other'], undefined).decode('rec', 'cart', s)],
    ['garbage', () => codec.decode('rec', 'cart', 'not ours')],
    ['empty', () => codec.decode('rec', 'cart', '')],
  ])('rejects a value moved to %s', (_name, decode) => {
    expect(decode(codec.encode('rec', 'cart', '["é",1]'))).toMatchObject({ kind: 'corrupt' })
  })

  it('keeps the stored format: HMAC-SHA256/128 of record, field, version tag and JSON under an HKDF key', () => {
    // Values already in stores were written in this format; it must never change silently.
    const key = Buffer.from(hkdfSync('sha256', 'secret', '', 'express-stash value mac', 32))
    const mac = createHmac('sha256', key).update('rec').update('\n').update('cart').update('\n\n').update('[1]').digest()
    expect(codec.encode('rec', 'cart', '[1]')).toBe(`${mac.toString('base64url', 0, 16)}.[1]`)
    const tag = Buffer.from('v2').toString('base64url')
    const versioned = createHmac('sha256', key).update(`rec\ncart\n${tag}\n[1]`).digest()
    expect(createCodec(['secret'], 'v2').encode('rec', 'cart', '[1]')).toBe(`${versioned.toString('base64url', 0, 16)}${tag}.[1]`)
  })

  it('keeps old values readable while their secret is listed', () => {
    const old = createCodec(['old'], undefined).encode('rec', 'k', '1')
    expect(createCodec(['new', 'old'], undefined).decode('rec', 'k', old)).toMatchObject({ kind: 'value', value: 1 })
  })

  it('tells a value of another version from a forged one', () => {
    const v1 = createCodec(['secret'], '1').encode('rec', 'k', '1')
    expect(createCodec(['secret'], '2').decode('rec', 'k', v1)).toEqual({ kind: 'other-version' })
    expect(codec.decode('rec', 'k', v1)).toEqual({ kind: 'other-version' })
    expect(createCodec(['secret'], '2').decode('rec', 'k', v1.replace(/\.1$/, '.2'))).toMatchObject({ kind: 'corrupt' })
  })

  it('reports authentic but unparsable JSON as corrupt', () => {
    expect(codec.decode('rec', 'k', codec.encode('rec', 'k', '{oops'))).toMatchObject({
      kind: 'corrupt',
      reason: expect.stringMatching(/invalid JSON/),
    })
  })
})

describe('authenticated values are remembered', () => {
  afterEach(() => jest.restoreAllMocks())

  it('reads a value it wrote or authenticated before without computing an HMAC', () => {
    const stored = createCodec(['secret'], undefined).encode('rec', 'cart', '{"n":1}')
    const reader = createCodec(['secret'], undefined)
    const hmac = jest.spyOn(crypto, 'createHmac')
    expect(reader.decode('rec', 'cart', stored)).toMatchObject({ kind: 'value', value: { n: 1 } })
    expect(hmac).toHaveBeenCalledTimes(1)
    expect(reader.decode('rec', 'cart', stored)).toMatchObject({ kind: 'value', value: { n: 1 } })
    expect(hmac).toHaveBeenCalledTimes(1)
    const written = reader.encode('rec', 'theme', '"dark"')
    expect(reader.decode('rec', 'theme', written)).toMatchObject({ kind: 'value', value: 'dark' })
    expect(hmac).toHaveBeenCalledTimes(2) // the encode only
  })

  it('gives every read its own copy of the value', () => {
    const stored = codec().encode('rec', 'cart', '{"items":[1]}')
    const reader = codec()
    const first = reader.decode('rec', 'cart', stored) as { value: { items: number[] } }
    first.value.items.push(2)
    expect(reader.decode('rec', 'cart', stored)).toMatchObject({ kind: 'value', value: { items: [1] } })
  })

  it.each([
    ['another record', (s: string) => ['other', 'cart', s]],
    ['another field', (s: string) => ['rec', 'theme', s]],
    ['altered JSON under the same MAC', (s: string) => ['rec', 'cart', s.replace('1', '2')]],
    ['text appended under the same MAC', (s: string) => ['rec', 'cart', s + ' ']],
  ])('still rejects a remembered value moved to %s', (_name, moved) => {
    const reader = codec()
    const stored = reader.encode('rec', 'cart', '[1]')
    expect(reader.decode('rec', 'cart', stored)).toMatchObject({ kind: 'value' })
    const [record, field, text] = moved(stored) as [string, string, string]
    expect(reader.decode(record, field, text)).toMatchObject({ kind: 'corrupt' })
  })

  it('holds a bounded number of short values, forgetting the oldest first', () => {
    const values = new VerifiedValues(2)
    values.remember('r', 'a', 'mac-a', 'mac-a.1', 6)
    values.remember('r', 'b', 'mac-b', 'mac-b.2', 6)
    values.remember('r', 'c', 'mac-c', 'mac-c.3', 6)
    expect(values.size).toBe(2)
    expect(values.get('r', 'a', 'mac-a', 'mac-a.1')).toBeUndefined()
    expect(values.get('r', 'c', 'mac-c', 'mac-c.3')).toBe('3')
    values.remember('r', 'd', 'mac-d', `mac-d.${'x'.repeat(600)}`, 6)
    expect(values.get('r', 'd', 'mac-d', `mac-d.${'x'.repeat(600)}`)).toBeUndefined()
    expect(values.size).toBe(2)
  })

  function codec() {
    return createCodec(['secret'], undefined)
  }
})

describe('the value codec with encryption', () => {
  const codec = createCodec(['secret'], undefined)
  const encrypted = createCodec(['secret'], undefined, { encrypt: true })

  it('encrypts with a fresh IV each time and decrypts bound to record and field', () => {
    const a = encrypted.encode('rec', 'card', '"4111"')
    const b = encrypted.encode('rec', 'card', '"4111"')
    expect(a).toMatch(/^!\.[A-Za-z0-9_-]+$/)
    expect(a).not.toBe(b)
    expect(a).not.toContain('4111')
    expect(encrypted.decode('rec', 'card', a)).toEqual({ kind: 'value', json: '"4111"', value: '4111' })
    expect(encrypted.decode('other', 'card', a)).toMatchObject({ kind: 'corrupt' })
    expect(encrypted.decode('rec', 'pin', a)).toMatchObject({ kind: 'corrupt' })
    expect(encrypted.decode('rec', 'card', a.slice(0, -3) + (a.endsWith('A') ? 'BBB' : 'AAA'))).toMatchObject({ kind: 'corrupt' })
    expect(encrypted.decode('rec', 'card', '!.AAAA')).toMatchObject({ kind: 'corrupt' })
  })

  it('reads both forms, so encryption can be switched on or off on a live store', () => {
    expect(encrypted.decode('rec', 'k', codec.encode('rec', 'k', '1'))).toMatchObject({ kind: 'value', value: 1 })
    expect(codec.decode('rec', 'k', encrypted.encode('rec', 'k', '1'))).toMatchObject({ kind: 'value', value: 1 })
  })

  it('decrypts with an old secret while it is listed, and knows other versions', () => {
    const old = createCodec(['old'], '1', { encrypt: true }).encode('rec', 'k', '1')
    expect(createCodec(['new', 'old'], '1', { encrypt: true }).decode('rec', 'k', old)).toMatchObject({ kind: 'value', value: 1 })
    expect(createCodec(['new'], '1', { encrypt: true }).decode('rec', 'k', old)).toMatchObject({ kind: 'corrupt' })
    expect(createCodec(['old'], '2', { encrypt: true }).decode('rec', 'k', old)).toEqual({ kind: 'other-version' })
  })
})

describe('parseJson', () => {
  it.each([
    '{"__proto__":{"polluted":true}}',
    '{"a":{"constructor":{"prototype":{"polluted":true}}}}',
    '[{"\\u005f_proto__":{"polluted":true}}]',
  ])('drops prototype-polluting keys from %s', (json) => {
    const parsed = parseJson(json)
    const merged = Object.assign({}, ...(Array.isArray(parsed) ? parsed : [parsed]))
    expect(JSON.stringify(parsed)).not.toMatch(/proto|constructor|prototype/)
    expect(({} as Record<string, unknown>).polluted).toBeUndefined()
    expect(merged.polluted).toBeUndefined()
  })

  it('keeps ordinary data, including the words as values', () => {
    expect(parseJson('{"a":["constructor",{"b":"__proto__"}]}')).toEqual({ a: ['constructor', { b: '__proto__' }] })
  })
})

describe('the value codec of an in-process adapter (authenticate: false)', () => {
  const plain = createCodec(['secret'], undefined, { authenticate: false })
  const authenticating = createCodec(['secret'], undefined)

  it('stores values without a MAC and reads them back', () => {
    const stored = plain.encode('rec', 'cart', '{"n":1}')
    expect(stored).toBe('=.{"n":1}')
    expect(plain.decode('rec', 'cart', stored)).toEqual({ kind: 'value', json: '{"n":1}', value: { n: 1 } })
  })

  it('is refused by a codec that authenticates: a store outside the process cannot be fed plain values', () => {
    expect(authenticating.decode('rec', 'cart', plain.encode('rec', 'cart', '1'))).toEqual({
      kind: 'corrupt',
      reason: 'a value without a MAC',
    })
  })

  it('still reads MAC-ed and encrypted values, and still encrypts when asked', () => {
    expect(plain.decode('rec', 'k', authenticating.encode('rec', 'k', '2'))).toMatchObject({ kind: 'value', value: 2 })
    expect(plain.decode('rec', 'k', authenticating.encode('rec', 'k', '2').replace('.2', '.3'))).toMatchObject({
      kind: 'corrupt',
    })
    const sealed = createCodec(['secret'], undefined, { encrypt: true, authenticate: false }).encode('rec', 'k', '"pin"')
    expect(sealed).toMatch(/^!\./)
    expect(plain.decode('rec', 'k', sealed)).toMatchObject({ kind: 'value', value: 'pin' })
  })

  it('keeps the version tag, so values of another version are told apart', () => {
    const v1 = createCodec(['secret'], '1', { authenticate: false }).encode('rec', 'k', '1')
    expect(v1).toBe(`=${Buffer.from('1').toString('base64url')}.1`)
    expect(createCodec(['secret'], '2', { authenticate: false }).decode('rec', 'k', v1)).toEqual({ kind: 'other-version' })
    expect(createCodec(['secret'], '1', { authenticate: false }).decode('rec', 'k', v1)).toMatchObject({
      kind: 'value',
      value: 1,
    })
    expect(plain.decode('rec', 'k', '=no-dot')).toMatchObject({ kind: 'corrupt' })
    expect(plain.decode('rec', 'k', '=.{oops')).toMatchObject({ kind: 'corrupt' })
  })
})
