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
 * stored key can take): the record's metadata as JSON, `{"c": createdAt, "f": {"<field>":
 * [expiresAt, bytes], ...}}` (redis-layout.ts reads it), one entry per live field with its expiry
 * (ms since the epoch) and its size (UTF-8 bytes of name and value, what `maxBytes` limits). The
 * same `HMGET` that reads the values reads it, and a write measures only the fields it changes.
 * Earlier layouts, still read: the record's size as a decimal string, or no marker at all; their
 * fields live as long as the key, and their first write converts them.
 */
export const MARKER = ''

// Shared Lua. Times are the caller's `now` (Date.now()), never TIME; a record's key expires
// exactly when its last live field does, and its owner index (KEYS[2], or as MOVE says) lives
// at least as long as each of its records.
const LAYOUT = `
-- The metadata of a marker of this layout, or nil (an earlier layout, or no record).
local function meta_of(marker)
  if not marker or string.sub(marker, 1, 1) ~= '{' then return nil end
  local ok, meta = pcall(cjson.decode, marker)
  if ok and type(meta) == 'table' and type(meta.f) == 'table' then return meta end
  return nil
end
-- The metadata of \`key\` as of \`now\`, and the set of fields that expired (to remove): a record of
-- an earlier layout is converted (its fields live as long as the key, measured once), and a
-- record with no live field (or no record) starts anew, created now.
local function open(key, now)
  local meta = meta_of(redis.call('HGET', key, ''))
  if not meta then
    meta = {c = now, f = {}}
    local left = redis.call('PTTL', key)
    if left ~= -2 then
      for _, field in ipairs(redis.call('HKEYS', key)) do
        if field ~= '' then meta.f[field] = {now + left, #field + redis.call('HSTRLEN', key, field)} end
      end
    end
  end
  local gone = {}
  for field, entry in pairs(meta.f) do
    if entry[1] <= now then meta.f[field] = nil; gone[field] = true end
  end
  if next(meta.f) == nil then meta.c = now end
  return meta, gone
end
local function del(meta, gone, field)
  meta.f[field] = nil
  gone[field] = true
end
-- Sets a field (an expiry already past removes it); \`hset\` collects the field/value pairs.
local function set(meta, gone, hset, now, field, value, expires)
  if expires <= now then return del(meta, gone, field) end
  meta.f[field] = {expires, #field + #value}
  hset[#hset + 1] = field
  hset[#hset + 1] = value
end
-- Gives a live field a new expiry (one already past removes it); whether it was live.
local function slide(meta, gone, now, field, expires)
  local entry = meta.f[field]
  if not entry then return false end
  if expires <= now then del(meta, gone, field) else entry[1] = expires end
  return true
end
local function size_of(meta)
  local size = 0
  for _, entry in pairs(meta.f) do size = size + entry[2] end
  return size
end
-- Stores the record: removes the fields of \`gone\`, sets the marker and \`hset\`, expires the key
-- when its last field does, and keeps it in the index \`owner\`; deletes it when no field is live.
local function commit(key, owner, meta, gone, hset, now)
  local last = 0
  for _, entry in pairs(meta.f) do last = math.max(last, entry[1]) end
  if last == 0 then
    redis.call('DEL', key)
    if owner then redis.call('SREM', owner, key) end
    return
  end
  local fields = {}
  for field in pairs(gone) do fields[#fields + 1] = field end
  if #fields > 0 then redis.call('HDEL', key, unpack(fields)) end
  redis.call('HSET', key, '', cjson.encode(meta), unpack(hset))
  local left = math.ceil(last - now)
  redis.call('PEXPIRE', key, left)
  if owner then
    redis.call('SADD', owner, key)
    if redis.call('PTTL', owner) < left then redis.call('PEXPIRE', owner, left) end
  end
end
-- Writes field/value/expiresAt triples of ARGV from \`first\` on as the new record \`key\`.
local function put(key, owner, now, created, first)
  redis.call('DEL', key)
  local meta, gone, hset = {c = tonumber(created) or now, f = {}}, {}, {}
  for i = first, #ARGV, 3 do set(meta, gone, hset, now, ARGV[i], ARGV[i + 1], tonumber(ARGV[i + 2])) end
  commit(key, owner, meta, {}, hset, now)
end
`

/** What LOAD answers when the record key held another type (now deleted). */
export const NOT_A_HASH = 'EXPRESS_STASH_NOT_A_HASH'

/**
 * LOAD: KEYS[1] record; ARGV the fields. Returns nil when the record does not exist, else
 * `{pttl, marker, values...}` (nil for a missing field or marker), for the load of what a plain
 * `HMGET` cannot settle (redis-load.ts): a record of an earlier layout, whose fields live as long
 * as the key. Answers the string NOT_A_HASH (after deleting it) when the key holds another type
 * (a plain reply rather than an error, so that the adapter reads it where it reads the values).
 */
export const LOAD = script(`
local key = KEYS[1]
local left = redis.call('PTTL', key)
if left == -2 then return false end
local reply = redis.pcall('HMGET', key, '', unpack(ARGV))
-- Something that is not a hash under a record key was written behind our back: drop it.
if reply.err then
  redis.call('DEL', key)
  return '${NOT_A_HASH}'
end
table.insert(reply, 1, left)
return reply
`)

/**
 * WRITE: KEYS[1] record, KEYS[2] owner index (optional); ARGV[1] now; ARGV[2] maxBytes (0: none);
 * ARGV[3] flags ('e': the record must exist); ARGV[4..6] how many fields to delete, to set and to
 * slide; then the fields to delete, field/value/expiresAt triples to set, field/expiresAt pairs
 * to slide (live fields only). Returns 0 when written, -1 when the record must exist and does
 * not, or the size the record would have had when it exceeds maxBytes (then nothing is written).
 */
export const WRITE = script(`${LAYOUT}
local key, now, max = KEYS[1], tonumber(ARGV[1]), tonumber(ARGV[2])
local ndel, nset, nslide = tonumber(ARGV[4]), tonumber(ARGV[5]), tonumber(ARGV[6])
local meta, gone = open(key, now)
if ARGV[3] == 'e' and next(meta.f) == nil then return -1 end
local hset, slid, i = {}, false, 7
for _ = 1, ndel do del(meta, gone, ARGV[i]); i = i + 1 end
for _ = 1, nset do set(meta, gone, hset, now, ARGV[i], ARGV[i + 1], tonumber(ARGV[i + 2])); i = i + 3 end
for _ = 1, nslide do slid = slide(meta, gone, now, ARGV[i], tonumber(ARGV[i + 1])) or slid; i = i + 2 end
if not slid and #hset == 0 and next(gone) == nil then return 0 end
local size = size_of(meta)
if max > 0 and size > max then return size end
commit(key, KEYS[2], meta, gone, hset, now)
return 0
`)

/**
 * COMPARE_AND_SET: KEYS[1] record, KEYS[2] owner index (optional); ARGV[1] now; ARGV[2] maxBytes
 * (0: none); ARGV[3] flags ('e': the record must exist); ARGV[4] field; ARGV[5] '1' when a value
 * is expected (else absent or expired); ARGV[6] expected; ARGV[7] '1' to set (else delete);
 * ARGV[8] next; then field/expiresAt pairs: the field's own, and those of live fields to slide.
 * Returns {1} when swapped, {0, current} on a mismatch, {2, size} when over maxBytes, {3} when
 * the record must exist and does not.
 */
export const COMPARE_AND_SET = script(`${LAYOUT}
local key, now, max, field = KEYS[1], tonumber(ARGV[1]), tonumber(ARGV[2]), ARGV[4]
local meta, gone = open(key, now)
if ARGV[3] == 'e' and next(meta.f) == nil then return {3} end
local current = not gone[field] and redis.call('HGET', key, field)
if (ARGV[5] == '1' and current ~= ARGV[6]) or (ARGV[5] ~= '1' and current) then return {0, current} end
local expires, hset = {}, {}
for i = 9, #ARGV, 2 do expires[ARGV[i]] = tonumber(ARGV[i + 1]) end
if ARGV[7] == '1' then set(meta, gone, hset, now, field, ARGV[8], expires[field]) else del(meta, gone, field) end
for name, at in pairs(expires) do slide(meta, gone, now, name, at) end
local size = size_of(meta)
if max > 0 and size > max then return {2, size} end
commit(key, KEYS[2], meta, gone, hset, now)
return {1}
`)

/** READ_ALL: KEYS[1] record. Returns `{pttl, field, value, ...}` (flat, the same shape for every client), the marker included. */
export const READ_ALL = script(`
local reply = redis.call('HGETALL', KEYS[1])
table.insert(reply, 1, redis.call('PTTL', KEYS[1]))
return reply
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
 * '' (none); ARGV[1] now; ARGV[3] createdAt ('': now); ARGV[4..] field/value/expiresAt triples.
 * Deletes `from`, replaces `to` with the fields, and moves the record between the indexes,
 * atomically; returns 1, or 0 (nothing done) when `from` no longer exists (no live field). All
 * keys must be in one hash slot on a cluster (one owner).
 */
export const MOVE = script(`${LAYOUT}
local from, to, now, layout = KEYS[1], KEYS[2], tonumber(ARGV[1]), ARGV[2]
local source = open(from, now)
if next(source.f) == nil then return 0 end
local from_index, to_index
if layout == 'same' then from_index, to_index = KEYS[3], KEYS[3]
elseif layout == 'from' then from_index = KEYS[3]
elseif layout == 'to' then to_index = KEYS[3]
elseif layout == 'both' then from_index, to_index = KEYS[3], KEYS[4] end
redis.call('DEL', from)
if from_index then redis.call('SREM', from_index, from) end
put(to, to_index, now, ARGV[3], 4)
return 1
`)

/**
 * REPLACE: KEYS[1] record, KEYS[2] its owner index (optional); ARGV[1] now; ARGV[2] createdAt
 * ('': now); ARGV[3..] field/value/expiresAt triples. The half of MOVE that writes the new
 * record, for a move across hash slots.
 */
export const REPLACE = script(`${LAYOUT}
put(KEYS[1], KEYS[2], tonumber(ARGV[1]), ARGV[2], 3)
return 1
`)
