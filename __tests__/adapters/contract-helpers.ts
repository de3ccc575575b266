/**
 * Shared pieces of the adapter contract suite (see ./contract.ts): options, the per-group
 * adapter lifecycle, random record keys and small assertion helpers.
 * @module
 */
import { randomBytes } from 'node:crypto'
import { setTimeout as sleep } from 'node:timers/promises'
import { StashError, type StashAdapter, type StashErrorCode } from '../../lib/index.js'

export { sleep }

/** Creates the adapter under test; called once per contract group (in `beforeAll`). */
export type AdapterFactory = () => StashAdapter | Promise<StashAdapter>

/** The composable groups of the contract suite, as named in {@link ContractOptions.without}. */
export type ContractGroup = 'records' | 'expiry' | 'maxBytes' | 'compareAndSet' | 'admin'

/** Options of the contract suite. */
export interface ContractOptions {
  /**
   * Extra milliseconds to wait before asserting that a record has expired, for stores whose
   * clock or expiry is coarser than the memory adapter's. @default 0
   */
  readonly ttlSlack?: number
  /**
   * Groups to leave out, for an adapter that lacks the capability they test (for example a
   * store without size limits: `without: ['maxBytes']`). @default none: every group runs
   */
  readonly without?: readonly ContractGroup[]
}

/** A fresh record key, unique across tests, processes and runs (safe against a shared Redis). */
export function randomKey(): string {
  return 'contract-' + randomBytes(12).toString('base64url')
}

/**
 * Registers `beforeAll` / `afterAll` hooks in the current `describe` that create an adapter from
 * `factory` and close it, and returns an accessor for it.
 */
export function useAdapter(factory: AdapterFactory): () => StashAdapter {
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
  throw new Error('expected the promise to reject, but it resolved')
}

/** Asserts that `promise` rejects with a {@link StashError} carrying `code`. */
export async function expectStashError(promise: Promise<unknown>, code: StashErrorCode): Promise<void> {
  const err = await rejectionOf(promise)
  expect(err).toBeInstanceOf(StashError)
  expect((err as StashError).code).toBe(code)
  expect((err as StashError).message).toMatch(/^express-stash: /)
}

/** UTF-8 size of a record as `maxBytes` counts it: field names plus values. */
export function byteSize(record: Readonly<Record<string, string>>): number {
  let bytes = 0
  for (const [field, value] of Object.entries(record)) bytes += Buffer.byteLength(field) + Buffer.byteLength(value)
  return bytes
}
