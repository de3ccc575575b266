/**
 * The JSON checks of stored values: their text, and whether they come back equal.
 * @module
 */
import { StashError } from '../errors.js'

// Keys the restore drops at any depth (see `parseJson` in codec.ts).
const DROPPED_KEYS = new Set(['__proto__', 'constructor', 'prototype'])

/** The JSON text of a stored key's value; `undefined` for `undefined` (the key is removed). */
export function storedJson(key: string, value: unknown): string | undefined {
  try {
    return JSON.stringify(value)
  } catch (err) {
    throw serializeError(key, (err as Error).message, err)
  }
}

/**
 * Fails with `ERR_STASH_SERIALIZE`, naming the key and the place inside it, when a value about
 * to be written would not come back equal on the next request: a `Date` (it would come back as
 * a string), a `Map`, `Set`, `RegExp`, typed array or class instance (as a plain object), `NaN`
 * or an infinity (as `null`), a function or symbol (dropped), a hole or `undefined` in an array
 * (as `null`), a key the restore drops (`__proto__`, `constructor`, `prototype`). An `undefined`
 * object property is fine: it is left out and reads back as `undefined`.
 */
export function assertRoundTrips(key: string, value: unknown): void {
  const problem = problemOf(value, key, false)
  if (problem !== undefined) throw serializeError(key, problem)
}

/** Why `value` (already known to be JSON-encodable) would not come back from JSON as it is, naming the place from `path`; `undefined` when it would. */
export function jsonProblem(value: unknown, path: string): string | undefined {
  return problemOf(value, path, false)
}

function problemOf(value: unknown, path: string, inArray: boolean): string | undefined {
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return undefined
    case 'number':
      return Number.isFinite(value) ? undefined : `${path} is ${value}, which JSON turns into null`
    case 'undefined':
      return inArray ? `${path} is undefined, which JSON turns into null` : undefined
    case 'function':
    case 'symbol':
    case 'bigint':
      return `${path} is a ${typeof value}, which JSON cannot hold`
  }
  if (value === null) return undefined
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      if (!(i in value)) return `${path}[${i}] is a hole, which JSON turns into null`
      const problem = problemOf(value[i], `${path}[${i}]`, true)
      if (problem !== undefined) return problem
    }
    return undefined
  }
  const proto = Object.getPrototypeOf(value) as object | null
  if (proto !== Object.prototype && proto !== null) return `${path} is ${kindOf(value as object)}`
  for (const name of Object.keys(value as object)) {
    const at = `${path}.${name}`
    if (DROPPED_KEYS.has(name)) return `${at}: the key "${name}" is dropped when the value is restored`
    const problem = problemOf((value as Record<string, unknown>)[name], at, false)
    if (problem !== undefined) return problem
  }
  return undefined
}

/** How a non-plain object would come back, for the error message. */
function kindOf(value: object): string {
  if (value instanceof Date) return 'a Date, which JSON brings back as a string (store date.toISOString() or date.getTime())'
  if (value instanceof Map) return 'a Map, which JSON brings back as {} (store Object.fromEntries(map) or [...map])'
  if (value instanceof Set) return 'a Set, which JSON brings back as {} (store [...set])'
  const name = (value.constructor as { name?: unknown } | undefined)?.name
  return `${typeof name === 'string' && name !== '' ? `a ${name}` : 'an object with a prototype'}, which JSON brings back as a plain object or array, or not at all`
}

function serializeError(key: string, problem: string, cause?: unknown): StashError {
  return new StashError('ERR_STASH_SERIALIZE', `value of stored key "${key}" cannot be stored as JSON: ${problem}`, { cause })
}
