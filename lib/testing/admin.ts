/**
 * The `admin` group of the adapter contract: listing and clearing records, and the per-owner
 * index behind `listFor()` / `revokeAll()` (record keys `{owner}hash`).
 * @module
 */
import { ownerOfKey } from '../store/adapter.js'
import {
  type AdapterAccessor,
  type AdapterFactory,
  type ContractOptions,
  equal,
  fieldsOf,
  inSeconds,
  randomKey,
  setting,
  sleepUntil,
  type TestApi,
  TTL,
  useAdapter,
} from './helpers.js'

const ownedKey = (owner: string) => `{${owner}}${randomKey()}`

/**
 * Registers the `admin` group. The adapter must implement the optional admin methods
 * (`keys`, `clear`, `ownerKeys`, `deleteOwner`), honouring the record-key test `keys(match)` and
 * `clear(match)` take; leave the group out with `without: ['admin']` for one that does not. The
 * group's adapter must start empty (a fresh prefix or table).
 */
export function adminContract(api: TestApi, name: string, factory: AdapterFactory, options: ContractOptions = {}): void {
  api.describe(`${name} adapter contract: admin`, () => {
    const adapter = useAdapter(api, factory)
    const tools: AdminTools = {
      adapter,
      write: (key, expiresAt = inSeconds(TTL)) => adapter().write(key, setting({ f: 'v' }, expiresAt)),
      allKeys: async () => {
        const keys: string[] = []
        for await (const batch of adapter().keys!()) keys.push(...batch)
        return keys
      },
      slack: options.ttlSlack ?? 0,
    }
    listingTests(api, tools)
    matchAndClearTests(api, tools)
  })
}

/** What the tests of the group share. */
interface AdminTools {
  /** The group's adapter. */
  readonly adapter: AdapterAccessor
  /** Writes the record `key` with one field, expiring at `expiresAt` (default: in 60 seconds). */
  write(key: string, expiresAt?: number): Promise<unknown>
  /** Every record key `keys()` lists. */
  allKeys(): Promise<string[]>
  /** The adapter's `ttlSlack`. */
  readonly slack: number
}

/** `ownerOfKey`, `keys()`, `ownerKeys()` and `deleteOwner()`, across moves and expiry. */
function listingTests(api: TestApi, { adapter, write, allKeys, slack }: AdminTools): void {
  api.test('ownerOfKey reads the owner in braces', async () => {
    equal(ownerOfKey('{abc}hash'), 'abc')
    equal(ownerOfKey('hash'), undefined)
    equal(ownerOfKey('{}hash'), undefined)
  })

  api.test('keys() lists every live record, owned or not, and nothing else', async () => {
    const plain = [randomKey(), randomKey(), randomKey()]
    const owned = [ownedKey('o1'), ownedKey('o1')]
    for (const key of [...plain, ...owned]) await write(key)
    await adapter().delete(plain[2]!)
    equal((await allKeys()).sort(), [plain[0]!, plain[1]!, ...owned].sort())
  })

  api.test('ownerKeys() lists the live records of one owner; deleteOwner() deletes exactly those', async () => {
    const mine = [ownedKey('alice'), ownedKey('alice'), ownedKey('alice')]
    const theirs = ownedKey('bob')
    for (const key of [...mine, theirs]) await write(key)
    await adapter().delete(mine[2]!)
    equal((await adapter().ownerKeys!('alice')).sort(), [mine[0]!, mine[1]!].sort())
    equal(await adapter().deleteOwner!('alice'), 2)
    equal(await adapter().ownerKeys!('alice'), [])
    for (const key of mine) equal(await adapter().readAll(key), undefined)
    equal(await adapter().ownerKeys!('bob'), [theirs])
    equal(await adapter().deleteOwner!('nobody'), 0)
  })

  api.test('an owner listing follows moves and drops expired records', async () => {
    const [from, to, brief] = [ownedKey('carol'), ownedKey('carol'), ownedKey('carol')]
    const soon = inSeconds(1)
    await write(from)
    await write(brief, soon)
    await adapter().move(from, to, { fields: { f: 'v' }, expiresAt: { f: inSeconds(TTL) }, createdAt: undefined })
    await sleepUntil(soon + 100 + slack)
    equal(await adapter().ownerKeys!('carol'), [to])
  })

  api.test('the owner index outlives every record of its owner, however their expiries were set', async () => {
    const ivan = () => ownedKey('ivan')
    const [long, short, shrunk, slid, mixed, swapped] = [ivan(), ivan(), ivan(), ivan(), ivan(), ivan()]
    const [soon, later] = [inSeconds(1), inSeconds(TTL)]
    await write(long, later)
    await write(short, soon) // written after `long`, expiring first: the index must not shrink to it
    await write(shrunk, later)
    await adapter().write(shrunk, { set: {}, del: [], expiresAt: { f: soon } }) // shortened: gone with `short`
    await write(slid, soon)
    await adapter().write(slid, { set: {}, del: [], expiresAt: { f: later } }) // slid with no new value
    await adapter().write(mixed, { set: { a: '1', b: '2' }, del: [], expiresAt: { a: soon, b: later } })
    await write(swapped, soon)
    equal(
      await adapter().compareAndSet(swapped, { field: 'g', expected: undefined, next: 'v', expiresAt: { g: soon, f: later } }),
      {
        ok: true,
      },
    )
    await sleepUntil(soon + 100 + slack)
    equal(await fieldsOf(adapter(), mixed), { b: '2' })
    equal((await adapter().ownerKeys!('ivan')).sort(), [long, slid, mixed, swapped].sort())
    equal(await adapter().deleteOwner!('ivan'), 4)
    equal(await adapter().ownerKeys!('ivan'), [])
  })
}

/** `keys(match)`, `clear(match)` and `clear()`. */
function matchAndClearTests(api: TestApi, { adapter, write, allKeys, slack }: AdminTools): void {
  api.test('keys(match) lists only the live records match accepts, and hands match record keys', async () => {
    const mine = [randomKey(), ownedKey('erin')]
    const theirs = [randomKey(), ownedKey('erin')]
    for (const key of [...mine, ...theirs]) await write(key)
    const written = new Set([...(await allKeys()), ...mine, ...theirs])
    const asked: string[] = []
    const match = (key: string) => {
      asked.push(key)
      return mine.includes(key)
    }
    const listed: string[] = []
    for await (const batch of adapter().keys!(match)) listed.push(...batch)
    equal(listed.sort(), [...mine].sort())
    for (const key of theirs) equal(asked.includes(key), true, `match was not asked about ${key}`)
    for (const key of asked) equal(written.has(key), true, `match was asked about ${key}, which is no record key`)
    for (const key of [...mine, ...theirs]) await adapter().delete(key)
  })

  api.test('clear(match) deletes only the records match accepts; the others and their owner listings stay', async () => {
    const mine = [randomKey(), randomKey(), ownedKey('frank'), ownedKey('gina'), ownedKey('gina')]
    const theirs = [randomKey(), ownedKey('frank'), ownedKey('hugo')]
    for (const key of [...mine, ...theirs]) await write(key)
    const brief = randomKey()
    const soon = inSeconds(1)
    await write(brief, soon)
    await sleepUntil(soon + 100 + slack)
    const accepted = new Set([...mine, brief])
    equal(await adapter().clear!((key) => accepted.has(key)), mine.length) // the expired one is not counted
    const left = await allKeys()
    for (const key of mine) equal(left.includes(key), false, `${key} survived clear(match)`)
    for (const key of theirs) equal(left.includes(key), true, `${key} was cleared though match refused it`)
    equal(await adapter().ownerKeys!('frank'), [theirs[1]!])
    equal(await adapter().ownerKeys!('gina'), [])
    equal(await adapter().ownerKeys!('hugo'), [theirs[2]!])
    equal(await fieldsOf(adapter(), theirs[0]!), { f: 'v' })
    equal(await adapter().clear!(() => false), 0)
    for (const key of theirs) await adapter().delete(key)
  })

  api.test('clear() deletes every record and says how many', async () => {
    const before = (await allKeys()).length
    await write(randomKey())
    await write(ownedKey('dave'))
    equal(await adapter().clear!(), before + 2)
    equal(await allKeys(), [])
    equal(await adapter().ownerKeys!('dave'), [])
  })
}
