/**
 * Where `StashSessionStore` keeps sessions in an adapter: the record key of a session ID and
 * the fields of its record.
 * @module
 */
import { sha256 } from '../values/ids.js'

/**
 * The namespace of session records. Stash records are keyed by a base64url hash (optionally
 * after `{owner}`), which never contains `:`, so the two never collide in one adapter.
 */
export const SESSION_NAMESPACE = 'sess:'

/** The fields of a session record. */
export const SESSION_FIELDS = {
  /** The session ID, so `ids()` and `all()` can return it (the key is a hash). */
  id: 'id',
  /** The serialized session. */
  session: 'session',
} as const

/**
 * The record key of an express-session ID: the namespace plus a SHA-256 of the ID, as stash
 * records are keyed, so keys have a fixed length and character set whatever the ID.
 */
export function sessionRecordKey(sid: string): string {
  return SESSION_NAMESPACE + sha256(sid)
}

/**
 * What the `session` field holds once a session was destroyed while sessions are migrated from
 * another store: a tombstone, so that a migration in flight cannot bring the session back. No
 * serializer output starts with `!` (JSON never does), and every read treats it as no session.
 */
export const DESTROYED_SESSION = '!destroyed'

/** The expiries of a session record: both its fields end with the session, at `end` (ms since the epoch). */
export function bothFields(end: number): Record<string, number> {
  return { [SESSION_FIELDS.id]: end, [SESSION_FIELDS.session]: end }
}
