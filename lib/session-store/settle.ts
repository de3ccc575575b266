/**
 * Store methods that take express-session's optional callback and also return a promise.
 * @module
 */

/** The callback express-session passes to store methods. */
export type SessionCallback<T = void> = (err: unknown, value?: T) => void

/**
 * Runs `work`; hands the outcome to express-session's `callback` when given (on the next tick,
 * so a throwing callback is not mistaken for a store failure), and returns it as a promise.
 */
export function settle<T>(callback: SessionCallback<T> | (() => void) | undefined, work: () => Promise<T>): Promise<T> {
  const result = Promise.resolve().then(work)
  if (callback !== undefined) {
    const done = callback as SessionCallback<T>
    result.then(
      (value) => process.nextTick(done, null, value),
      (err: unknown) => process.nextTick(done, err),
    )
  }
  return result
}
