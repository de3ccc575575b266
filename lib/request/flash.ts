/**
 * The flash messages of one request (`req.stash.flash`, connect-flash's API): the messages it
 * took from its stash's record and has not read, and those it queued, kept apart so that the end
 * of the request puts back the first and appends the second (flash-store.ts does the store's side).
 * @module
 */
import { parseJson } from '../values/codec.js'
import { describe } from '../errors.js'
import { jsonProblem } from './json-check.js'

/** Flash messages by key, each key's in the order they were queued. */
export type FlashMessageMap = Map<string, unknown[]>

/** No messages: what an unmade map of {@link FlashMessages} reads as. */
const NONE: ReadonlyMap<string, unknown[]> = new Map()

/** What a record's flash field holds: messages, the empty set a request left after taking them, or nothing. */
export type FlashField = 'waiting' | 'taken' | 'absent'

// Keys a restore drops (see `parseJson` in codec.ts): messages under them would be lost.
const DROPPED_KEYS = new Set(['__proto__', 'constructor', 'prototype'])

/**
 * One request's flash messages. Messages are copied through JSON when queued, so what a later
 * request reads is what this one queued, whatever the application does with the value afterwards.
 */
export class FlashMessages {
  /** Taken from the store by this request's load and not read yet: put back at the end (made on first use: most requests have none). */
  private taken: FlashMessageMap | undefined
  /** Queued by this request: appended at the end (made on first use). */
  private added: FlashMessageMap | undefined
  /** A load of this request asked for the record's flash field. */
  requested = false
  /** The flash field as this request last saw it in the store (encoded): the `expected` of its next compare-and-set. */
  stored: string | undefined
  /** What the flash field holds as this request leaves it; `undefined` when it cannot tell (it never read the field). */
  field: FlashField | undefined

  /** `flash(key, message)`: queues `message` (each element of an array); how many this request queued under `key`. */
  add(key: unknown, message: unknown): number {
    const name = flashKey(key)
    const messages: unknown[] = Array.isArray(message) ? message : [message]
    const copies = messages.map((each, i) => copyOf(name, each, Array.isArray(message) ? `${name}[${i}]` : name))
    const queue = this.added?.get(name) ?? []
    if (copies.length > 0) (this.added ??= new Map()).set(name, [...queue, ...copies])
    return queue.length + copies.length
  }

  /** `flash(key)`: the messages under `key`, taken and queued, removed. */
  read(key: unknown): unknown[] {
    const name = flashKey(key)
    const messages = [...(this.taken?.get(name) ?? []), ...(this.added?.get(name) ?? [])]
    this.taken?.delete(name)
    this.added?.delete(name)
    return messages
  }

  /** `flash()`: every message by key, all removed. */
  readAll(): Record<string, unknown[]> {
    const all: Record<string, unknown[]> = {}
    for (const key of new Set([...(this.taken ?? NONE).keys(), ...(this.added ?? NONE).keys()])) all[key] = this.read(key)
    return all
  }

  /** The end of the request has something to write: messages taken and not read, or queued. */
  get dirty(): boolean {
    return (this.taken?.size ?? 0) > 0 || this.queued
  }

  /** This request queued messages. */
  get queued(): boolean {
    return (this.added?.size ?? 0) > 0
  }

  /** Messages this request's load took from the store. */
  takeIn(messages: FlashMessageMap): void {
    for (const [key, list] of messages) {
      if (list.length > 0) (this.taken ??= new Map()).set(key, [...(this.taken.get(key) ?? []), ...list])
    }
  }

  /** What the flash field must hold after this request: what it took and did not read, what the store holds (`current`), what it queued. */
  merged(current: FlashMessageMap): FlashMessageMap {
    const merged: FlashMessageMap = new Map()
    const { taken = NONE, added = NONE } = this
    for (const key of new Set([...taken.keys(), ...current.keys(), ...added.keys()])) {
      const messages = [...(taken.get(key) ?? []), ...(current.get(key) ?? []), ...(added.get(key) ?? [])]
      if (messages.length > 0) merged.set(key, messages)
    }
    return merged
  }

  /** The store took what {@link FlashMessages.merged} gave, as `stored`. */
  settled(stored: string): void {
    this.taken = undefined
    this.added = undefined
    this.stored = stored
    this.field = 'waiting'
  }

  /** `reset()`: the record and its messages are gone, and so is what this request held. */
  clear(): void {
    this.taken = undefined
    this.added = undefined
    this.stored = undefined
    this.field = 'absent'
  }

  /** The record was deleted meanwhile (reset, rotated or revoked elsewhere): what came from it is dropped; what this request queued is kept. */
  dropTaken(): void {
    this.taken = undefined
    this.stored = undefined
    this.field = undefined
  }
}

/** The messages of a flash field's decoded value; `undefined` when it is not an object of arrays. */
export function parseMessages(value: unknown): FlashMessageMap | undefined {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return undefined
  const messages: FlashMessageMap = new Map()
  for (const [key, list] of Object.entries(value)) {
    if (!Array.isArray(list)) return undefined
    if (list.length > 0) messages.set(key, list as unknown[])
  }
  return messages
}

/** The JSON of a flash field holding `messages`. */
export function messagesJson(messages: FlashMessageMap): string {
  return JSON.stringify(Object.fromEntries(messages))
}

/** A flash key, validated: a non-empty string that a restore keeps. */
function flashKey(key: unknown): string {
  if (typeof key !== 'string' || key === '' || DROPPED_KEYS.has(key)) {
    throw new TypeError(
      `express-stash: req.stash.flash(key) needs a non-empty string key other than __proto__, constructor and prototype, got ${describe(key)}`,
    )
  }
  return key
}

/** A message copied through JSON; a `TypeError` naming the place when it would not come back as it is. */
function copyOf(key: string, message: unknown, path: string): unknown {
  let json: string | undefined
  let problem: string | undefined
  try {
    json = JSON.stringify(message)
  } catch (err) {
    problem = (err as Error).message
  }
  if (problem === undefined && message === undefined) problem = `${path} is undefined`
  problem ??= jsonProblem(message, path)
  if (problem !== undefined || json === undefined) {
    throw new TypeError(
      `express-stash: req.stash.flash("${key}", message): the message cannot be stored as JSON: ${problem ?? 'no JSON text'}`,
    )
  }
  return parseJson(json)
}
