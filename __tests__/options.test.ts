import { createStash, DEFAULTS, memoryAdapter, type StashOptions } from '../lib/index.js'
import { resolveOptions, resolveRouteOptions } from '../lib/options.js'

const invalid = (options: unknown) => () => createStash(options as StashOptions)

describe('createStash options', () => {
  it('applies the documented defaults', () => {
    const resolved = resolveOptions({})
    expect(resolved).toMatchObject({
      storedKeys: [],
      ttl: 300,
      touch: true,
      rolling: false,
      onUnavailable: 'error',
      maxBytes: 1048576,
      version: undefined,
    })
    expect(resolved.cookie).toEqual({
      name: 'stash',
      path: '/',
      domain: undefined,
      httpOnly: true,
      sameSite: 'lax',
      secure: 'auto',
      maxAge: undefined,
      partitioned: false,
      priority: undefined,
    })
    expect(DEFAULTS.ttl).toBe(300)
  })

  it.each([
    [{ nope: 1 }, /unknown option `nope`/],
    [{ cookie: { nme: 'x' } }, /unknown option `cookie.nme`/],
    [{ secret: '' }, /`secret` must be a non-empty string/],
    [{ secret: [] }, /`secret`/],
    [{ secret: ['a', 3] }, /`secret`/],
    [{ adapter: {} }, /`adapter` must be a StashAdapter \(missing load, write/],
    [{ storedKeys: 'cart' }, /`storedKeys` must be an array/],
    [{ storedKeys: [''] }, /`storedKeys` must be an array of non-empty strings/],
    [{ storedKeys: ['a', 'a'] }, /lists "a" twice/],
    [{ storedKeys: ['save'] }, /"save" is reserved/],
    [{ storedKeys: ['update'] }, /reserved/],
    [{ storedKeys: ['available'] }, /reserved/],
    [{ storedKeys: ['__proto__'] }, /reserved/],
    [{ storedKeys: ['constructor'] }, /reserved/],
    [{ storedKeys: ['then'] }, /reserved/],
    [{ storedKeys: ['toJSON'] }, /reserved/],
    [{ ttl: 0 }, /`ttl` must be a positive number of seconds, got 0/],
    [{ ttl: -5 }, /`ttl`/],
    [{ ttl: Infinity }, /`ttl`/],
    [{ ttl: '300' }, /`ttl`/],
    [{ touch: 'yes' }, /`touch` must be a boolean/],
    [{ rolling: 1 }, /`rolling` must be a boolean/],
    [{ sessionKey: '' }, /`sessionKey`/],
    [{ sessionKey: 3 }, /`sessionKey`/],
    [{ version: '' }, /`version`/],
    [{ version: NaN }, /`version`/],
    [{ onUnavailable: 'ignore' }, /`onUnavailable` must be one of 'error', 'continue'/],
    [{ maxBytes: 1.5 }, /`maxBytes` must be a positive integer/],
    [{ encrypt: 'yes' }, /`encrypt` must be a boolean/],
    [{ cookie: 'stash' }, /`cookie` must be an object/],
    [{ cookie: { name: 'a b' } }, /`cookie.name` must be a valid cookie name/],
    [{ cookie: { path: 'a;b' } }, /`cookie.path`/],
    [{ cookie: { sameSite: 'lax ' } }, /`cookie.sameSite`/],
    [{ cookie: { secure: 'yes' } }, /`cookie.secure`/],
    [{ cookie: { maxAge: 0 } }, /`cookie.maxAge`/],
    [{ cookie: { priority: 'urgent' } }, /`cookie.priority`/],
    [{ cookie: { sameSite: 'none', secure: false } }, /SameSite=None/],
    [{ cookie: { name: '__Host-s', secure: false } }, /`cookie.secure`/],
    [{ cookie: { name: '__Host-s', path: '/app' } }, /`cookie.path` must be '\/' for a __Host- cookie/],
    [{ cookie: { name: '__Host-s', domain: 'example.com' } }, /`cookie.domain` must be absent/],
    [{ cookie: { name: '__Secure-s', secure: false } }, /`cookie.secure`/],
  ])('refuses %j with a TypeError naming the option', (options, message) => {
    expect(invalid(options)).toThrow(TypeError)
    expect(invalid(options)).toThrow(message)
    expect(invalid(options)).toThrow(/^express-stash: /)
  })

  it('rounds a fractional ttl up to whole seconds', () => {
    expect(resolveOptions({ ttl: 0.2 }).ttl).toBe(1)
    expect(resolveOptions({ ttl: 59.1 }).ttl).toBe(60)
    expect(resolveRouteOptions({ ttl: 1.5 }).ttl).toBe(2)
  })

  it('validates route options the same way', () => {
    const stash = createStash({ secret: 's', adapter: memoryAdapter() })
    expect(() => stash.route({ storedKeys: ['rotate'] })).toThrow(/`route.storedKeys` entry "rotate" is reserved/)
    expect(() => stash.route({ ttl: 0 })).toThrow(/`route.ttl`/)
    expect(() => stash.route({ secret: 'x' } as never)).toThrow(/unknown option `route options.secret`/)
    void stash.close()
  })
})

describe('the secret', () => {
  const env = process.env.NODE_ENV
  afterEach(() => {
    process.env.NODE_ENV = env
  })

  it('is required in production', () => {
    process.env.NODE_ENV = 'production'
    expect(() => createStash()).toThrow(/`secret` must be set when NODE_ENV is production/)
  })

  const warningCodes = (spy: jest.SpyInstance) =>
    spy.mock.calls.map(([, options]) => (options as { code?: string } | undefined)?.code)

  it('falls back to a development secret elsewhere, warning once', async () => {
    process.env.NODE_ENV = 'development'
    const emitWarning = jest.spyOn(process, 'emitWarning').mockImplementation(() => undefined)
    const stashes = [createStash(), createStash()]
    expect(warningCodes(emitWarning)).toEqual(['EXPRESS_STASH_DEVELOPMENT_SECRET'])
    emitWarning.mockRestore()
    await Promise.all(stashes.map((s) => s.close()))
  })

  it('must be at least 32 characters in production, every secret of a list', () => {
    process.env.NODE_ENV = 'production'
    expect(() => createStash({ secret: 'x'.repeat(31) })).toThrow(/`secret` must be at least 32 characters long .*\(it has 31\)/)
    expect(() => createStash({ secret: ['x'.repeat(32), 'short old one'] })).toThrow(/\(entry 1 has 13\)/)
    process.env.NODE_ENV = 'development'
    const stash = createStash({ secret: 'short' }) // fine outside production
    void stash.close()
  })

  it('warns when the cookie is not secure in production', async () => {
    process.env.NODE_ENV = 'production'
    const emitWarning = jest.spyOn(process, 'emitWarning').mockImplementation(() => undefined)
    const stash = createStash({ secret: 'a production secret of 32 chars!', cookie: { secure: false } })
    expect(warningCodes(emitWarning)).toEqual(['EXPRESS_STASH_INSECURE_COOKIE'])
    emitWarning.mockRestore()
    await stash.close()
  })
})
