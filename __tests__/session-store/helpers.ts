/**
 * What the StashSessionStore suites of this folder share: the target they run on (an adapter
 * factory and, on Redis, ways to read a record's remaining life) and small time helpers.
 * @module
 */
import { setTimeout as sleep } from 'node:timers/promises'
import type { RecordChange, StashAdapter } from '../../lib/index.js'
import type { StashSessionStoreOptions } from '../../lib/session-store/session-store.js'

/** What one run of a suite needs. */
export interface SessionStoreTarget {
  /** A fresh, empty adapter (its own prefix or name). */
  adapter: () => StashAdapter
  /** Seconds the session's record has left (Redis `TTL`), read from the store itself; absent for memory. */
  remainingTtl?: (adapter: StashAdapter, sid: string) => Promise<number>
  /** Milliseconds the session's record has left (Redis `PTTL`; -2 when gone); absent for memory. */
  remainingMs?: (adapter: StashAdapter, sid: string) => Promise<number>
  /** Round trips `length()` made over 1,000 sessions, when the store can count them. */
  scanCalls?: () => Promise<number>
  /** More options of the suite's store (e.g. `migrateFrom`), read when the suite creates it. */
  storeOptions?: () => Omit<StashSessionStoreOptions, 'adapter'>
}

/** An ISO date `seconds` from now, as a stored cookie holds its `expires`. */
export const inSeconds = (seconds: number): string => new Date(Date.now() + seconds * 1000).toISOString()

/** A raw adapter write of `set` (what another writer may leave in a session record), every field for `seconds`. */
export function rawWrite(set: Record<string, string>, seconds: number): RecordChange {
  const at = Date.now() + seconds * 1000
  return { set, del: [], expiresAt: Object.fromEntries(Object.keys(set).map((field) => [field, at])) }
}

/** Sleeps until `Date.now()` reaches `deadline`. */
export async function sleepUntil(deadline: number): Promise<void> {
  const ms = deadline - Date.now()
  if (ms > 0) await sleep(ms)
}

/** Polls `condition` until it holds; fails after `ms`. */
export async function waitFor(condition: () => Promise<boolean>, ms: number): Promise<void> {
  const deadline = Date.now() + ms
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`condition not met within ${ms} ms`)
    await sleep(20)
  }
}
