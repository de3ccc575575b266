/**
 * Every command the Redis adapter sends goes through {@link bounded}: a deadline per call, no
 * command to a disconnected client, a cap on the calls in flight, and the `EVAL` fallback of
 * scripts. Failures come out classified: Redis's own error answers as they are
 * ({@link isAnswer}), everything else as `StashUnavailableError`.
 * @module
 */
import { StashError, StashUnavailableError } from '../../errors.js'
import type { RedisDriver } from './redis-driver.js'
import { evalOnNoScript, type RedisScript } from './redis-scripts.js'

/** Where a command goes: routed by this key (`undefined`: any node), or sent to this one node. */
export type CommandTarget = string | undefined | ((args: string[]) => Promise<unknown>)

/** The limits of one {@link bounded} call. */
export interface CallLimits {
  /** Milliseconds the whole call may take, the wait for a connection included. */
  readonly timeout: number
  /** Most calls in flight on the driver at once. */
  readonly maxPending: number
}

/**
 * Sends `command` to `target`, bounded by `timeout` milliseconds: waits for the connection
 * within that budget and never sends a command to a disconnected client (it would wait in an
 * offline queue and could run long after the request gave up). At most `maxPending` calls are in
 * flight: a stalled server makes the next ones fail at once instead of queueing without end.
 *
 * The reply goes through `read` (whose throw fails the call). With `script`, a server that does
 * not know the script (restart, `SCRIPT FLUSH`) gets it whole with `EVAL`. A call to a connected
 * client adds one promise and one timer to the command, nothing more.
 */
export function bounded<T = unknown>(
  driver: RedisDriver,
  { timeout, maxPending }: CallLimits,
  command: string[],
  target: CommandTarget,
  read?: (reply: unknown) => T,
  script?: RedisScript,
): Promise<T> {
  if ((driver.pending ?? 0) >= maxPending) {
    return Promise.reject(
      new StashUnavailableError(`${driver.label}: ${maxPending} calls already waiting for Redis (maxPending)`),
    )
  }
  driver.pending = (driver.pending ?? 0) + 1
  const call: BoundedCall<T> = { driver, deadline: Date.now() + timeout, timeout, command, target, read, script }
  return driver.isReady() ? callBy(call) : connectThenCall(call)
}

/** One call of {@link bounded}. */
interface BoundedCall<T> {
  readonly driver: RedisDriver
  readonly deadline: number
  readonly timeout: number
  readonly command: string[]
  readonly target: CommandTarget
  readonly read: ((reply: unknown) => T) | undefined
  readonly script: RedisScript | undefined
}

/** {@link bounded} for a client that is not connected yet: waits for it within the budget. */
async function connectThenCall<T>(call: BoundedCall<T>): Promise<T> {
  const { driver, timeout } = call
  let connected: boolean
  try {
    connected = await driver.ready(timeout)
  } catch (err) {
    driver.pending!--
    throw err
  }
  if (!connected) {
    driver.pending!--
    const reason = driver.lastError === undefined ? '' : `: ${driver.lastError.message}`
    throw new StashUnavailableError(`${driver.label} client is not connected (waited ${timeout} ms)${reason}`, {
      cause: driver.lastError,
    })
  }
  return callBy(call)
}

/** Sends the call's command, failing it at its deadline; its pending slot is released when it settles or times out. */
function callBy<T>({ driver, deadline, timeout, command, target, read, script }: BoundedCall<T>): Promise<T> {
  const send = (): Promise<unknown> => (typeof target === 'function' ? target(command) : driver.command(target, command))
  return new Promise<T>((resolve, reject) => {
    let settled = false
    const settle = (): boolean => {
      if (settled) return false
      settled = true
      clearTimeout(timer)
      driver.pending!--
      return true
    }
    const timer = setTimeout(
      () => {
        if (settle()) reject(new StashUnavailableError(`${driver.label} did not answer within ${timeout} ms`))
      },
      Math.max(0, deadline - Date.now()),
    )
    const answered = (reply: unknown): void => {
      if (!settle()) return
      if (read === undefined) return resolve(reply as T)
      try {
        resolve(read(reply))
      } catch (err) {
        reject(err)
      }
    }
    const failed = (err: unknown): void => {
      if (!settled && script !== undefined && evalOnNoScript(command, script, err)) return attempt()
      if (settle()) reject(isAnswer(err) ? err : unanswered(driver, err))
    }
    const attempt = (): void => {
      try {
        send().then(answered, failed)
      } catch (err) {
        failed(err) // a client that throws instead of rejecting
      }
    }
    attempt()
  })
}

/**
 * Whether a failure is Redis's own answer (an error reply such as OOM, READONLY or a script
 * error: node-redis `ErrorReply`, ioredis `ReplyError`) or already classified, as opposed to a
 * failure of the client or its connection (socket closed, client closed).
 */
export function isAnswer(err: unknown): boolean {
  if (err instanceof StashError) return true
  if (typeof err !== 'object' || err === null) return false
  for (
    let proto: unknown = Object.getPrototypeOf(err);
    proto !== null && proto !== Error.prototype;
    proto = Object.getPrototypeOf(proto)
  ) {
    const name = (proto as { constructor?: { name?: string } }).constructor?.name
    if (name === 'ErrorReply' || name === 'ReplyError') return true
  }
  return false
}

/** A call the server never answered (its connection failed): the store is unavailable. */
function unanswered(driver: RedisDriver, err: unknown): StashUnavailableError {
  return new StashUnavailableError(`${driver.label} lost the call: ${(err as Error)?.message ?? String(err)}`, { cause: err })
}
