/**
 * The Lua scripts of the Redis log backend (redis-backend.ts), one per change of more than one key. Each runs whole,
 * with no other command in between: that is what makes a log's seqs strictly increasing across instances, a lease a
 * fence, and each entry's state changes and producer mark land with it or not at all. Keys are in redis-keys.ts
 * (RedisLogKeys); every key a script touches is passed as a key. Scripts answer codes, never errors: an error reply
 * is a failure of the medium.
 *
 * The activity index holds members `<activeAt, 16 digits> <log>` at score 0, and the state hash keeps `active_at` in
 * the same 16 digits, so a script can find a log's member to move it.
 */

/**
 * A line of a wake message (redis-wake.ts): `<log> <head>`, the log's `%` and newlines percent-encoded, so that no
 * log id can split a message into lines that name other logs.
 */
const WAKE_LINE = `
local function wake_line(log, head)
  return string.gsub(log, '[%%\\n]', { ['%'] = '%25', ['\\n'] = '%0A' }) .. ' ' .. head
end
`

/** HINCRBY takes one field: `counts(key, field, by, field, by…)` adds to several. */
const COUNTS = `
local function counts(key, ...)
  local args = {...}
  for i = 1, #args, 2 do redis.call('HINCRBY', key, args[i], args[i + 1]) end
end
`

/**
 * Shared by CREATE and FORK_FINISH: whether the log id and its aliases are free, and the creation itself. With `K`
 * keys and `A` args before them: KEYS state, aliases set, activity, expiry, totals, the alias key of the log's own id,
 * then per alias its alias key and the state key of a log of that name; ARGV log, meta, now (ms), now (16 digits),
 * expiresAt ('' for never), closed ('1'/'0'), then the aliases.
 */
const CREATE_LOG = `${COUNTS}
local function aliases_of(K) return (#KEYS - K - 6) / 2 end
local function is_free(K, A)
  if redis.call('EXISTS', KEYS[K + 1]) == 1 or redis.call('EXISTS', KEYS[K + 6]) == 1 then return false end
  for i = 1, aliases_of(K) do
    if ARGV[A + 6 + i] == ARGV[A + 1] then return false end
    if redis.call('EXISTS', KEYS[K + 5 + 2 * i]) == 1 or redis.call('EXISTS', KEYS[K + 6 + 2 * i]) == 1 then return false end
  end
  return true
end
local function create_log(K, A)
  local state, log, padded = KEYS[K + 1], ARGV[A + 1], ARGV[A + 4]
  redis.call('HSET', state, 'head', 0, 'tail', 0, 'count', 0, 'bytes', 0, 'created_at', ARGV[A + 3], 'active_at', padded,
    'closed', ARGV[A + 6], 'meta', ARGV[A + 2])
  if ARGV[A + 5] ~= '' then
    redis.call('HSET', state, 'expires_at', ARGV[A + 5])
    redis.call('ZADD', KEYS[K + 4], ARGV[A + 5], log)
  end
  for i = 1, aliases_of(K) do
    redis.call('SET', KEYS[K + 5 + 2 * i], log)
    redis.call('SADD', KEYS[K + 2], ARGV[A + 6 + i])
  end
  redis.call('ZADD', KEYS[K + 3], 0, padded .. ' ' .. log)
  redis.call('HINCRBY', KEYS[K + 5], 'logs', 1)
end
`

/** Creates a log (CREATE_LOG's layout, nothing before it). Returns 1, or 0 when its id or an alias is taken. */
export const CREATE = `${CREATE_LOG}
if not is_free(0, 0) then return 0 end
create_log(0, 0)
return 1`

/**
 * Moves a log's activity to `padded` (16 digits). A Lua function shared by APPEND and TOUCH.
 */
const MOVE_ACTIVITY = `
local function move_activity(state, activity, log, padded)
  local old = redis.call('HGET', state, 'active_at')
  if old == padded then return end
  if old then redis.call('ZREM', activity, old .. ' ' .. log) end
  redis.call('ZADD', activity, 0, padded .. ' ' .. log)
  redis.call('HSET', state, 'active_at', padded)
end
`

/**
 * Appends a batch, in order, possibly to several logs (log-backend.ts `append`). KEYS: activity, open runs, totals,
 * then per log of the batch: state, entries, producers, runs, lease. ARGV: now (ms), now (16 digits), wake channel,
 * maxLogBytes, reserveBytes, the number of logs, their ids, then per entry: the log's index (from 1), data, bytes,
 * flags, run ('' for none), producer key, producer value. Flags, one letter each: n data null, x exempt, o opens its
 * run, c closes its run, f fenced, r recovers, L closes the log, t touch, p has a producer mark. An entry without data
 * takes no room, so it is never FULL (a full log can still be closed).
 *
 * A fenced entry of a leased run (its id is in the runs set: the CLAIM script put it there) is stored only while that
 * run is the log's open run and holds the lease, so an owner that lost its lease never writes after another instance
 * closed its run. A recovering entry is stored only while its run is open and nobody holds the lease. Publishes one
 * message, a line `<log> <head>` per log a stored entry changed. Returns, per entry, its seq (the head for a state-only
 * entry) or NO_LOG, CLOSED, FENCED, FULL.
 */
export const APPEND = `${COUNTS}${WAKE_LINE}${MOVE_ACTIVITY}
local now, padded, channel = ARGV[1], ARGV[2], ARGV[3]
local room = tonumber(ARGV[4]) - tonumber(ARGV[5])
local logs = tonumber(ARGV[6])
local first = 7 + logs
local results, heads, order, touched = {}, {}, {}, {}
local added, added_bytes = 0, 0
for i = 0, (#ARGV - first + 1) / 7 - 1 do
  local a = first + i * 7
  local j = tonumber(ARGV[a]) - 1
  local state, entries, producers, runs, lease = KEYS[4 + 5 * j], KEYS[5 + 5 * j], KEYS[6 + 5 * j], KEYS[7 + 5 * j], KEYS[8 + 5 * j]
  local log, data, bytes, flags, run = ARGV[7 + j], ARGV[a + 1], tonumber(ARGV[a + 2]), ARGV[a + 3], ARGV[a + 4]
  local function has(c) return string.find(flags, c, 1, true) ~= nil end
  local result
  if redis.call('EXISTS', state) == 0 then
    result = 'NO_LOG'
  elseif redis.call('HGET', state, 'closed') == '1' then
    result = 'CLOSED'
  else
    local open = redis.call('HGET', state, 'open_run')
    if has('r') and (open ~= run or redis.call('EXISTS', lease) == 1) then
      result = 'FENCED'
    elseif has('f') and run ~= '' and redis.call('SISMEMBER', runs, run) == 1 and (open ~= run or redis.call('GET', lease) ~= run) then
      result = 'FENCED'
    elseif not has('n') and not has('x') and tonumber(redis.call('HGET', state, 'bytes')) + bytes > room then
      result = 'FULL'
    else
      local head
      if has('n') then
        head = tonumber(redis.call('HGET', state, 'head'))
      else
        head = redis.call('HINCRBY', state, 'head', 1)
        redis.call('HINCRBY', state, 'count', 1)
        redis.call('HINCRBY', state, 'bytes', bytes)
        redis.call('XADD', entries, head .. '-0', 'd', data)
        added, added_bytes = added + 1, added_bytes + bytes
      end
      if has('p') then redis.call('HSET', producers, ARGV[a + 5], ARGV[a + 6]) end
      if has('o') and run ~= '' then
        redis.call('HSET', state, 'open_run', run, 'run_from', has('n') and head or head - 1)
        redis.call('SADD', KEYS[2], log)
        open = run
      end
      if has('c') and run ~= '' and open == run then
        redis.call('HDEL', state, 'open_run', 'run_from')
        redis.call('SREM', KEYS[2], log)
      end
      if has('L') then redis.call('HSET', state, 'closed', '1') end
      if has('t') then touched[j] = true end
      if heads[j] == nil then order[#order + 1] = j end
      heads[j] = head
      result = head
    end
  end
  results[i + 1] = result
end
if added > 0 then counts(KEYS[3], 'entries', added, 'bytes', added_bytes) end
local lines = {}
for n, j in ipairs(order) do
  lines[n] = wake_line(ARGV[7 + j], heads[j])
  if touched[j] then move_activity(KEYS[4 + 5 * j], KEYS[1], ARGV[7 + j], padded) end
end
if #lines > 0 then redis.call('PUBLISH', channel, table.concat(lines, '\\n')) end
return results`

/**
 * Sets a log's activity and, unless ARGV[3] is '', its expiry ('-' clears it). KEYS: state, activity, expiry. ARGV:
 * log, activeAt (16 digits), expiresAt. Returns 1, or 0 for no such log.
 */
export const TOUCH = `${MOVE_ACTIVITY}
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
move_activity(KEYS[1], KEYS[2], ARGV[1], ARGV[2])
if ARGV[3] == '-' then
  redis.call('HDEL', KEYS[1], 'expires_at')
  redis.call('ZREM', KEYS[3], ARGV[1])
elseif ARGV[3] ~= '' then
  redis.call('HSET', KEYS[1], 'expires_at', ARGV[3])
  redis.call('ZADD', KEYS[3], ARGV[3], ARGV[1])
end
return 1`

/** Replaces a log's meta. KEYS: state. ARGV: meta. Returns 1, or 0 for no such log (which it does not create). */
export const SET_META = `
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
redis.call('HSET', KEYS[1], 'meta', ARGV[1])
return 1`

/**
 * Deletes a log and all of it. KEYS: state, entries, producers, aliases set, runs, lease, activity, expiry, open
 * runs, totals, then the alias keys of its aliases. ARGV: log, wake channel, then the aliases, as read from its
 * aliases set just before. Returns 1; 0 for no such log; -1 when the aliases given are not the log's (it was deleted
 * and created again meanwhile: read them again). UNLINK frees a large log's entries off Redis's main thread.
 */
export const DELETE = `${COUNTS}${WAKE_LINE}
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
local aliases = redis.call('SMEMBERS', KEYS[4])
if #aliases ~= #KEYS - 10 then return -1 end
local given = {}
for i = 3, #ARGV do given[ARGV[i]] = true end
for _, alias in ipairs(aliases) do if not given[alias] then return -1 end end
for i = 11, #KEYS do
  if redis.call('GET', KEYS[i]) == ARGV[1] then redis.call('DEL', KEYS[i]) end
end
local state = redis.call('HMGET', KEYS[1], 'count', 'bytes', 'active_at')
redis.call('UNLINK', KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6])
if state[3] then redis.call('ZREM', KEYS[7], state[3] .. ' ' .. ARGV[1]) end
redis.call('ZREM', KEYS[8], ARGV[1])
redis.call('SREM', KEYS[9], ARGV[1])
counts(KEYS[10], 'logs', -1, 'entries', -tonumber(state[1]), 'bytes', -tonumber(state[2]))
redis.call('PUBLISH', ARGV[2], wake_line(ARGV[1], 0))
return 1`

/**
 * Reads entries in small pages until `max entries` or `max bytes` are reached: what bounds the time one script holds
 * Redis (a log may hold 64 MiB). A Lua function shared by TRIM and FORK_COPY; `visit` is called with each entry.
 */
const PAGES = `
local function pages(key, from, to, max_entries, max_bytes, visit)
  local n, bytes, last = 0, 0, nil
  while n < max_entries and bytes < max_bytes do
    local page = redis.call('XRANGE', key, from, to, 'COUNT', 16)
    for _, entry in ipairs(page) do
      visit(entry)
      n, bytes, last = n + 1, bytes + string.len(entry[2][2]), entry[1]
    end
    if #page < 16 then return true, n, bytes, last end
    from = '(' .. last
  end
  return false, n, bytes, last
end
local function seq_of(id) return tonumber(string.match(id, '^%d+')) end
`

/**
 * Deletes a log's oldest entries up to `through`, a bounded part per call. KEYS: state, entries, totals. ARGV: log,
 * through, wake channel, max entries, max bytes. Returns {done (1/0), entries deleted}; the caller calls again
 * until done. Raises `tail` to the last seq deleted, and to `through` (at most the head) once done.
 */
export const TRIM = `${COUNTS}${WAKE_LINE}${PAGES}
if redis.call('EXISTS', KEYS[1]) == 0 then return {1, 0} end
local through = math.min(tonumber(ARGV[2]), tonumber(redis.call('HGET', KEYS[1], 'head')))
local done, n, bytes, last = pages(KEYS[2], '-', through .. '-0', tonumber(ARGV[4]), tonumber(ARGV[5]), function() end)
local tail = done and through or seq_of(last)
if n > 0 then
  redis.call('XTRIM', KEYS[2], 'MINID', (seq_of(last) + 1) .. '-0')
  counts(KEYS[1], 'count', -n, 'bytes', -bytes)
  counts(KEYS[3], 'entries', -n, 'bytes', -bytes)
  redis.call('PUBLISH', ARGV[3], wake_line(ARGV[1], 0))
end
if tail > tonumber(redis.call('HGET', KEYS[1], 'tail')) then redis.call('HSET', KEYS[1], 'tail', tail) end
return {done and 1 or 0, n}`

/**
 * Deletes the given entries (compaction), stopping once `max bytes` were deleted. KEYS: state, entries, totals.
 * ARGV: log, wake channel, max bytes, then the seqs. Returns how many seqs it went through; the caller sends the
 * rest again.
 */
export const DELETE_ENTRIES = `${COUNTS}${WAKE_LINE}
if redis.call('EXISTS', KEYS[1]) == 0 then return #ARGV - 3 end
local n, bytes, seen = 0, 0, 0
for i = 4, #ARGV do
  if bytes >= tonumber(ARGV[3]) then break end
  local id = ARGV[i] .. '-0'
  local found = redis.call('XRANGE', KEYS[2], id, id)
  if #found > 0 then
    n, bytes = n + 1, bytes + string.len(found[1][2][2])
    redis.call('XDEL', KEYS[2], id)
  end
  seen = seen + 1
end
if n > 0 then
  counts(KEYS[1], 'count', -n, 'bytes', -bytes)
  counts(KEYS[3], 'entries', -n, 'bytes', -bytes)
  redis.call('PUBLISH', ARGV[2], wake_line(ARGV[1], 0))
end
return seen`

/**
 * Copies a bounded part of a log's entries `after < seq <= at` into a fork's copy stream, which expires unless the
 * fork finishes (its instance may die meanwhile). KEYS: source entries, copy. ARGV: after, at, max entries, max bytes,
 * the copy's time to live (ms). Returns {done (1/0), entries, bytes, the last seq copied (or `after`)}.
 */
export const FORK_COPY = `${PAGES}
local done, n, bytes, last = pages(KEYS[1], '(' .. ARGV[1] .. '-0', ARGV[2] .. '-0', tonumber(ARGV[3]), tonumber(ARGV[4]),
  function(entry) redis.call('XADD', KEYS[2], entry[1], 'd', entry[2][2]) end)
if n > 0 then redis.call('PEXPIRE', KEYS[2], ARGV[5]) end
return {done and 1 or 0, n, bytes, last and seq_of(last) or tonumber(ARGV[1])}`

/**
 * Makes a fork a log, with the entries copied: nothing of it exists before this (an append to it meanwhile is
 * NO_LOG), so no append can land between the copied entries. KEYS: source state, copy, target entries, then
 * CREATE_LOG's layout. ARGV: source log, at, entries copied, their bytes, then CREATE_LOG's. Returns 1, 0 when the
 * target or an alias was taken meanwhile, NO_LOG when the source is gone.
 */
export const FORK_FINISH = `${CREATE_LOG}
if redis.call('EXISTS', KEYS[1]) == 0 then
  redis.call('DEL', KEYS[2])
  return 'NO_LOG'
end
if not is_free(3, 4) then
  redis.call('DEL', KEYS[2])
  return 0
end
create_log(3, 4)
redis.call('UNLINK', KEYS[3])
if redis.call('EXISTS', KEYS[2]) == 1 then
  redis.call('RENAME', KEYS[2], KEYS[3])
  redis.call('PERSIST', KEYS[3])
end
local at = tonumber(ARGV[2])
local tail = math.min(tonumber(redis.call('HGET', KEYS[1], 'tail')), at)
redis.call('HSET', KEYS[4], 'head', at, 'tail', tail, 'count', ARGV[3], 'bytes', ARGV[4], 'forked_from', ARGV[1], 'forked_at', at)
counts(KEYS[8], 'entries', ARGV[3], 'bytes', ARGV[4])
return 1`
