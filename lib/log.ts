/**
 * The debug log of express-stash (`DEBUG=express-stash`) and the safe labels its lines use.
 * @module
 */
import createDebug from 'debug'

/**
 * Diagnostic logging under the `express-stash` namespace of the `debug` package, the convention
 * of Express itself: `DEBUG=express-stash node app.js` (or `DEBUG=express:*,express-stash`).
 * Lines name records by the last characters of their hashed key; IDs and values never appear.
 */
export const log = createDebug('express-stash')

/** A short, safe label of a record key for log lines. */
export function recordLabel(record: string | undefined): string {
  return record === undefined ? '(none)' : record.slice(-8)
}
