/**
 * Stash IDs and the record keys made from their hashes.
 * @module
 */
import { createHash, randomBytes } from 'node:crypto'

/** Bytes of randomness in a stash ID: 192 bits. */
const ID_BYTES = 24

/** A fresh stash ID: 192 random bits, base64url (32 characters). */
export function newStashId(): string {
  return randomBytes(ID_BYTES).toString('base64url')
}

/** SHA-256 of a string, base64url: 43 URL-safe characters. */
export function sha256(value: string): string {
  return createHash('sha256').update(value).digest('base64url')
}

/**
 * The record key of a stash ID: a hash of the ID, so a dump of the store yields no usable
 * cookie. A stash bound to a session (`sessionKey`) is stored under `{<owner hash>}<id hash>`,
 * so the same cookie replayed from another session addresses another (empty) record, and every
 * record of one owner shares a Redis Cluster hash slot with the owner's index.
 */
export function recordKeyOf(id: string, owner: string | undefined): string {
  return recordKeyOfHash(sha256(id), owner)
}

/** {@link recordKeyOf} for an ID whose SHA-256 is known already. */
export function recordKeyOfHash(idHash: string, owner: string | undefined): string {
  return owner === undefined ? idHash : `{${owner}}${idHash}`
}
