/**
 * The plaintext of a sealed cookie: a record written as bytes, compact and exact for any field
 * name or value (lengths, never escapes, so a JSON value costs no byte more than itself).
 * @module
 */
import type { CookieField, CookieRecord } from './cookie-record.js'

/** Ends each header line; names and values that follow a header are counted, never scanned. */
const NEWLINE = 0x0a
const NUMBER = /^[0-9a-z]{1,11}$/

/**
 * `record` as bytes: a line `createdAt,version`, then for each field a line
 * `expiresAt,nameBytes,valueBytes` followed by the name and the value (numbers in base 36).
 */
export function recordToBytes(record: CookieRecord): Buffer {
  const parts: Buffer[] = [Buffer.from(`${record.createdAt.toString(36)},${record.version.toString(36)}\n`)]
  for (const [name, field] of record.fields) {
    const nameBytes = Buffer.from(name)
    const valueBytes = Buffer.from(field.value)
    parts.push(
      Buffer.from(`${field.expiresAt.toString(36)},${nameBytes.length.toString(36)},${valueBytes.length.toString(36)}\n`),
    )
    parts.push(nameBytes, valueBytes)
  }
  return Buffer.concat(parts)
}

/** The record of {@link recordToBytes}' output; `undefined` for bytes of any other shape. */
export function recordFromBytes(bytes: Buffer): CookieRecord | undefined {
  let at = 0
  const header = (count: number): number[] | undefined => {
    const end = bytes.indexOf(NEWLINE, at)
    if (end < 0) return undefined
    const numbers = bytes.toString('latin1', at, end).split(',')
    at = end + 1
    if (numbers.length !== count || !numbers.every((n) => NUMBER.test(n))) return undefined
    return numbers.map((n) => Number.parseInt(n, 36))
  }
  const first = header(2)
  if (first === undefined) return undefined
  const fields = new Map<string, CookieField>()
  while (at < bytes.length) {
    const line = header(3)
    if (line === undefined) return undefined
    const [expiresAt, nameLength, valueLength] = line as [number, number, number]
    if (at + nameLength + valueLength > bytes.length) return undefined
    const name = bytes.toString('utf8', at, at + nameLength)
    const value = bytes.toString('utf8', at + nameLength, at + nameLength + valueLength)
    at += nameLength + valueLength
    fields.set(name, { value, expiresAt })
  }
  return { fields, createdAt: first[0]!, version: first[1]! }
}
