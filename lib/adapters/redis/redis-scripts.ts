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
export function script(source: string): RedisScript {
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
 * stored key can take): the record's metadata as JSON, `{"c": createdAt, "v": version, "f":
 * {"<field>": [expiresAt, bytes], ...}}` (redis-layout.ts reads it), one entry per live field with
 * its expiry (ms since the epoch) and its size (UTF-8 bytes of name and value, what `maxBytes`
 * limits). `v` counts the writes that changed the record (the first one makes it 1; a marker
 * without it counts as 0), so every such write changes the marker. The same `HMGET` that reads
 * the values reads it, and a write measures only the fields it changes.
 * Earlier layouts, still read: a marker without `v`; the record's size as a decimal string, or no
 * marker at all (their fields live as long as the key); their first write converts them.
 */
export const MARKER = ''

// Shared Lua of the full path. Times are the caller's `now` (Date.now()), never TIME; a record's key
// expires when its last live field does, its owner index (KEYS[2], or as MOVE says) no earlier.
const LAYOUT = `
-- The metadata of a marker of this layout, or nil (an earlier layout, garbage, or no record).
local function meta_of(marker)
  if not marker or string.sub(marker, 1, 1) ~= '{' then return nil end
  local ok, meta = pcall(cjson.decode, marker)
  return ok and type(meta) == 'table' and type(meta.f) == 'table' and meta or nil
end
-- The metadata of \`key\` (marker \`marker\`) at \`now\`, the set of fields expired (to remove), and
-- whether it was converted from an earlier layout (fields live as long as the key, measured once).
-- With no live field (or no record) it starts anew, created now, its version kept with its marker.
local function open(key, now, marker)
  local meta, converted = meta_of(marker), false
  if not meta then
    meta, converted = {c = now, f = {}}, true
    local left = redis.call('PTTL', key)
    if left ~= -2 then
      for _, field in ipairs(redis.call('HKEYS', key)) do
        if field ~= '' then meta.f[field] = {now + left, #field + redis.call('HSTRLEN', key, field)} end
      end
    end
  end
  meta.v = tonumber(meta.v) or 0
  local gone = {}
  for field, entry in pairs(meta.f) do if entry[1] <= now then meta.f[field] = nil; gone[field] = true end end
  if next(meta.f) == nil then meta.c = now end
  return meta, gone, converted
end
local function del(meta, gone, field) meta.f[field] = nil; gone[field] = true end
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
-- Stores the record as the next version: removes the fields of \`gone\`, sets the marker and
-- \`hset\`, expires the key when its last field does, and keeps it in the index \`owner\`; deletes
-- it when no field is live. Returns the marker (stored, or that of the deleted record).
local function commit(key, owner, meta, gone, hset, now)
  meta.v = meta.v + 1
  local marker, last = cjson.encode(meta), 0
  for _, entry in pairs(meta.f) do last = math.max(last, entry[1]) end
  if last == 0 then
    redis.call('DEL', key)
    if owner then redis.call('SREM', owner, key) end
    return marker
  end
  local fields = {}
  for field in pairs(gone) do fields[#fields + 1] = field end
  if #fields > 0 then redis.call('HDEL', key, unpack(fields)) end
  redis.call('HSET', key, '', marker, unpack(hset))
  local left = math.ceil(last - now)
  redis.call('PEXPIRE', key, left)
  if owner then
    redis.call('SADD', owner, key)
    if redis.call('PTTL', owner) < left then redis.call('PEXPIRE', owner, left) end
  end
  return marker
end
-- Writes field/value/expiresAt triples of ARGV from \`first\` on as the new record \`key\`, the one
-- after \`version\`; returns its version.
local function put(key, owner, now, created, first, version)
  redis.call('DEL', key)
  local meta, gone, hset = {c = tonumber(created) or now, v = version, f = {}}, {}, {}
  for i = first, #ARGV, 3 do set(meta, gone, hset, now, ARGV[i], ARGV[i + 1], tonumber(ARGV[i + 2])) end
  commit(key, owner, meta, {}, hset, now)
  return meta.v
end
`

// The fast path's end, after its HSET: the key lives ARGV[3] ms, its owner index no less (as commit()).
const FAST_EXPIRE = `
  redis.call('PEXPIRE', key, ARGV[3])
  if KEYS[2] then
    redis.call('SADD', KEYS[2], key)
    if redis.call('PTTL', KEYS[2]) < tonumber(ARGV[3]) then redis.call('PEXPIRE', KEYS[2], ARGV[3]) end
  end`

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
if reply.err then redis.call('DEL', key); return '${NOT_A_HASH}' end
table.insert(reply, 1, left)
return reply
`)

/**
 * WRITE: KEYS[1] record, KEYS[2] owner index (optional); ARGV[1] the marker expected ('': none),
 * [2] the marker the write makes of it ('': nothing changes), [3] the key's lifetime then (ms),
 * [4] how many fields the fast path removes, [5] how many to set, [6] numbers: now, maxBytes (0:
 * none), 1 when the record must exist, how many fields to delete (the first of those removed) and
 * to slide, the expiries of the fields set, those of the fields slid; then the fields removed, the
 * field/value pairs to set, the fields to slide (live fields only).
 * The fast path, when the stored marker is the one expected: the client worked the write out from
 * it (redis-layout.ts `planChange`), applied as is, with no decoding and no loop; returns 0. Else
 * the full path returns the marker it stored (or that of the record it deleted, or the current
 * one when nothing changes), -1 when the record must exist and does not, or the size the record
 * would have had when it exceeds maxBytes (then nothing is written).
 */
export const WRITE = script(`
local key = KEYS[1]
local marker = redis.call('HGET', key, '')
local nremove, nset = tonumber(ARGV[4]), tonumber(ARGV[5])
if ARGV[1] ~= '' and marker == ARGV[1] then
  if ARGV[2] == '' then return 0 end
  if nremove > 0 then redis.call('HDEL', key, unpack(ARGV, 7, 6 + nremove)) end
  redis.call('HSET', key, '', ARGV[2], unpack(ARGV, 7 + nremove, 6 + nremove + 2 * nset))
  ${FAST_EXPIRE}
  return 0
end
${LAYOUT}
-- The full path's numbers come in one argument: each argument costs the fast path too.
local n, i = {}, 0; for word in string.gmatch(ARGV[6], '%S+') do i = i + 1; n[i] = tonumber(word) end
local now, max, ndel, nslide = n[1], n[2], n[4], n[5]
local meta, gone, converted = open(key, now, marker)
if n[3] == 1 and next(meta.f) == nil then return -1 end
local hset, slid = {}, false
for i = 7, 6 + ndel do del(meta, gone, ARGV[i]) end
-- The pairs to set from p on, the fields to slide from q on; their expiries in n from 6 on.
local p = 7 + nremove
local q = p + 2 * nset
for k = 0, nset - 1 do set(meta, gone, hset, now, ARGV[p + 2 * k], ARGV[p + 2 * k + 1], n[6 + k]) end
for k = 0, nslide - 1 do slid = slide(meta, gone, now, ARGV[q + k], n[6 + nset + k]) or slid end
if not slid and #hset == 0 and next(gone) == nil then return converted and cjson.encode(meta) or marker end
local size = size_of(meta); if max > 0 and size > max then return size end
return commit(key, KEYS[2], meta, gone, hset, now)
`)

/**
 * COMPARE_AND_SET: KEYS, ARGV[1..4] as WRITE's; [5] numbers: now, maxBytes (0: none), 1 when the
 * record must exist; [6] field; [7] '1' when a value is expected (else absent or expired); [8]
 * expected; [9] '1' to set (else delete); [10] next; [11] '1' unless the expected marker says the
 * field expired; then the fields the fast path removes; then field/expiresAt pairs: the field's
 * own, and those of live fields to slide. Returns {1} when swapped by the fast path, {1, marker}
 * by the full path, {0, current} on a mismatch, {2, size} over maxBytes, {3} when gone.
 */
export const COMPARE_AND_SET = script(`
local key, field = KEYS[1], ARGV[6]
local marker = redis.call('HGET', key, '')
local nremove = tonumber(ARGV[4])
if ARGV[1] ~= '' and marker == ARGV[1] then
  local current = ARGV[11] == '1' and redis.call('HGET', key, field)
  if (ARGV[7] == '1' and current ~= ARGV[8]) or (ARGV[7] ~= '1' and current) then return {0, current} end
  if nremove > 0 then redis.call('HDEL', key, unpack(ARGV, 12, 11 + nremove)) end
  if ARGV[9] == '1' then redis.call('HSET', key, '', ARGV[2], field, ARGV[10]) else redis.call('HSET', key, '', ARGV[2]) end
  ${FAST_EXPIRE}
  return {1}
end
${LAYOUT}
local n, i = {}, 0; for word in string.gmatch(ARGV[5], '%S+') do i = i + 1; n[i] = tonumber(word) end
local now, max = n[1], n[2]
local meta, gone = open(key, now, marker)
if n[3] == 1 and next(meta.f) == nil then return {3} end
local current = not gone[field] and redis.call('HGET', key, field)
if (ARGV[7] == '1' and current ~= ARGV[8]) or (ARGV[7] ~= '1' and current) then return {0, current} end
local expires, hset = {}, {}
for i = 12 + nremove, #ARGV, 2 do expires[ARGV[i]] = tonumber(ARGV[i + 1]) end
if ARGV[9] == '1' then set(meta, gone, hset, now, field, ARGV[10], expires[field]) else del(meta, gone, field) end
for name, at in pairs(expires) do slide(meta, gone, now, name, at) end
local size = size_of(meta); if max > 0 and size > max then return {2, size} end
return {1, commit(key, KEYS[2], meta, gone, hset, now)}
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
 * Deletes `from`, replaces `to` with the fields as the version after that of `from`, and moves
 * the record between the indexes, atomically; returns the version of `to`, or 0 (nothing done)
 * when `from` no longer exists (no live field). All keys must be in one hash slot on a cluster
 * (one owner).
 */
export const MOVE = script(`${LAYOUT}
local from, to, now, layout = KEYS[1], KEYS[2], tonumber(ARGV[1]), ARGV[2]
local source = open(from, now, redis.call('HGET', from, ''))
if next(source.f) == nil then return 0 end
local from_index, to_index
if layout == 'same' then from_index, to_index = KEYS[3], KEYS[3]
elseif layout == 'from' then from_index = KEYS[3]
elseif layout == 'to' then to_index = KEYS[3]
elseif layout == 'both' then from_index, to_index = KEYS[3], KEYS[4] end
redis.call('DEL', from)
if from_index then redis.call('SREM', from_index, from) end
return put(to, to_index, now, ARGV[3], 4, source.v)
`)

/**
 * REPLACE: KEYS[1] record, KEYS[2] its owner index (optional); ARGV[1] now; ARGV[2] createdAt
 * ('': now); ARGV[3..] field/value/expiresAt triples. The half of MOVE that writes the new
 * record (version 1), for a move across hash slots; returns its version.
 */
export const REPLACE = script(`${LAYOUT}
return put(KEYS[1], KEYS[2], tonumber(ARGV[1]), ARGV[2], 3, 0)
`)
