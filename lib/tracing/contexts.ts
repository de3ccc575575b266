/**
 * What the tracing channels of express-stash (`express-stash:load`, `express-stash:commit`) carry:
 * the context object each event of one operation receives, typed for subscribers.
 * @module
 */

/**
 * How a load ended: `'hit'`, the stash took its values from the store; `'miss'`, the stash starts
 * empty (no such record: expired, revoked, reset elsewhere, older than `maxLifetime`, or written
 * under another version); `'error'`, the store could not answer (the request gets the error, or an
 * unavailable stash under `onUnavailable: 'continue'`).
 */
export type StashLoadOutcome = 'hit' | 'miss' | 'error'

/**
 * How a commit ended: `'written'`, stored keys were set or removed; `'unchanged'`, no value was
 * written, only expiries slid (or the record confirmed for a new cookie lifetime); `'gone'`, the
 * record was deleted meanwhile, so nothing was written to it (what the request changed then goes
 * to a new stash, a commit of its own); `'conflict'`, an `update()` lost a race and tries again
 * (a commit of its own); `'error'`, the store failed the write.
 */
export type StashCommitOutcome = 'written' | 'unchanged' | 'gone' | 'conflict' | 'error'

/**
 * Which call wrote: `'write'`, the change set of a request (its end, `save()`), or only the slides
 * of its expiries; `'update'`, one compare-and-set of `req.stash.update()`.
 */
export type StashCommitOperation = 'write' | 'update'

/**
 * The context of one load on the `express-stash:load` tracing channel: the same object on its
 * `start`, `end`, `asyncStart`, `asyncEnd` and `error` events. It names the record by a label,
 * never by the ID or anything a cookie could be made from.
 */
export interface StashLoadContext {
  /** The last 8 characters of the hashed record key, as in the debug log (`'expired'` and `stash.ids()` give the whole key). */
  readonly recordLabel: string
  /** The adapter's `kind`: `'memory'`, `'redis'`, or a custom adapter's. */
  readonly adapter: string
  /** The stored keys this load reads. */
  readonly keys: readonly string[]
  /**
   * How the load ended; `undefined` on `start`, and on `end` while the load waits for the store
   * (`asyncStart` and `asyncEnd` follow). A load answered from memory has it on `end` already.
   */
  readonly outcome: StashLoadOutcome | undefined
  /** With outcome `'error'`: the error the load failed with (a `StashError`, with the store's failure as `cause`). */
  readonly error?: unknown
}

/**
 * The context of one commit on the `express-stash:commit` tracing channel: one store call that
 * writes to a record (the same object on each of its events). It names the record by a label,
 * never by the ID or anything a cookie could be made from.
 */
export interface StashCommitContext {
  /** The last 8 characters of the hashed record key, as in the debug log. */
  readonly recordLabel: string
  /** The adapter's `kind`: `'memory'`, `'redis'`, or a custom adapter's. */
  readonly adapter: string
  /** `'write'` (the request's change set, or only slides) or `'update'` (one compare-and-set of `update()`). */
  readonly operation: StashCommitOperation
  /** The stored keys this call sets. */
  readonly written: readonly string[]
  /** The stored keys this call removes. */
  readonly removed: readonly string[]
  /** How the commit ended; `undefined` on `start` and `end` (a commit always waits for the store). */
  readonly outcome: StashCommitOutcome | undefined
  /** With outcome `'error'`: the error the commit failed with (a `StashError`, with the store's failure as `cause`). */
  readonly error?: unknown
}
