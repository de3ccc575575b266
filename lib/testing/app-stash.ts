/**
 * `seedStash()` and `readStash()`: an application's own tests write a stash straight into the
 * store and read one back, as the stash instance itself would (its secret, codec, adapter, cookie
 * name and record keys), so a test of a protected route needs no login over HTTP.
 * @module
 */
import { serialize } from 'cookie'
import { readId, signId } from '../cookie/signed-id.js'
import { VerifiedCookies } from '../cookie/verified-cookies.js'
import { message, optionError, optionsObject, secondsOption } from '../errors.js'
import { assertRoundTrips, storedJson } from '../request/json-check.js'
import { ownerOfValue, sessionValueOf } from '../request/session-binding.js'
import type { StashContext } from '../request/stash-context.js'
import { RESERVED_NAMES, type StashData, type StashMiddleware } from '../types.js'
import { newStashId, recordKeyOf, recordKeyOfHash } from '../values/ids.js'
import { cookieHeaderOf, type StashCookieSource } from './app-cookie.js'

export type { StashCookieSource }

/** The data of a stash: the keys of `Data` with their types, and any other key (`passport`, keys of untyped routes). */
export type StashContents<Data extends object = StashData> = { [Key in keyof Data]?: Data[Key] } & Record<string, unknown>

/** Options of {@link seedStash}. */
export interface SeedStashOptions {
  /**
   * Binds the stash to this session value, for an instance with `sessionKey`: the value the
   * request under test must then carry where `sessionKey` reads it (`req.session`, a signed
   * cookie, your function), as `listFor()` and `revokeAll()` take it. @default none: an anonymous stash
   */
  sessionValue?: string | number
  /**
   * Seconds each key lives from now until a request loads it (each load then slides it by its
   * route's ttl): one number for every key, or one per key. @default the instance's `ttl`
   */
  ttl?: number | Readonly<Record<string, number>>
}

/** Options of {@link readStash}. */
export interface ReadStashOptions {
  /** The session value the stash is bound to (`sessionKey`); without it, the cookie's anonymous stash is read. */
  sessionValue?: string | number
}

/** Where createStash() puts the instance's runtime (`Symbol.for`, so that the CommonJS and ESM builds agree). */
const RUNTIME = Symbol.for('express-stash.runtime')

/**
 * Stores a new stash holding `data` under `stash`'s adapter, as a request of that instance would
 * have (values encoded and authenticated with its secret, each key with its ttl), and resolves to
 * the `Cookie` header value that names it: `'stash=s%3A...'` (the instance's cookie name).
 *
 * Every key must be a stored key of the instance or of one of its routes (create the app first),
 * and every value must survive JSON as on any write (`ERR_STASH_SERIALIZE` otherwise).
 *
 * @example
 * const cookie = await seedStash(stash, { user: 'ada' })
 * await request(app).get('/account').set('Cookie', cookie).expect(200)
 */
export async function seedStash<Data extends object = StashData>(
  stash: StashMiddleware<Data>,
  data: StashContents<NoInfer<Data>>,
  options: SeedStashOptions = {},
): Promise<string> {
  const runtime = runtimeOf(stash, 'seedStash')
  const o = optionsObject(options, 'seedStash', new Set(['sessionValue', 'ttl']))
  const json = seedJson(runtime, data)
  const ttlOf = ttlOption(o.ttl, runtime.options.ttl, json)
  const id = newStashId()
  const record = recordKeyOf(id, ownerOf(runtime, o.sessionValue, 'seedStash'))
  const now = Date.now()
  const end = runtime.options.maxLifetime === undefined ? Infinity : now + runtime.options.maxLifetime * 1000
  const set: Record<string, string> = {}
  const expiresAt: Record<string, number> = {}
  for (const [key, text] of json) {
    set[key] = runtime.codec.encode(record, key, text)
    expiresAt[key] = Math.min(now + ttlOf(key) * 1000, end)
  }
  const { adapter, options: resolved, secrets } = runtime
  const receipt = await adapter.write(record, { set, del: [], expiresAt, maxBytes: resolved.maxBytes })
  const version = (receipt as { version?: unknown } | undefined)?.version
  const value = signId(id, secrets[0]!, {
    hint: adapter.recovery?.hint,
    version: typeof version === 'number' ? version : undefined,
  })
  return serialize(resolved.cookie.name, value)
}

/**
 * Reads back the stash a cookie names, as `stash` would load it: the data of every stored key
 * (decoded with the instance's secret), or `undefined` when there is none (no cookie of the
 * instance's name, a cleared cookie, a stash that expired, was reset, rotated away or outlived
 * `maxLifetime`). It changes nothing: no expiry slides, nothing is deleted. A value that fails
 * authentication is left out, as a request would leave it out.
 *
 * A cookie of the instance's name that does not verify with its secrets (another instance's, or
 * altered) is an error (`TypeError`), not `undefined`: an assertion that a stash is gone could
 * otherwise pass for the wrong reason.
 *
 * @example
 * const res = await request(app).post('/cart').set('Cookie', cookie).send({ item: 'apple' })
 * expect(await readStash(stash, cookie)).toEqual({ user: 'ada', cart: ['apple'] })
 */
export async function readStash<Data extends object = StashData>(
  stash: StashMiddleware<Data>,
  cookie: StashCookieSource,
  options: ReadStashOptions = {},
): Promise<StashContents<Data> | undefined> {
  const runtime = runtimeOf(stash, 'readStash')
  const o = optionsObject(options, 'readStash', new Set(['sessionValue']))
  const owner = ownerOf(runtime, o.sessionValue, 'readStash')
  const { adapter, codec, options: resolved, secrets } = runtime
  const header = cookieHeaderOf(cookie, resolved.cookie.name)
  if (header === undefined) return undefined
  const verified = readId(header, resolved.cookie.name, secrets, new VerifiedCookies())
  if (verified === undefined) {
    throw new TypeError(
      message(
        `readStash: the "${resolved.cookie.name}" cookie does not verify with this instance's secret (another instance's cookie, or altered)`,
      ),
    )
  }
  const record = recordKeyOfHash(verified.hash, owner)
  const stored = await adapter.readAll(record)
  if (stored === undefined) return undefined
  const { maxLifetime } = resolved
  if (maxLifetime !== undefined && stored.createdAt !== undefined && stored.createdAt + maxLifetime * 1000 <= Date.now()) {
    return undefined
  }
  const contents: Record<string, unknown> = {}
  for (const [field, value] of Object.entries(stored.fields)) {
    const decoded = codec.decode(record, field, value)
    if (decoded.kind === 'other-version') return undefined // the instance discards such a stash
    if (decoded.kind === 'value') contents[field] = decoded.value
  }
  return Object.keys(contents).length === 0 ? undefined : (contents as StashContents<Data>)
}

/**
 * The runtime of a stash instance (its options, adapter, secrets, codec): what createStash()
 * defines under {@link RUNTIME}. @internal
 */
function runtimeOf(stash: unknown, call: string): StashContext {
  const runtime = typeof stash === 'function' ? (stash as unknown as Record<symbol, unknown>)[RUNTIME] : undefined
  if (typeof runtime !== 'object' || runtime === null) {
    throw new TypeError(message(`${call}(stash, ...) needs the stash instance createStash() returned`))
  }
  const { adapter } = runtime as StashContext
  // An adapter scoped to each request (records in the client's own cookies) has no store to write to or read from.
  if (typeof (adapter as { forRequest?: unknown }).forRequest === 'function') {
    throw new TypeError(message(`${call}: the ${adapter.kind} adapter keeps each stash in the client's cookies, not in a store`))
  }
  return runtime as StashContext
}

/** The JSON text of each key of `data` to seed, checked as a write checks it; keys holding `undefined` are left out. */
function seedJson(runtime: StashContext, data: unknown): Map<string, string> {
  if (typeof data !== 'object' || data === null || Array.isArray(data)) {
    throw new TypeError(message('seedStash(stash, data): data must be an object of stored keys and their values'))
  }
  const json = new Map<string, string>()
  for (const [key, value] of Object.entries(data)) {
    if (RESERVED_NAMES.has(key)) throw new TypeError(message(`seedStash: "${key}" is a reserved name, never a stored key`))
    if (!runtime.declaredKeys.has(key)) {
      const declared = [...runtime.declaredKeys].map((k) => `"${k}"`).join(', ') || 'none'
      throw new TypeError(
        message(
          `seedStash: "${key}" is not a stored key of this stash or of its routes (stored keys: ${declared}); create the routes first`,
        ),
      )
    }
    const text = storedJson(key, value)
    if (text === undefined) continue
    assertRoundTrips(key, value)
    json.set(key, text)
  }
  if (json.size === 0)
    throw new TypeError(message('seedStash: data holds no value to store: a stash without data does not exist'))
  return json
}

/** The ttl of each seeded key: the option's (one number, or one per key), else the instance's. */
function ttlOption(option: unknown, fallback: number, json: ReadonlyMap<string, string>): (key: string) => number {
  if (option === undefined) return () => fallback
  if (typeof option === 'number') {
    const ttl = secondsOption(option, 'seedStash.ttl')
    return () => ttl
  }
  if (typeof option !== 'object' || option === null || Array.isArray(option)) {
    throw optionError('seedStash.ttl', 'a number of seconds, or an object of seconds per key', option)
  }
  const ttls = new Map<string, number>()
  for (const [key, seconds] of Object.entries(option)) {
    if (!json.has(key)) throw new TypeError(message(`seedStash: ttl.${key} names a key that data does not hold`))
    ttls.set(key, secondsOption(seconds, `seedStash.ttl.${key}`))
  }
  return (key) => ttls.get(key) ?? fallback
}

/** The owner of a seeded or read stash: the hash of `sessionValue`, for an instance with `sessionKey`. */
function ownerOf(runtime: StashContext, sessionValue: unknown, call: string): string | undefined {
  if (sessionValue === undefined) return undefined
  if (runtime.options.sessionKey === undefined) {
    throw new TypeError(message(`${call}: sessionValue binds a stash to a session, but this stash has no \`sessionKey\` option`))
  }
  const value = sessionValueOf(sessionValue)
  if (value === undefined || value === null)
    throw optionError(`${call}.sessionValue`, 'a non-empty string or a finite number', sessionValue)
  return ownerOfValue(value)
}
