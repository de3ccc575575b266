/**
 * JSON compatibility at compile time. A stored key's value goes through `JSON.stringify` and
 * comes back through `JSON.parse` on a later request, so its type must survive that trip: a
 * `Date` would come back as a string, a `Map` or `Set` as `{}`, a `bigint` would throw.
 */

/** A JSON primitive. */
export type JsonPrimitive = string | number | boolean | null

/**
 * A value JSON round-trips: what a stored key may hold. Object properties may be `undefined`
 * (`JSON.stringify` drops them, so they read back as `undefined`); array elements may not (they
 * come back as `null`). `NaN` and `±Infinity` are numbers the type cannot tell apart: they
 * come back as `null`. An interface has no index signature, so it is not assignable to this
 * type even when its properties are: check such types with {@link IsJsonSafe}.
 */
export type JsonValue = JsonPrimitive | readonly JsonValue[] | { readonly [key: string]: JsonValue | undefined }

/**
 * `true` when a value of type `T` comes back from `JSON.parse(JSON.stringify(value))` with the
 * same type, else `false`:
 *
 * - `string`, `number`, `boolean`, `null` (and their literals, enums and branded strings): yes;
 *   `undefined` at the top (an optional key) and as a property: yes, as an array element: no.
 * - arrays, readonly arrays and tuples: when their elements are; plain object types,
 *   interfaces and records (`Record<string, number>`): when every property is.
 * - a union: when every member is.
 * - `Date`, `RegExp`, `Map`, `Set`, `WeakMap`, `WeakSet`, `Promise`, `Buffer`, typed arrays,
 *   `bigint`, `symbol`, functions and classes, objects with methods (class instances), symbol
 *   keys, or a property named `__proto__`, `constructor` or `prototype` (the restore drops
 *   those): no.
 * - `any`, `unknown`, `object`, `{}`: yes (the type cannot tell).
 *
 * Recursive types (a tree) are checked once per type; beyond 10 levels of distinct nested
 * object and array types the check gives up and says yes.
 *
 * @example
 * const ok: IsJsonSafe<{ tags: readonly string[]; at?: number }> = true
 * const no: IsJsonSafe<{ at: Date }> = false
 */
export type IsJsonSafe<T> = [Verdict<Exclude<T, undefined>, []>] extends [true] ? true : false

/**
 * The string keys of `Data` whose values are {@link IsJsonSafe}: the keys that can be stored.
 * A key holding, say, a `Date` is left out, so naming it in `storedKeys` fails to compile.
 */
export type JsonSafeKey<Data extends object> = {
  [Key in keyof Data & string]: IsJsonSafe<Data[Key]> extends true ? Key : never
}[keyof Data & string]

/** Any function or class. */
type AnyFunction = ((...args: never) => unknown) | (abstract new (...args: never) => unknown)

/** How many levels of distinct nested object and array types are checked before giving up. */
type MaxDepth = 10

/** Built-in objects whose JSON form is not themselves (checked by name, for speed and clarity). */
type NotJsonObject =
  | Date
  | RegExp
  | Map<unknown, unknown>
  | Set<unknown>
  | WeakMap<object, unknown>
  | WeakSet<object>
  | Promise<unknown>
  | ArrayBuffer
  | ArrayBufferView

/**
 * The verdict on `T` (a union gives the union of its members' verdicts, so `boolean` when one
 * member fails). `Seen` holds the object types being checked above this one: the way out of
 * recursive types, and the depth.
 */
type Verdict<T, Seen extends readonly unknown[]> = 0 extends 1 & T
  ? true // any
  : unknown extends T
    ? true
    : T extends JsonPrimitive
      ? true
      : T extends bigint | symbol | undefined | void | NotJsonObject | AnyFunction
        ? false
        : T extends object
          ? Seen['length'] extends MaxDepth
            ? true
            : true extends IsSeen<T, Seen[number]>
              ? true
              : T extends readonly unknown[]
                ? Verdict<T[number], [...Seen, T]>
                : PropertiesVerdict<T, [...Seen, T]>
          : false

/**
 * The verdicts on an object's properties: `undefined` values pass; symbol keys fail (JSON drops
 * them), and so do the keys the restore drops at any depth (see `parseJson` in codec.ts).
 */
type PropertiesVerdict<T, Seen extends readonly unknown[]> = {
  [Key in keyof T]-?: Key extends symbol | DroppedKey ? false : Verdict<Exclude<T[Key], undefined>, Seen>
}[keyof T]

/** Property names the restore drops, as they could reach a prototype. */
type DroppedKey = '__proto__' | 'constructor' | 'prototype'

/** `true` when `T` is one of the types `Seen` (exactly that type, not a subtype). */
type IsSeen<T, Seen> = Seen extends unknown ? Same<T, Seen> : never

/** Whether `A` and `B` are the same type, not merely assignable either way. */
type Same<A, B> = (<X>() => X extends A ? 1 : 2) extends <X>() => X extends B ? 1 : 2 ? true : false
