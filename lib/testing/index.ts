/**
 * `express-stash/testing`: the shared {@link StashAdapter} contract suite (in the manner of
 * keyv's `@keyv/test-suite`). Every adapter, built in or third-party, runs the same tests, so
 * they all behave like the memory adapter. The suite takes the test functions as a parameter
 * and asserts with `node:assert`, so it runs under jest, vitest or node:test:
 *
 * ```ts
 * // jest or vitest
 * import { runAdapterContract } from 'express-stash/testing'
 * runAdapterContract({ describe, test, beforeAll, afterAll }, 'postgres', () => postgresAdapter(url))
 *
 * // node --test
 * import { after, before, describe, test } from 'node:test'
 * runAdapterContract({ describe, test, before, after }, 'postgres', () => postgresAdapter(url))
 * ```
 *
 * The groups can also be registered one by one ({@link recordContract}, {@link expiryContract},
 * {@link maxBytesContract}, {@link compareAndSetContract}, {@link adminContract}). Each group
 * creates its adapter from the factory before its tests and closes it after them; tests use
 * random record keys, so they never collide, even on a store shared with other test files or
 * runs. Expiry is tested with real one- and two-second expiries of each field (no fake timers).
 *
 * For an application's own tests, {@link seedStash} stores a stash for a stash instance and
 * returns its cookie, and {@link readStash} reads one back by cookie (app-stash.ts).
 * @module
 */
import type { StashAdapter } from '../store/adapter.js'
import { adminContract } from './admin.js'
import { expiryContract } from './expiry.js'
import { hooksOf, type AdapterFactory, type ContractGroup, type ContractOptions, type TestApi, type TestBody } from './helpers.js'
import { compareAndSetContract } from './compare-and-set.js'
import { maxBytesContract } from './max-bytes.js'
import { recordContract } from './records.js'

export { adminContract, compareAndSetContract, expiryContract, maxBytesContract, recordContract }
export type { AdapterFactory, ContractGroup, ContractOptions, StashAdapter, TestApi, TestBody }
export {
  readStash,
  seedStash,
  type ReadStashOptions,
  type SeedStashOptions,
  type StashContents,
  type StashCookieSource,
} from './app-stash.js'

type Group = (api: TestApi, name: string, factory: AdapterFactory, options?: ContractOptions) => void

const GROUPS: Record<ContractGroup, Group> = {
  records: recordContract,
  expiry: expiryContract,
  maxBytes: maxBytesContract,
  compareAndSet: compareAndSetContract,
  admin: adminContract,
}

/**
 * Registers the whole contract suite for one adapter: every group except those listed in
 * `options.without`.
 *
 * @param api - The test functions: `{ describe, test, beforeAll, afterAll }` (jest, vitest) or
 *   `{ describe, test, before, after }` (node:test).
 * @param name - The adapter's label in test names, e.g. `"memory"` or `"redis (cluster)"`.
 * @param factory - Creates a fresh adapter; called once per group, which closes it afterwards.
 *   The `admin` group expects its adapter to start empty (a fresh prefix, table or name).
 * @param options - `ttlSlack` for slower stores; `without` to leave out unsupported groups.
 * @example
 * runAdapterContract({ describe, test, beforeAll, afterAll }, 'memory', () => memoryAdapter())
 */
export function runAdapterContract(api: TestApi, name: string, factory: AdapterFactory, options: ContractOptions = {}): void {
  hooksOf(api) // fails at once, not inside a test, when a function is missing
  if (typeof factory !== 'function') throw new TypeError('express-stash: runAdapterContract needs an adapter factory function')
  const without = new Set(options.without ?? [])
  for (const group of without) {
    if (!Object.hasOwn(GROUPS, group))
      throw new TypeError(`express-stash: runAdapterContract: unknown group "${group}" in \`without\``)
  }
  for (const group of Object.keys(GROUPS) as ContractGroup[]) {
    if (!without.has(group)) GROUPS[group](api, name, factory, options)
  }
}
