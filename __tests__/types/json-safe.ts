/**
 * Stored keys must survive JSON: a key whose value type `JSON.parse(JSON.stringify(v))` does not
 * give back (a Date comes back as a string) cannot be in `storedKeys` or `update()`; keys used
 * within one request only may hold anything.
 */
import type { Request, Response } from 'express'
import { createStash, type IsJsonSafe, type JsonValue, type StashRequest } from 'express-stash'
import { assertType, expectAssignable, type Equal } from './helpers.js'

class Point {
  constructor(
    public x: number,
    public y: number,
  ) {}
  length(): number {
    return Math.hypot(this.x, this.y)
  }
}

interface Tree {
  label: string
  children: Tree[]
  parent?: Tree
}

interface Address {
  street: string
  zip?: string
  lines: readonly string[]
}

type Json = { kind: 'json'; body: JsonValue }

interface Data {
  // JSON-safe
  name: string
  count: number
  flag: boolean
  nothing: null
  maybe?: string
  address: Address
  nested: { a: { b: { c: number[] }[] } }
  tuple: readonly [number, string]
  tags: readonly string[]
  status: 'draft' | 'sent' | { error: string }
  scores: Record<string, number>
  tree: Tree
  json: Json
  loose: unknown
  anything: any // eslint-disable-line @typescript-eslint/no-explicit-any
  // not JSON-safe
  when: Date
  lookup: Map<string, number>
  seen: Set<string>
  cache: WeakMap<object, string>
  pattern: RegExp
  big: bigint
  sym: symbol
  callback: () => void
  point: Point
  bytes: Uint8Array
  buffer: Buffer
  deepDate: { a: { b: { when: Date }[] } }
  maybeDate?: Date
  dateOrString: Date | string
  holes: (number | undefined)[]
  interfaceWithMethod: { label: string; render(): string }
  treeOfDates: { at: Date; children: Tree[] }
}

createStash<Data>({
  storedKeys: ['name', 'count', 'flag', 'nothing', 'maybe', 'address', 'nested', 'tuple', 'tags', 'status'],
})
const stash = createStash<Data>({ storedKeys: ['scores', 'tree', 'json', 'loose', 'anything'] })
stash.route({ storedKeys: ['address', 'tree'] })

// @ts-expect-error a Date comes back as a string
createStash<Data>({ storedKeys: ['when'] })
// @ts-expect-error a Map comes back as {}
createStash<Data>({ storedKeys: ['lookup'] })
// @ts-expect-error a Set comes back as {}
createStash<Data>({ storedKeys: ['seen'] })
// @ts-expect-error a WeakMap cannot be serialized
createStash<Data>({ storedKeys: ['cache'] })
// @ts-expect-error a RegExp comes back as {}
createStash<Data>({ storedKeys: ['pattern'] })
// @ts-expect-error JSON.stringify throws on a bigint
createStash<Data>({ storedKeys: ['big'] })
// @ts-expect-error a symbol is dropped
createStash<Data>({ storedKeys: ['sym'] })
// @ts-expect-error a function is dropped
createStash<Data>({ storedKeys: ['callback'] })
// @ts-expect-error a class instance loses its prototype (its methods)
createStash<Data>({ storedKeys: ['point'] })
// @ts-expect-error a typed array comes back as an object of indices
createStash<Data>({ storedKeys: ['bytes'] })
// @ts-expect-error a Buffer comes back as { type, data }
createStash<Data>({ storedKeys: ['buffer'] })
// @ts-expect-error a Date nested in arrays and objects
createStash<Data>({ storedKeys: ['deepDate'] })
// @ts-expect-error an optional Date
createStash<Data>({ storedKeys: ['maybeDate'] })
// @ts-expect-error a union with one member that is not JSON-safe
createStash<Data>({ storedKeys: ['dateOrString'] })
// @ts-expect-error undefined in an array comes back as null
createStash<Data>({ storedKeys: ['holes'] })
// @ts-expect-error an object with a method
createStash<Data>({ storedKeys: ['interfaceWithMethod'] })
// @ts-expect-error a recursive type holding a Date
createStash<Data>({ storedKeys: ['treeOfDates'] })
// @ts-expect-error one bad key among good ones
createStash<Data>({ storedKeys: ['name', 'when', 'count'] })
// @ts-expect-error route() keys too
stash.route({ storedKeys: ['when'] })
// @ts-expect-error route() keys too, nested
stash.route({ storedKeys: ['tree', 'deepDate'] })

// Within one request, any key may hold any type; update() persists, so its key must be JSON-safe.
stash.on('error', () => {})
export function handler(req: StashRequest<Data, Request>, res: Response): void {
  req.stash.when = new Date()
  req.stash.lookup = new Map([['a', 1]])
  req.stash.point = new Point(1, 2)
  void req.stash.update('count', (n) => (n ?? 0) + 1)
  void req.stash.update('tree', (tree) => tree ?? { label: 'root', children: [] })
  // @ts-expect-error update() of a key whose type JSON cannot round-trip
  void req.stash.update('when', () => new Date())
  // @ts-expect-error update() of a class instance
  void req.stash.update('point', () => new Point(0, 0))
  res.end()
}

// The check itself.
assertType<Equal<IsJsonSafe<string | number | boolean | null | undefined>, true>>()
assertType<Equal<IsJsonSafe<{ a?: string; b: { c: readonly [1, 'x'] } }>, true>>()
assertType<Equal<IsJsonSafe<Record<string, number>>, true>>()
assertType<Equal<IsJsonSafe<Record<string, Date>>, false>>()
assertType<Equal<IsJsonSafe<Tree>, true>>()
assertType<Equal<IsJsonSafe<Address[]>, true>>()
assertType<Equal<IsJsonSafe<JsonValue>, true>>()
assertType<Equal<IsJsonSafe<string & { readonly brand: 'UserId' }>, true>>()
assertType<Equal<IsJsonSafe<unknown>, true>>()
assertType<Equal<IsJsonSafe<never>, true>>()
assertType<Equal<IsJsonSafe<Date>, false>>()
assertType<Equal<IsJsonSafe<Set<string>[]>, false>>()
assertType<Equal<IsJsonSafe<{ [Symbol.iterator]: number }>, false>>()
assertType<Equal<IsJsonSafe<typeof Point>, false>>()
assertType<Equal<IsJsonSafe<{ nested: { constructor: string } }>, false>>()
assertType<Equal<IsJsonSafe<Promise<string>>, false>>()
assertType<Equal<IsJsonSafe<[number, string?]>, false>>()
expectAssignable<JsonValue>({ a: [1, 'two', null, { b: true }], c: undefined })
// @ts-expect-error a Date is not a JsonValue
expectAssignable<JsonValue>({ at: new Date() })

// A generic list and an infinitely expanding type do not blow up the compiler.
interface List<T> {
  head: T
  tail?: List<T>
}
interface Nest<T> {
  value: T
  next: Nest<T[]>
}
assertType<Equal<IsJsonSafe<List<{ id: string }>>, true>>()
assertType<Equal<IsJsonSafe<List<Date>>, false>>()
assertType<Equal<IsJsonSafe<Nest<number>>, true>>()
