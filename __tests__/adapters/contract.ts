/**
 * The shared `StashAdapter` contract suite (in the manner of keyv's `@keyv/test-suite` and
 * unstorage's shared driver tests). Every adapter runs the same tests, so memory and Redis
 * behave identically:
 *
 * ```ts
 * import { runAdapterContract } from './contract.js'
 * runAdapterContract('memory', () => memoryAdapter())
 * runAdapterContract('redis', () => redisAdapter({ client }), { ttlSlack: 200 })
 * ```
 *
 * The groups can also be registered one by one ({@link recordContract}, {@link expiryContract},
 * {@link maxBytesContract}, {@link compareAndSetContract}, {@link adminContract}). Each group creates its adapter from
 * the factory in `beforeAll` and closes it in `afterAll`; tests use random record keys, so they
 * never collide, even on a store shared with other test files or runs. Only the contract of
 * `lib/adapter.ts` is tested, with real short ttls (no fake timers).
 * @module
 */
import { adminContract } from './contract-admin.js'
import { compareAndSetContract, maxBytesContract } from './contract-limits.js'
import { expiryContract } from './contract-expiry.js'
import type { AdapterFactory, ContractGroup, ContractOptions } from './contract-helpers.js'
import { recordContract } from './contract-records.js'

export { adminContract, compareAndSetContract, expiryContract, maxBytesContract, recordContract }
export type { AdapterFactory, ContractGroup, ContractOptions }

const GROUPS: Record<ContractGroup, (name: string, factory: AdapterFactory, options?: ContractOptions) => void> = {
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
 * @param name - The adapter's label in test names, e.g. `"memory"` or `"redis (cluster)"`.
 * @param factory - Creates a fresh adapter; called once per group, which closes it afterwards.
 * @param options - `ttlSlack` for slower stores; `without` to leave out unsupported groups.
 */
export function runAdapterContract(name: string, factory: AdapterFactory, options: ContractOptions = {}): void {
  const without = new Set(options.without ?? [])
  for (const group of without) {
    if (!Object.hasOwn(GROUPS, group)) throw new TypeError(`runAdapterContract: unknown group "${group}" in \`without\``)
  }
  for (const group of Object.keys(GROUPS) as ContractGroup[]) {
    if (!without.has(group)) GROUPS[group](name, factory, options)
  }
}
