/**
 * The memory of stored values one codec authenticated lately, so that rereading one costs no HMAC.
 * @module
 */
import { BoundedMap } from './bounded-map.js'

/** How many authenticated stored values one codec remembers. */
const CAPACITY = 10_000
/** Longer stored values are authenticated on every read (and never held twice in memory). */
const MAX_CHARS = 512

interface Entry {
  readonly record: string
  readonly field: string
  readonly stored: string
  /** Where the JSON starts in `stored`. */
  readonly jsonStart: number
}

/**
 * The stored values one codec authenticated (or wrote) lately, so that reading an unchanged
 * value again costs a map lookup instead of an HMAC. An entry is found by the value's MAC and
 * used only when the record, the field and the whole stored text are identical, so a lookup
 * gives exactly what authenticating again would: a forged, altered or moved value never matches.
 * Bounded: at most `capacity` values of up to `MAX_CHARS` characters; past it the oldest is
 * forgotten (and authenticated again when it returns).
 */
export class VerifiedValues {
  /** MAC → the value it authenticated; oldest first. */
  private readonly entries: BoundedMap<string, Entry>

  constructor(capacity = CAPACITY) {
    this.entries = new BoundedMap({ capacity })
  }

  /** The JSON of `stored` under `field` of `record`, if it was authenticated before. */
  get(record: string, field: string, mac: string, stored: string): string | undefined {
    const entry = this.entries.get(mac)
    if (entry === undefined || entry.stored !== stored || entry.record !== record || entry.field !== field) return undefined
    return stored.slice(entry.jsonStart)
  }

  /** Remembers an authentic stored value whose JSON starts at `jsonStart` (too long ones are not remembered). */
  remember(record: string, field: string, mac: string, stored: string, jsonStart: number): void {
    if (stored.length > MAX_CHARS) return
    this.entries.set(mac, { record, field, stored, jsonStart })
  }

  /** Values remembered. */
  get size(): number {
    return this.entries.size
  }
}
