import type { StashAdapter } from '../../lib/index.js'

/** A call an adapter received. */
export interface AdapterCall {
  method: string
  args: unknown[]
}

type Method = Exclude<keyof StashAdapter, 'kind'>
const METHODS: Method[] = ['load', 'write', 'compareAndSet', 'readAll', 'move', 'delete', 'close']

/** Wraps an adapter and records every call, to prove how many store calls a request costs. */
export function countingAdapter(inner: StashAdapter): StashAdapter & { calls: AdapterCall[]; reset(): void } {
  const calls: AdapterCall[] = []
  const wrapper = { kind: inner.kind, calls, reset: () => void calls.splice(0) } as StashAdapter & {
    calls: AdapterCall[]
    reset(): void
  }
  for (const method of METHODS) {
    ;(wrapper as unknown as Record<string, unknown>)[method] = (...args: unknown[]) => {
      calls.push({ method, args })
      return (inner[method] as (...a: unknown[]) => Promise<unknown>)(...args)
    }
  }
  return wrapper
}

/** Wraps an adapter so the methods named in `failing` reject with `error` while the set holds them. */
export function failingAdapter(inner: StashAdapter, error: () => Error = () => new Error('store down')) {
  const failing = new Set<Method>()
  const wrapper = { kind: inner.kind, failing } as StashAdapter & { failing: Set<Method> }
  for (const method of METHODS) {
    ;(wrapper as unknown as Record<string, unknown>)[method] = (...args: unknown[]) =>
      failing.has(method) ? Promise.reject(error()) : (inner[method] as (...a: unknown[]) => Promise<unknown>)(...args)
  }
  return wrapper
}
