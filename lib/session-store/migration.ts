/**
 * Moving sessions from the store an application used before (`migrateFrom`) into
 * `StashSessionStore`, one session at a time as it is used, without ever bringing back a session
 * that was destroyed and without overwriting a newer one.
 *
 * A session the adapter does not have is read from the previous store and written into its
 * record in two compare-and-sets: the `id` field where there is none, then the `session` field
 * where there is none (so a `set()` or another migration that got there first wins), and only
 * then deleted from the previous store. `destroy()` leaves a tombstone in the `session` field for
 * the time a migration may be in flight, so one that read the session before the destroy finds
 * the field taken and gives up.
 * @module
 */
import type { SessionData } from 'express-session'
import type { StashAdapter } from '../store/adapter.js'
import { StashError } from '../errors.js'
import { isSession, type SessionCodec } from './codec.js'
import { hasExpired, sessionEnd, type SessionTtl } from './expiry.js'
import { bothFields, DESTROYED_SESSION, sessionRecordKey, SESSION_FIELDS, SESSION_NAMESPACE } from './keys.js'
import { PreviousStore, type PreviousSessionStore } from './previous-store.js'

/** What a migration needs of its store. */
export interface MigrationTarget {
  readonly adapter: StashAdapter
  readonly codec: SessionCodec
  readonly ttl: SessionTtl
  /** Reports what must not go unnoticed but fails no request (the store's `'error'` event). */
  readonly report: (err: StashError) => void
}

/** How long a migration may be in flight, beyond the previous store's timeout: a tombstone outlives it. */
const IN_FLIGHT_MS = 60_000
/** How long a tombstone stays when the previous store could not delete its copy: a day, or the `ttl`. */
const DEFAULT_TOMBSTONE_SECONDS = 86_400
/** The shape of a session record key after the adapter's prefix: the namespace and a base64url SHA-256. */
const RECORD_KEY_REST = new RegExp(`^${SESSION_NAMESPACE}[A-Za-z0-9_-]{43}$`)

/** Sessions moved from the previous store, for one `StashSessionStore`. */
export class SessionMigration {
  private readonly previous: PreviousStore
  /** Milliseconds a migration may take from its read of the previous store to its last write. */
  private readonly inFlightMs: number

  constructor(
    store: PreviousSessionStore,
    timeout: number,
    private readonly target: MigrationTarget,
  ) {
    this.previous = new PreviousStore(store, timeout)
    this.inFlightMs = IN_FLIGHT_MS + 2 * timeout
  }

  /**
   * Moves the session `sid` from the previous store: the session now stored (moved by this call
   * or by a concurrent one, or newer), `null` when it ended or was destroyed meanwhile, or
   * `undefined` when the previous store does not have it.
   */
  async take(sid: string): Promise<SessionData | null | undefined> {
    const found = await this.previous.get(sid)
    if (found === null) return undefined
    if (!isSession(found)) {
      const reason = `the \`migrateFrom\` store holds session ${JSON.stringify(sid)} as no object; it was not moved`
      this.target.report(new StashError('ERR_STASH_CORRUPT', reason))
      return null
    }
    const now = Date.now()
    const end = sessionEnd(found, this.target.ttl, now)
    if (end <= now || hasExpired(found, now)) return null
    const { adapter, codec } = this.target
    const key = sessionRecordKey(sid)
    const next = codec.encode(sid, found)
    const { id, session } = SESSION_FIELDS
    await adapter.compareAndSet(key, { field: id, expected: undefined, next: sid, expiresAt: { [id]: end } })
    const swap = await adapter.compareAndSet(key, {
      field: session,
      expected: undefined,
      next,
      expiresAt: bothFields(end),
      existing: true,
    })
    if (!swap.ok) return swap.gone ? null : codec.live(key, sid, swap.current)
    await this.previous.destroy(sid).catch((err: unknown) => {
      const reason = `session ${JSON.stringify(sid)} was moved, but the \`migrateFrom\` store did not delete its copy`
      this.target.report(new StashError('ERR_STASH_WRITE', reason, { cause: err }))
    })
    return found
  }

  /**
   * Destroys `sid` in both stores: a tombstone here first (so no migration in flight can bring it
   * back), then the previous store's copy. When that fails, the tombstone stays for a day (or the
   * `ttl`) so that the copy left behind is never moved, and the error is thrown.
   */
  async forget(sid: string): Promise<void> {
    const key = sessionRecordKey(sid)
    const tombstone = (ms: number) => ({
      set: { [SESSION_FIELDS.id]: sid, [SESSION_FIELDS.session]: DESTROYED_SESSION },
      del: [],
      expiresAt: bothFields(Date.now() + ms),
    })
    await this.target.adapter.write(key, tombstone(this.inFlightMs))
    try {
      await this.previous.destroy(sid)
    } catch (err) {
      const { ttl } = this.target
      const seconds = typeof ttl === 'number' ? ttl : DEFAULT_TOMBSTONE_SECONDS
      // The previous store's failure is the error to report; this write only narrows what it leaves behind.
      await this.target.adapter.write(key, tombstone(seconds * 1000)).catch(() => undefined)
      throw err
    }
  }

  /** Whether a record created at `createdAt` may belong to a migration still in flight. */
  inFlight(createdAt: number | undefined, now = Date.now()): boolean {
    return createdAt !== undefined && now - createdAt < this.inFlightMs
  }

  /** Deletes every session of the previous store. */
  clearPrevious(): Promise<void> {
    return this.previous.clear()
  }

  /**
   * How many sessions the previous store still holds. When it shares a key space with the adapter
   * (connect-redis's `prefix` and `redisAdapter`'s, e.g. both `sess:`), the keys it lists that
   * are this store's own records are left out.
   */
  unmigrated(): Promise<number> {
    const theirs: unknown = this.previous.store.prefix
    const ours: unknown = (this.target.adapter as { prefix?: unknown }).prefix
    if (typeof theirs !== 'string' || typeof ours !== 'string') return this.previous.count(() => false)
    return this.previous.count((id) => {
      const key = theirs + id
      return key.startsWith(ours) && RECORD_KEY_REST.test(key.slice(ours.length))
    })
  }
}
