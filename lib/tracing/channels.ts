/**
 * The tracing channels of express-stash on `node:diagnostics_channel`, which APM tools subscribe
 * to: `express-stash:load` (each load of a record) and `express-stash:commit` (each store call
 * that writes to one). An operation publishes `start`, then `end` when its call returns, and,
 * when it waited for the store, `asyncStart` and `asyncEnd` once it settled; `error` before
 * those when it failed (the `TracingChannel` protocol of `tracePromise`). Nothing is built or
 * published while no one subscribes: callers check {@link publishing} first.
 * @module
 */
import { tracingChannel, type TracingChannel } from 'node:diagnostics_channel'
import { recordLabel } from '../log.js'
import type { CompareAndSetResult, WriteReceipt } from '../store/adapter.js'
import type {
  StashCommitContext,
  StashCommitOperation,
  StashCommitOutcome,
  StashLoadContext,
  StashLoadOutcome,
} from './contexts.js'

/** The loads of every stash instance. */
export const loadChannel = tracingChannel<StashLoadContext>('express-stash:load')
/** The writes of every stash instance. */
export const commitChannel = tracingChannel<StashCommitContext>('express-stash:commit')

/** A context as it is written while its operation runs. */
type Writable<T> = { -readonly [K in keyof T]: T[K] }

/** What {@link traced} writes on a context while its operation runs. */
interface Traced {
  outcome: string | undefined
  error?: unknown
}

/** What a store call that writes resolves to. */
type WriteResult = void | 'gone' | WriteReceipt | CompareAndSetResult

const NONE: readonly string[] = Object.freeze([])

/**
 * Whether anyone subscribes to an event of `channel`. Each channel is asked, rather than
 * `TracingChannel.hasSubscribers`, which Node 20 has only from 20.13.
 */
export function publishing(channel: TracingChannel<object>): boolean {
  return (
    channel.start.hasSubscribers ||
    channel.end.hasSubscribers ||
    channel.asyncStart.hasSubscribers ||
    channel.asyncEnd.hasSubscribers ||
    channel.error.hasSubscribers
  )
}

/**
 * Publishes one load of `keys` from `record` on `express-stash:load` around `load`, which
 * answers at once (`undefined`: done, from memory) or with a promise; `outcome` tells a hit
 * from a miss once it succeeded. Call it only when {@link publishing}.
 */
export function traceLoad(
  adapter: string,
  record: string,
  keys: readonly string[],
  load: () => Promise<void> | undefined,
  outcome: () => StashLoadOutcome,
): Promise<void> | undefined {
  const context: Writable<StashLoadContext> = {
    recordLabel: recordLabel(record),
    adapter,
    keys: Object.freeze([...keys]),
    outcome: undefined,
    error: undefined,
  }
  return traced(loadChannel, context, load, outcome)
}

/**
 * Publishes one store call that writes to `record` on `express-stash:commit` around `commit`.
 * Its outcome comes from what the call resolves to. Call it only when {@link publishing}.
 */
export function traceCommit<R extends WriteResult>(
  adapter: string,
  record: string,
  operation: StashCommitOperation,
  written: readonly string[],
  removed: readonly string[],
  commit: () => Promise<R>,
): Promise<R> {
  const context: Writable<StashCommitContext> = {
    recordLabel: recordLabel(record),
    adapter,
    operation,
    written: written.length === 0 ? NONE : Object.freeze([...written]),
    removed: removed.length === 0 ? NONE : Object.freeze([...removed]),
    outcome: undefined,
    error: undefined,
  }
  return traced(commitChannel, context, commit, (result) => commitOutcome(context, result))
}

/** The outcome of a write that resolved `result`. */
function commitOutcome(context: StashCommitContext, result: WriteResult): StashCommitOutcome {
  if (result === 'gone') return 'gone'
  if (typeof result === 'object' && 'ok' in result && !result.ok) return result.gone === true ? 'gone' : 'conflict'
  return context.written.length + context.removed.length > 0 ? 'written' : 'unchanged'
}

/**
 * Runs `operation` inside `start` (its bound stores applied, as `runStores` does), then
 * publishes `end`, and, for a promise, `asyncStart` and `asyncEnd` once it settled; `error` first
 * when it failed, which then rethrows or rejects as it would have without tracing.
 */
function traced<R>(
  channel: TracingChannel<object>,
  context: Traced,
  operation: () => R,
  outcome: (result: Awaited<R>) => string,
): R {
  return channel.start.runStores(context, () => {
    let result: R
    try {
      result = operation()
    } catch (err) {
      failed(channel, context, err)
      channel.end.publish(context)
      throw err
    }
    if (!(result instanceof Promise)) {
      context.outcome = outcome(result as Awaited<R>) // over already: `end` says how it ended
      channel.end.publish(context)
      return result
    }
    channel.end.publish(context)
    return result.then(
      (value: Awaited<R>) => {
        context.outcome = outcome(value)
        settled(channel, context)
        return value
      },
      (err: unknown) => {
        failed(channel, context, err)
        settled(channel, context)
        throw err
      },
    ) as R
  })
}

/** Records the failure on the context and publishes `error`. */
function failed(channel: TracingChannel<object>, context: Traced, err: unknown): void {
  context.outcome = 'error'
  context.error = err
  channel.error.publish(context)
}

/** Publishes the end of an operation that waited: `asyncStart`, then `asyncEnd`. */
function settled(channel: TracingChannel<object>, context: Traced): void {
  channel.asyncStart.publish(context)
  channel.asyncEnd.publish(context)
}
