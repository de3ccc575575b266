/**
 * How `StashSessionStore` turns sessions into the strings of its records and back, and what it
 * does with a stored string that is not a session: report it and delete its record.
 * @module
 */
import type { SessionData } from 'express-session'
import type { StashAdapter } from '../store/adapter.js'
import { StashError } from '../errors.js'
import { hasExpired } from './expiry.js'
import { DESTROYED_SESSION } from './keys.js'
import type { SessionSerializer } from './options.js'

/** Serializes sessions for one store; a stored value that does not parse is reported and deleted. */
export class SessionCodec {
  constructor(
    private readonly serializer: SessionSerializer,
    private readonly adapter: StashAdapter,
    /** Where a corrupt record is reported (the store's `'error'` event, else the console). */
    private readonly report: (err: StashError) => void,
  ) {}

  /** The session serialized; `ERR_STASH_SERIALIZE` when the serializer throws or returns no string. */
  encode(sid: string, session: SessionData): string {
    let serialized: unknown
    try {
      serialized = this.serializer.stringify(session)
    } catch (err) {
      throw new StashError('ERR_STASH_SERIALIZE', `session ${JSON.stringify(sid)} cannot be serialized`, { cause: err })
    }
    if (typeof serialized === 'string') return serialized
    throw new StashError('ERR_STASH_SERIALIZE', `session ${JSON.stringify(sid)} did not serialize to a string`)
  }

  /**
   * The stored session (the serializer's `parse` may return a promise), or undefined when it does
   * not parse to an object: then it is reported and its record deleted, never dropped silently.
   */
  async decode(key: string, sid: string, stored: string): Promise<SessionData | undefined> {
    let session: unknown
    try {
      session = await this.serializer.parse(stored)
    } catch (err) {
      const reason = `stored session ${JSON.stringify(sid)} is not valid; it was deleted`
      return this.discard(key, new StashError('ERR_STASH_CORRUPT', reason, { cause: err }))
    }
    if (isSession(session)) return session
    return this.discard(
      key,
      new StashError('ERR_STASH_CORRUPT', `stored session ${JSON.stringify(sid)} is not an object; it was deleted`),
    )
  }

  /**
   * The live session a record's `session` field holds: `null` when there is none, it is a
   * tombstone, its cookie has expired, or it does not parse (then reported and deleted).
   */
  async live(key: string, sid: string, stored: string | undefined): Promise<SessionData | null> {
    if (stored === undefined || stored === DESTROYED_SESSION) return null
    const session = await this.decode(key, sid, stored)
    return session === undefined || hasExpired(session) ? null : session
  }

  /** Reports a corrupt session record and deletes it. */
  async discard(key: string, err: StashError): Promise<undefined> {
    this.report(err)
    await this.adapter.delete(key)
    return undefined
  }
}

/** Whether a parsed value can be a session: an object, not an array. */
export function isSession(value: unknown): value is SessionData {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}
