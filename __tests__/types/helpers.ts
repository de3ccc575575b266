/** Type-test helpers, in the manner of tsd's `expectType`, in plain TypeScript. */

/** True when `A` and `B` are the same type (not merely assignable either way). */
export type Equal<A, B> = (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false

/** Compiles only when `Check` is `true`: `assertType<Equal<typeof x, number>>()`. */
export function assertType<Check extends true>(): Check | void {}

/** Compiles only when `value` is assignable to `T`. */
export function expectAssignable<T>(value: T): T {
  return value
}

/** A value of any type, for expressions that are compiled but never run. */
export declare function anything<T>(): T
