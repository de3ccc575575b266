/**
 * Shared pieces of the adapter contract suite (see ./index.ts): the test functions it runs on,
 * options, the per-group adapter lifecycle, random record keys, expiries, and small reading and
 * assertion helpers. Assertions use `node:assert`, so the suite runs under any test runner.
 * @module
 */
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { setTimeout as sleep } from 'node:timers/promises'
import type { RecordChange, StashAdapter } from '../store/adapter.js'
import { StashError, type StashErrorCode } from '../errors.js'

export { sleep }

/**
 * `deepStrictEqual` of a call's result against what the contract says, versions aside: an
 * adapter that keeps versions adds `version` to loads and compare-and-set results and resolves
 * writes and moves to a `{ version }` receipt (checked to be a positive integer, then left out).
 */
export function equal(actual: unknown, expected: unknown, message?: string): void {
  assert.deepStrictEqual(unversioned(actual, expected), expected, message)
}

/** `actual` without the version an adapter that keeps versions adds to it (where `expected` has none). */
function unversioned(actual: unknown, expected: unknown): unknown {
  if (typeof actual !== 'object' || actual === null || !Object.hasOwn(actual, 'version')) return actual
  if (typeof expected === 'object' && expected !== null && Object.hasOwn(expected, 'version')) return actual
  const { version, ...rest } = actual as { version: unknown }
  assert.ok(Number.isSafeInteger(version) && (version as number) > 0, `a version is a positive integer, got ${String(version)}`)
  return Object.keys(rest).length === 0 && expected === undefined ? undefined : rest
}

/** A test body: the suite's tests are all async. */
export type TestBody = () => Promise<void> | void

/**
 * The test functions the suite registers its groups with: jest's and vitest's globals
 * (`{ describe, test, beforeAll, afterAll }`) or node:test's (`{ describe, test, before, after }`).
 * Give `beforeAll`/`afterAll` or `before`/`after`.
 */
export interface TestApi {
  /** Groups tests, e.g. jest's or node:test's `describe`. */
  describe(name: string, fn: () => void): unknown
  /** Registers one async test, e.g. jest's or node:test's `test`. */
  test(name: string, fn: () => Promise<void>): unknown
  /** Runs once before the tests of the current `describe` (jest, vitest). */
  beforeAll?(fn: TestBody): unknown
  /** Runs once after the tests of the current `describe` (jest, vitest). */
  afterAll?(fn: TestBody): unknown
  /** node:test's name for `beforeAll`. */
  before?(fn: TestBody): unknown
  /** node:test's name for `afterAll`. */
  after?(fn: TestBody): unknown
}

/** Creates the adapter under test; called once per contract group, which closes it afterwards. */
export type AdapterFactory = () => StashAdapter | Promise<StashAdapter>

/** The composable groups of the contract suite, as named in {@link ContractOptions.without}. */
export type ContractGroup = 'records' | 'expiry' | 'maxBytes' | 'compareAndSet' | 'admin'

/** Options of the contract suite. */
export interface ContractOptions {
  /**
   * Extra milliseconds to wait before asserting that a field or record has expired, for stores
   * whose clock or expiry is coarser than the memory adapter's. @default 0
   */
  readonly ttlSlack?: number
  /**
   * Groups to leave out, for an adapter that lacks the capability they test (for example a
   * store without the optional admin methods: `without: ['admin']`). @default [] (every group runs)
   */
  readonly without?: readonly ContractGroup[]
}

/** A fresh record key, unique across tests, processes and runs (safe against a shared store). */
export function randomKey(): string {
  return 'contract-' + randomBytes(12).toString('base64url')
}

/** An expiry `seconds` from now, in milliseconds since the epoch, as adapters take it. */
export function inSeconds(seconds: number): number {
  return Date.now() + seconds * 1000
}

/** Seconds a field lives in tests that do not wait for it to expire. */
export const TTL = 60

/** An expiry no test waits for: {@link TTL} seconds from now. */
export const later = (): number => inSeconds(TTL)

/** Sleeps until `Date.now()` reaches `deadline`. */
export async function sleepUntil(deadline: number): Promise<void> {
  const ms = deadline - Date.now()
  if (ms > 0) await sleep(ms)
}

/** An empty change: with `existing`, it checks that the record exists. */
export const EMPTY: RecordChange = { set: {}, del: [], expiresAt: {} }

/** A change that sets `set`, every field expiring at `expiresAt`, and deletes nothing. */
export function setting(set: Readonly<Record<string, string>>, expiresAt: number): RecordChange {
  return { set, del: [], expiresAt: Object.fromEntries(Object.keys(set).map((field) => [field, expiresAt])) }
}

/**
 * The values `load` gives for `fields`, or `undefined` when the record does not exist. Asserts
 * the shape of what it loaded: one value per field, an expiry exactly where there is a value, and
 * a `createdAt`; and, for an adapter with `loadNow`, that its answer (when it gives one) is the same.
 */
export async function valuesOf(
  adapter: StashAdapter,
  key: string,
  fields: readonly string[],
): Promise<(string | undefined)[] | undefined> {
  const known = adapter.loadNow?.(key, fields)
  const loaded = await adapter.load(key, fields)
  if (known !== undefined) assert.deepEqual(known ?? undefined, loaded, 'loadNow answers what load answers (null: no record)')
  if (loaded === undefined) return undefined
  assert.equal(loaded.values.length, fields.length, 'load gives one value per field asked for')
  assert.equal(loaded.expiresAt.length, fields.length, 'load gives one expiry per field asked for')
  fields.forEach((field, i) => {
    const expiry = loaded.expiresAt[i]
    assert.equal(
      expiry === undefined,
      loaded.values[i] === undefined,
      `load: field ${field} has an expiry exactly when it has a value`,
    )
    if (expiry !== undefined) assert.ok(Number.isFinite(expiry), `load: the expiry of ${field} is a number of ms, got ${expiry}`)
  })
  assert.equal(typeof loaded.createdAt, 'number', 'load gives the createdAt of a record the adapter wrote')
  return loaded.values
}

/**
 * The fields `readAll` gives, or `undefined` when the record does not exist. Asserts the shape of
 * what it read: one expiry per field, at least one field (a record with no live field does not
 * exist), and a `createdAt`.
 */
export async function fieldsOf(adapter: StashAdapter, key: string): Promise<Record<string, string> | undefined> {
  const record = await adapter.readAll(key)
  if (record === undefined) return undefined
  const fields = Object.keys(record.fields)
  assert.ok(fields.length > 0, 'a record with no live field does not exist: readAll resolves undefined')
  assert.deepEqual(Object.keys(record.expiresAt).sort(), fields.sort(), 'readAll gives one expiry per field')
  assert.equal(typeof record.createdAt, 'number', 'readAll gives the createdAt of a record the adapter wrote')
  return { ...record.fields }
}

/** The `beforeAll`/`afterAll` pair of `api`, under either naming; throws when neither is given. */
export function hooksOf(api: TestApi): { beforeAll: (fn: TestBody) => unknown; afterAll: (fn: TestBody) => unknown } {
  const beforeAll = api.beforeAll ?? api.before
  const afterAll = api.afterAll ?? api.after
  for (const [name, fn] of [
    ['describe', api.describe],
    ['test', api.test],
    ['beforeAll (or before)', beforeAll],
    ['afterAll (or after)', afterAll],
  ] as const) {
    if (typeof fn !== 'function') throw new TypeError(`express-stash: the test functions need \`${name}\``)
  }
  return { beforeAll: beforeAll!.bind(api), afterAll: afterAll!.bind(api) }
}

/** The adapter of the current group, as {@link useAdapter} returns it (throws before it exists). */
export type AdapterAccessor = () => StashAdapter

/**
 * Registers hooks in the current `describe` that create an adapter from `factory` before its
 * tests and close it after them, and returns an accessor for it.
 */
export function useAdapter(api: TestApi, factory: AdapterFactory): AdapterAccessor {
  const { beforeAll, afterAll } = hooksOf(api)
  let adapter: StashAdapter | undefined
  beforeAll(async () => {
    adapter = await factory()
  })
  afterAll(async () => {
    await adapter?.close()
  })
  return () => {
    if (adapter === undefined) throw new Error('the adapter factory has not run (or failed)')
    return adapter
  }
}

/** The reason `promise` rejected; fails the test when it resolves. */
export async function rejectionOf(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise
  } catch (err) {
    return err
  }
  throw new assert.AssertionError({ message: 'expected the promise to reject, but it resolved' })
}

/**
 * Asserts that `promise` rejects with a {@link StashError} carrying `code`. An error named
 * `StashError` from another copy of the package (CommonJS next to ESM) counts too.
 */
export async function expectStashError(promise: Promise<unknown>, code: StashErrorCode): Promise<void> {
  const err = await rejectionOf(promise)
  assert.ok(err instanceof Error, `expected a StashError, got ${String(err)}`)
  assert.ok(err instanceof StashError || err.name === 'StashError', `expected a StashError, got ${err.name}: ${err.message}`)
  assert.equal((err as StashError).code, code)
  assert.match(err.message, /^express-stash: /)
}

/** UTF-8 size of a record as `maxBytes` counts it: field names plus values. */
export function byteSize(record: Readonly<Record<string, string>>): number {
  let bytes = 0
  for (const [field, value] of Object.entries(record)) bytes += Buffer.byteLength(field) + Buffer.byteLength(value)
  return bytes
}
