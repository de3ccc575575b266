/**
 * The Redis adapter's Lua scripts, one per operation that must be atomic on one record (and its
 * owner index), and how they are sent: by SHA-1 with `EVALSHA`, and whole with `EVAL` once when
 * the server does not know them (after a restart or `SCRIPT FLUSH`).
 * @module
 */
import { createHash } from 'node:crypto'

/** A Lua script and its SHA-1, for `EVALSHA` with a fallback to `EVAL`. */
export interface RedisScript {
  readonly source: string
  readonly sha: string
}

/** A script of `source`, with its SHA-1 computed once. */
function script(source: string): RedisScript {
  return { source, sha: createHash('sha1').update(source).digest('hex') }
}

/** A script's `EVALSHA` command: `bounded` (redis-call.ts) retries it as {@link evalOnNoScript} says. */
export function scriptCommand(script: RedisScript, keys: string[], args: string[]): string[] {
  return ['EVALSHA', script.sha, String(keys.length), ...keys, ...args]
}

/**
 * When `err` says the server does not know the script of an `EVALSHA` command (`NOSCRIPT`),
 * turns the command, in place, into an `EVAL` of the whole `script`; whether it did (the caller
 * then sends it again).
 */
export function evalOnNoScript(command: string[], script: RedisScript, err: unknown): boolean {
  if (command[0] !== 'EVALSHA' || !String((err as Error)?.message).startsWith('NOSCRIPT')) return false
  command[0] = 'EVAL'
  command[1] = script.source
  return true
}

/**
 * The field every record written by this version holds, named with the empty string (which no
 * stored key can take): it tells an existing record from a missing one in the same `HMGET` that
 * reads the values, and its value is the record's size in bytes (the names and values of its
 * other fields, what `maxBytes` limits), kept by every write so that a write measures only the
 * fields it changes.
 */
export const MARKER = ''

// Shared Lua: push the expiry to at least `ttl` seconds from now, never shorten it (like EXPIRE
// GT, which Redis < 7 lacks; compared in milliseconds so rounding never cuts it short), keep the
// owner index, and keep the record's size in its marker.
const HELPERS = `
local function extend(key, ttl)
  if ttl > 0 and redis.call('PTTL', key) < ttl * 1000 then redis.call('PEXPIRE', key, ttl * 1000) end
end
-- The owner index (KEYS[2] when the record belongs to an owner): a set of the owner's record
-- keys that lives as long as the longest-lived of them.
local function index(key, ttl)
  local owner = KEYS[2]
  if not owner then return end
  if redis.call('EXISTS', key) == 1 then redis.call('SADD', owner, key) else redis.call('SREM', owner, key) end
  extend(owner, ttl)
end
-- The record's size as its marker (read by the caller) keeps it; measured field by field when
-- the marker holds none (a record written before sizes were kept, or no record: 0).
local function size_of(key, marker)
  local kept = tonumber(marker)
  if kept then return kept end
  local size = 0
  for _, field in ipairs(redis.call('HKEYS', key)) do
    if field ~= '' then size = size + #field + redis.call('HSTRLEN', key, field) end
  end
  return size
end
-- Whether a record that was read before is gone (flag 'e': the write must not recreate it). The
-- marker answers in the common case; a record written before the marker is asked with EXISTS.
local function gone(key, flags, marker)
  return flags == 'e' and not marker and redis.call('EXISTS', key) == 0
end
-- The bytes a field takes now (0 when absent).
local function bytes_of(key, field)
  if redis.call('HEXISTS', key, field) == 0 then return 0 end
  return #field + redis.call('HSTRLEN', key, field)
end
-- After fields were deleted: a record with no data field left goes (as an emptied hash would),
-- else its marker takes the new size.
local function settle_after_delete(key, size)
  if redis.call('HLEN', key) - redis.call('HEXISTS', key, '') == 0 then redis.call('DEL', key)
  else redis.call('HSET', key, '', tostring(size)) end
end
-- The size of field/value pairs in ARGV from index \`first\` on.
local function size_of_pairs(first)
  local size = 0
  for i = first, #ARGV, 2 do size = size + #ARGV[i] + #ARGV[i + 1] end
  return size
end
`

// Shared by WRITE and COMPARE_AND_SET (after HELPERS): their ttl argument is either the seconds
// the record lives at least (the expiry only grows, as above), or '=' and the seconds (`exact`):
// the record expires exactly that long from now, even when that shortens its expiry. The owner
// index still only grows: it must outlive every record of its owner.
const EXACT = `
local function exact_ttl(arg)
  if string.sub(arg, 1, 1) ~= '=' then return nil end
  return tonumber(string.sub(arg, 2))
end
local function expire(key, ttl, exact)
  if exact then redis.call('PEXPIRE', key, math.ceil(ttl * 1000)) else extend(key, ttl) end
  index(key, exact and math.ceil(ttl) or ttl)
end
`

/** What LOAD answers when the record key held another type (now deleted). */
export const NOT_A_HASH = 'EXPRESS_STASH_NOT_A_HASH'

/**
 * LOAD: KEYS[1] record, KEYS[2] owner index (optional); ARGV[1] ttl (0: do not slide); ARGV[2..] fields.
 * Returns nil when the record does not exist, else the values (nil for missing fields); answers
 * the string NOT_A_HASH (after deleting it) when the key holds another type (a plain reply rather
 * than an error, so that the adapter reads it where it reads the values).
 *
 * The load of what plain commands cannot settle (see the Redis adapter), and every load on Redis
 * < 7: PTTL tells whether the record exists (-2 when not) and how long it has left, and HMGET
 * reads the fields, failing on a key of another type. The expiry is pushed only when it would
 * grow, as PEXPIRE GT does on Redis 7.
 */
export const LOAD = script(`
local key, ttl = KEYS[1], tonumber(ARGV[1]) * 1000
local left = redis.call('PTTL', key)
if left == -2 then return false end
local values = {}
if #ARGV > 1 then values = redis.pcall('HMGET', key, unpack(ARGV, 2))
elseif redis.call('TYPE', key)['ok'] ~= 'hash' then values = {err = 'WRONGTYPE'} end
-- Something that is not a hash under a record key was written behind our back: drop it.
if values.err then
  redis.call('DEL', key)
  return '${NOT_A_HASH}'
end
if ttl > 0 and left < ttl then redis.call('PEXPIRE', key, ttl) end
local owner = KEYS[2]
if owner and ttl > 0 and redis.call('PTTL', owner) < ttl then redis.call('PEXPIRE', owner, ttl) end
return values
`)

/**
 * WRITE: KEYS[1] record, KEYS[2] owner index (optional); ARGV[1] ttl (`=ttl`: exact); ARGV[2]
 * maxBytes (0: none); ARGV[3] flags ('e': the record must exist); ARGV[4] number of fields to
 * delete; then those fields; then field/value pairs to set.
 * Returns 0 when written, -1 when the record must exist and does not, or the size the record
 * would have had when it exceeds maxBytes (then nothing is written).
 */
export const WRITE = script(`${HELPERS}${EXACT}
local key = KEYS[1]
local marker = redis.call('HGET', key, '')
if gone(key, ARGV[3], marker) then return -1 end
local exact = exact_ttl(ARGV[1])
local ttl, max, ndel = exact or tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[4])
local dels, sets, changed = {}, {}, {}
for i = 5, 4 + ndel do dels[#dels + 1] = ARGV[i]; changed[ARGV[i]] = true end
for i = 5 + ndel, #ARGV, 2 do sets[#sets + 1] = ARGV[i]; sets[#sets + 1] = ARGV[i + 1]; changed[ARGV[i]] = true end
local size = size_of(key, marker) + size_of_pairs(5 + ndel)
for field in pairs(changed) do size = size - bytes_of(key, field) end
if max > 0 and size > max then return size end
if #dels > 0 then redis.call('HDEL', key, unpack(dels)) end
if #sets > 0 then redis.call('HSET', key, '', tostring(size), unpack(sets)) else settle_after_delete(key, size) end
expire(key, ttl, exact)
return 0
`)

/**
 * COMPARE_AND_SET: KEYS[1] record, KEYS[2] owner index (optional); ARGV[1] field; ARGV[2] '1' when a value is expected (else
 * absent); ARGV[3] expected; ARGV[4] '1' to set (else delete); ARGV[5] next; ARGV[6] ttl
 * (`=ttl`: exact); ARGV[7] maxBytes (0: none); ARGV[8] flags ('e': the record must exist).
 * Returns {1} when swapped, {0, current} on a mismatch, {2, size} when over maxBytes, {3} when
 * the record must exist and does not.
 */
export const COMPARE_AND_SET = script(`${HELPERS}${EXACT}
local key, field = KEYS[1], ARGV[1]
local marker = redis.call('HGET', key, '')
if gone(key, ARGV[8], marker) then return {3} end
local current = redis.call('HGET', key, field)
if (ARGV[2] == '1' and current ~= ARGV[3]) or (ARGV[2] ~= '1' and current ~= false) then return {0, current} end
local exact = exact_ttl(ARGV[6])
local ttl, max = exact or tonumber(ARGV[6]), tonumber(ARGV[7])
local size = size_of(key, marker) - (current and #field + #current or 0)
if ARGV[4] == '1' then
  size = size + #field + #ARGV[5]
  if max > 0 and size > max then return {2, size} end
  redis.call('HSET', key, '', tostring(size), field, ARGV[5])
else
  redis.call('HDEL', key, field)
  settle_after_delete(key, size)
end
expire(key, ttl, exact)
return {1}
`)

/** READ_ALL: KEYS[1] record. Returns field/value pairs, flat (the same shape for every client), the marker included. */
export const READ_ALL = script(`return redis.call('HGETALL', KEYS[1])`)

/** TOUCH: KEYS[1] record, KEYS[2] owner index (optional); ARGV[1] ttl. Returns 1 when the record exists. */
export const TOUCH = script(`${HELPERS}
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
extend(KEYS[1], tonumber(ARGV[1]))
if KEYS[2] then extend(KEYS[2], tonumber(ARGV[1])) end
return 1
`)

/** DELETE: KEYS[1] record, KEYS[2] owner index (optional). Returns 1 when the record existed, else 0. */
export const DELETE = script(`
if KEYS[2] then redis.call('SREM', KEYS[2], KEYS[1]) end
return redis.call('DEL', KEYS[1])
`)

/** OWNER_KEYS: KEYS[1] owner index. Returns the owner's live record keys, pruning expired ones. */
export const OWNER_KEYS = script(`
local live = {}
for _, key in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  if redis.call('EXISTS', key) == 1 then live[#live + 1] = key else redis.call('SREM', KEYS[1], key) end
end
return live
`)

/** DELETE_OWNER: KEYS[1] owner index. Deletes every record of the owner and the index; returns how many. */
export const DELETE_OWNER = script(`
local deleted = 0
for _, key in ipairs(redis.call('SMEMBERS', KEYS[1])) do deleted = deleted + redis.call('DEL', key) end
redis.call('DEL', KEYS[1])
return deleted
`)

/**
 * MOVE: KEYS[1] from, KEYS[2] to, then the owner indexes ARGV[2] names: 'same' (KEYS[3], of both
 * records), 'from' or 'to' (KEYS[3], of that record), 'both' (KEYS[3] of from, KEYS[4] of to), or
 * '' (none); ARGV[1] ttl; ARGV[3..] field/value pairs. Deletes `from`, replaces `to` with the
 * fields, and moves the record between the indexes, atomically; returns 1, or 0 (nothing done)
 * when `from` no longer exists. All keys must be in one hash slot on a cluster (one owner).
 */
export const MOVE = script(`${HELPERS}
local from, to, ttl, layout = KEYS[1], KEYS[2], tonumber(ARGV[1]), ARGV[2]
if redis.call('EXISTS', from) == 0 then return 0 end
redis.call('DEL', from, to)
local written = #ARGV > 2
if written then
  redis.call('HSET', to, '', tostring(size_of_pairs(3)), unpack(ARGV, 3))
  redis.call('EXPIRE', to, ttl)
end
local from_index, to_index
if layout == 'same' then from_index, to_index = KEYS[3], KEYS[3]
elseif layout == 'from' then from_index = KEYS[3]
elseif layout == 'to' then to_index = KEYS[3]
elseif layout == 'both' then from_index, to_index = KEYS[3], KEYS[4] end
if from_index then redis.call('SREM', from_index, from) end
if to_index and written then
  redis.call('SADD', to_index, to)
  extend(to_index, ttl)
end
return 1
`)

/**
 * REPLACE: KEYS[1] record, KEYS[2] its owner index (optional); ARGV[1] ttl; ARGV[2..] field/value
 * pairs. The half of MOVE that writes the new record, for a move across hash slots.
 */
export const REPLACE = script(`${HELPERS}
redis.call('DEL', KEYS[1])
if #ARGV > 1 then
  redis.call('HSET', KEYS[1], '', tostring(size_of_pairs(2)), unpack(ARGV, 2))
  redis.call('EXPIRE', KEYS[1], tonumber(ARGV[1]))
end
index(KEYS[1], tonumber(ARGV[1]))
return 1
`)
