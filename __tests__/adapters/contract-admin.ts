/**
 * The `admin` group of the adapter contract: listing and clearing records, and the per-owner
 * index behind `listFor()` / `revokeAll()` (record keys `{owner}hash`).
 * @module
 */
import { ownerOfKey } from '../../lib/index.js'
import { randomKey, sleep, useAdapter, type AdapterFactory, type ContractOptions } from './contract-helpers.js'

const TTL = 60
const ownedKey = (owner: string) => `{${owner}}${randomKey()}`

/**
 * Registers the `admin` group. The adapter must implement the optional admin methods
 * (`keys`, `clear`, `ownerKeys`, `deleteOwner`); leave the group out with `without: ['admin']`
 * for one that does not. The group's adapter must start empty (a fresh prefix or table).
 */
export function adminContract(name: string, factory: AdapterFactory, options: ContractOptions = {}): void {
  describe(`${name} adapter contract: admin`, () => {
    const adapter = useAdapter(factory)
    const write = (key: string, ttl = TTL) => adapter().write(key, { set: { f: 'v' }, del: [], ttl })
    const allKeys = async () => {
      const keys: string[] = []
      for await (const batch of adapter().keys!()) keys.push(...batch)
      return keys
    }

    test('ownerOfKey reads the owner in braces', () => {
      expect(ownerOfKey('{abc}hash')).toBe('abc')
      expect(ownerOfKey('hash')).toBeUndefined()
      expect(ownerOfKey('{}hash')).toBeUndefined()
    })

    test('keys() lists every live record, owned or not, and nothing else', async () => {
      const plain = [randomKey(), randomKey(), randomKey()]
      const owned = [ownedKey('o1'), ownedKey('o1')]
      for (const key of [...plain, ...owned]) await write(key)
      await adapter().delete(plain[2]!)
      expect((await allKeys()).sort()).toEqual([plain[0]!, plain[1]!, ...owned].sort())
    })

    test('ownerKeys() lists the live records of one owner; deleteOwner() deletes exactly those', async () => {
      const mine = [ownedKey('alice'), ownedKey('alice'), ownedKey('alice')]
      const theirs = ownedKey('bob')
      for (const key of [...mine, theirs]) await write(key)
      await adapter().delete(mine[2]!)
      expect((await adapter().ownerKeys!('alice')).sort()).toEqual([mine[0]!, mine[1]!].sort())
      await expect(adapter().deleteOwner!('alice')).resolves.toBe(2)
      await expect(adapter().ownerKeys!('alice')).resolves.toEqual([])
      for (const key of mine) await expect(adapter().readAll(key)).resolves.toBeUndefined()
      await expect(adapter().ownerKeys!('bob')).resolves.toEqual([theirs])
      await expect(adapter().deleteOwner!('nobody')).resolves.toBe(0)
    })

    test('an owner listing follows moves and drops expired records', async () => {
      const [from, to, brief] = [ownedKey('carol'), ownedKey('carol'), ownedKey('carol')]
      await write(from)
      await write(brief, 1)
      await adapter().move(from, to, { f: 'v' }, TTL)
      await sleep(1100 + (options.ttlSlack ?? 0))
      await expect(adapter().ownerKeys!('carol')).resolves.toEqual([to])
    })

    test('clear() deletes every record and says how many', async () => {
      const before = (await allKeys()).length
      await write(randomKey())
      await write(ownedKey('dave'))
      await expect(adapter().clear!()).resolves.toBe(before + 2)
      await expect(allKeys()).resolves.toEqual([])
      await expect(adapter().ownerKeys!('dave')).resolves.toEqual([])
    })
  })
}
