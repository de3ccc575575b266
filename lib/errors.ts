/**
 * Stable codes carried by every {@link StashError}.
 *
 * - `ERR_STASH_UNAVAILABLE`: the store could not answer in time (see {@link StashUnavailableError}).
 * - `ERR_STASH_WRITE`: the store refused or failed a write.
 * - `ERR_STASH_TOO_LARGE`: the serialized stash would exceed `maxBytes`; nothing was written.
 * - `ERR_STASH_SERIALIZE`: a stored key holds a value JSON cannot encode, or would not bring
 *   back as it is (a `Date`, `Map`, `Set`, `NaN`, a function, ...); nothing was written.
 * - `ERR_STASH_HEADERS_SENT`: a new stash ID was needed after the response headers were sent,
 *   so no cookie could carry it; nothing was written.
 * - `ERR_STASH_SESSION_KEY`: the request's `sessionKey` value is neither a string nor a finite
 *   number (a request without a value has an anonymous stash).
 * - `ERR_STASH_CONFLICT`: `update()` lost the compare-and-set race too many times.
 * - `ERR_STASH_CORRUPT`: a stored value failed authentication or decoding; it was removed.
 * - `ERR_STASH_CLOSED`: the stash or its adapter was used after `close()`.
 * - `ERR_STASH_MOVED`: the record moved to another node (cross-node recovery) while this
 *   request held it; its write was refused so that no stale copy is left behind.
 * - `ERR_STASH_UNSUPPORTED`: the adapter cannot serve this call (the cookie adapter keeps no
 *   server state: the admin calls, and any use outside a stash's requests).
 */
export type StashErrorCode =
  | 'ERR_STASH_UNAVAILABLE'
  | 'ERR_STASH_WRITE'
  | 'ERR_STASH_TOO_LARGE'
  | 'ERR_STASH_SERIALIZE'
  | 'ERR_STASH_HEADERS_SENT'
  | 'ERR_STASH_SESSION_KEY'
  | 'ERR_STASH_CONFLICT'
  | 'ERR_STASH_CORRUPT'
  | 'ERR_STASH_CLOSED'
  | 'ERR_STASH_MOVED'
  | 'ERR_STASH_UNSUPPORTED'

const PREFIX = 'express-stash: '

/**
 * A runtime failure of express-stash. It reaches the application through `next(err)` or the
 * stash's `'error'` event, never as a crash.
 *
 * `status` follows the convention of Express's final handler (500 unless stated otherwise), and
 * `expose` is false: the message is for logs, not for clients.
 */
export class StashError extends Error {
  /** A stable, machine-readable code. */
  readonly code: StashErrorCode
  /** HTTP status an error handler should answer with. */
  readonly status: number
  /** Whether the message is safe to show to clients (never). */
  readonly expose = false

  constructor(code: StashErrorCode, message: string, options?: { cause?: unknown; status?: number }) {
    super(PREFIX + message, options?.cause === undefined ? undefined : { cause: options.cause })
    this.name = 'StashError'
    this.code = code
    this.status = options?.status ?? 500
  }

  /** Alias of `status`, read by some error handlers. */
  get statusCode(): number {
    return this.status
  }
}

/**
 * The store could not answer (down, paused, too slow or out of connections). Status 503.
 * The original failure is in `cause`.
 */
export class StashUnavailableError extends StashError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('ERR_STASH_UNAVAILABLE', message, { cause: options?.cause, status: 503 })
    this.name = 'StashUnavailableError'
  }
}

/** The error of a write refused because the stash would exceed `maxBytes`. @internal */
export function tooLargeError(bytes: number, maxBytes: number): StashError {
  return new StashError('ERR_STASH_TOO_LARGE', `stash of ${bytes} bytes would exceed maxBytes (${maxBytes}); nothing was written`)
}

/**
 * A `TypeError` for misconfiguration, with the common message prefix and the option named.
 * @internal
 */
export function optionError(option: string, expected: string, actual?: unknown): TypeError {
  const got = arguments.length > 2 ? `, got ${describe(actual)}` : ''
  return new TypeError(`${PREFIX}option \`${option}\` must be ${expected}${got}`)
}

/** @internal */
export function describe(value: unknown): string {
  if (value === null) return 'null'
  if (Array.isArray(value)) return 'an array'
  if (typeof value === 'string') return JSON.stringify(value.length > 40 ? value.slice(0, 40) + '…' : value)
  if (typeof value === 'number' || typeof value === 'boolean') return String(value)
  return typeof value === 'object' ? 'an object' : typeof value
}

/** Prefixes a diagnostic message (warnings, logs) the way every express-stash message starts. @internal */
export function message(text: string): string {
  return PREFIX + text
}

/**
 * `value` as an options object whose keys are all in `known`; else a `TypeError` naming the
 * option (`name` is `'options'` for the top level, else the prefix of nested option names).
 * @internal
 */
export function optionsObject(value: unknown, name: string, known: ReadonlySet<string>): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw optionError(name, 'an object', value)
  }
  for (const key of Object.keys(value)) {
    if (!known.has(key)) throw new TypeError(`${PREFIX}unknown option \`${name === 'options' ? key : `${name}.${key}`}\``)
  }
  return value as Record<string, unknown>
}

/** A boolean option, `fallback` when absent. @internal */
export function booleanOption(value: unknown, name: string, fallback: boolean): boolean {
  if (value === undefined) return fallback
  if (typeof value !== 'boolean') throw optionError(name, 'a boolean', value)
  return value
}

/** An option that takes one of `allowed`, `undefined` when absent. @internal */
export function oneOfOption<T extends string>(value: unknown, name: string, allowed: readonly T[]): T | undefined {
  if (value === undefined) return undefined
  if (!allowed.includes(value as T)) throw optionError(name, `one of ${allowed.map((a) => `'${a}'`).join(', ')}`, value)
  return value as T
}

/** A duration option: a positive number of seconds, fractions rounded up. @internal */
export function secondsOption(value: unknown, name: string): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) {
    throw optionError(name, 'a positive number of seconds', value)
  }
  return Math.ceil(value)
}
