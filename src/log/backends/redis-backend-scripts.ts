import { COUNTS, CREATE_LOG, MOVE_ACTIVITY, WAKE_LINE } from './redis-lua.ts'

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
 * Creates a log with its first entries. KEYS: its entries, then CREATE_LOG's layout. ARGV: CREATE_LOG's. Returns 1, or
 * 0 when its id or an alias is taken.
 */
export const CREATE = `${CREATE_LOG}
if not is_free(1, 0) then return 0 end
create_log(1, 0)
add_entries(1, 0, KEYS[1])
return 1`

/**
 * Appends a batch, in order, possibly to several logs (log-backend.ts `append`). KEYS: activity, open runs, totals,
 * then per log of the batch: state, entries, producers, runs, lease. ARGV: now (ms), now (16 digits), wake channel,
 * the sender's tag (redis-wake.ts), maxLogBytes, reserveBytes, maxLogEntries ('' for unbounded), the number of logs,
 * their ids, then per entry: the log's index (from 1), data, bytes,
 * flags, run ('' for none), the number of producer marks, and per mark its key, value, kind ('-' written blindly, '0'
 * expects none, '=' expects the next arg) and expected value. Flags, one letter each: n data null, x exempt, o opens
 * its run, c closes its run, f fenced, r recovers, L closes the log, t touch. An entry without data takes no room, so
 * it is never FULL nor TOO_MANY (a full log can still be closed). A log whose `expires_at` is at or before now is NO_LOG, judged
 * here so that no instance's entry lands after the expiry (GONE while forks name it, and for a soft-deleted log); a mark whose expected value is not the one held is STALE,
 * judged here so that two instances deciding from one read never both write.
 *
 * A fenced entry of a leased run (its id is in the runs set: the CLAIM script put it there) is stored only while that
 * run is the log's open run and holds the lease, so an owner that lost its lease never writes after another instance
 * closed its run. A recovering entry is stored only while its run is open and nobody holds the lease. Publishes one
 * message: the sender's tag line, then a line `<log> <head>` per log a stored entry changed. Returns, per entry, its seq (the head for a state-only
 * entry) or NO_LOG, GONE, STALE, CLOSED, FENCED, FULL, TOO_MANY. A log the batch closed is told closed in its line, so that other
 * instances answer its readers at once.
 */
export const APPEND = `${COUNTS}${WAKE_LINE}${MOVE_ACTIVITY}
local now, padded, channel, sender = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local room = tonumber(ARGV[5]) - tonumber(ARGV[6])
local most = tonumber(ARGV[7])
local logs = tonumber(ARGV[8])
local results, heads, order, touched, closed = {}, {}, {}, {}, {}
local added, added_bytes = 0, 0
local a, i = 9 + logs, 0
while a <= #ARGV do
  local j = tonumber(ARGV[a]) - 1
  local state, entries, producers, runs, lease = KEYS[4 + 5 * j], KEYS[5 + 5 * j], KEYS[6 + 5 * j], KEYS[7 + 5 * j], KEYS[8 + 5 * j]
  local log, data, bytes, flags, run = ARGV[9 + j], ARGV[a + 1], tonumber(ARGV[a + 2]), ARGV[a + 3], ARGV[a + 4]
  local marks, m = tonumber(ARGV[a + 5]), a + 6
  a = m + 4 * marks
  local function has(c) return string.find(flags, c, 1, true) ~= nil end
  local function stale()
    for k = m, a - 1, 4 do
      local kind, held = ARGV[k + 2], redis.call('HGET', producers, ARGV[k])
      if (kind == '0' and held) or (kind == '=' and held ~= ARGV[k + 3]) then return true end
    end
    return false
  end
  local result
  local expires = redis.call('HGET', state, 'expires_at')
  local expired = expires and tonumber(expires) <= tonumber(now)
  if redis.call('EXISTS', state) == 0 then
    result = 'NO_LOG'
  elseif redis.call('HGET', state, 'deleted_at') or (expired and tonumber(redis.call('HGET', state, 'forks') or '0') > 0) then
    result = 'GONE'
  elseif expired then
    result = 'NO_LOG'
  elseif stale() then
    result = 'STALE'
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
    elseif most and not has('n') and not has('x') and redis.call('HGET', state, 'capped') == '0'
        and tonumber(redis.call('HGET', state, 'count')) >= most then
      result = 'TOO_MANY'
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
      for k = m, a - 1, 4 do redis.call('HSET', producers, ARGV[k], ARGV[k + 1]) end
      if has('o') and run ~= '' then
        redis.call('HSET', state, 'open_run', run, 'run_from', has('n') and head or head - 1)
        redis.call('SADD', KEYS[2], log)
        open = run
      end
      if has('c') and run ~= '' and open == run then
        redis.call('HDEL', state, 'open_run', 'run_from')
        redis.call('SREM', KEYS[2], log)
      end
      if has('L') then
        redis.call('HSET', state, 'closed', '1')
        closed[j] = true
      end
      if has('t') then touched[j] = true end
      if heads[j] == nil then order[#order + 1] = j end
      heads[j] = head
      result = head
    end
  end
  i = i + 1
  results[i] = result
end
if added > 0 then counts(KEYS[3], 'entries', added, 'bytes', added_bytes) end
local lines = { sender }
for _, j in ipairs(order) do
  lines[#lines + 1] = wake_line(ARGV[9 + j], heads[j], closed[j])
  if touched[j] then move_activity(KEYS[4 + 5 * j], KEYS[1], ARGV[9 + j], padded) end
end
if #lines > 1 then redis.call('PUBLISH', channel, table.concat(lines, '\\n')) end
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
 * Deletes a log and all of it, or soft-deletes it while forks name it, and deletes the soft-deleted sources its going
 * leaves without forks (a cascade down the chain), all at once. KEYS: activity, expiry, open runs, totals, the state of
 * the last log's source when it has one (`lowered`: its forks go down by one), then per log of the chain, the first the
 * log deleted: state, entries, producers, aliases set, runs, lease, and the alias keys of its aliases. ARGV: wake
 * channel, a time ('' for none: with one, the log is deleted only if it has expired by then and no fork names it — a
 * create freeing a name must not delete a log another instance has just extended), now (a soft delete's time), the
 * lowered source's id ('' for none), the chain's length, then per log its id, its number of aliases and the aliases,
 * as the caller read them just before.
 *
 * Returns {logs, entries, bytes} it deleted; 'SOFT' for a soft delete (its expiry cleared, so that no sweep finds it
 * again); 0 for no such log (or one not expired, or one forks name, for a create); -1 when the chain is not as the
 * caller read it (a log deleted and created again with other aliases, a fork made or deleted meanwhile: read it again).
 * UNLINK frees a large log's entries off Redis's main thread.
 */
export const DELETE = `${COUNTS}${WAKE_LINE}
local channel, expired_by, now, lowered = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local chain, k, a = {}, lowered ~= '' and 6 or 5, 6
for g = 1, tonumber(ARGV[5]) do
  local n = tonumber(ARGV[a + 1])
  chain[g] = { log = ARGV[a], k = k, aliases = { unpack(ARGV, a + 2, a + 1 + n) } }
  k, a = k + 6 + n, a + 2 + n
end
local first = KEYS[chain[1].k]
if redis.call('EXISTS', first) == 0 then return 0 end
if expired_by ~= '' then
  local expires = redis.call('HGET', first, 'expires_at')
  if not expires or tonumber(expires) > tonumber(expired_by) then return 0 end
end
local function forks(state) return tonumber(redis.call('HGET', state, 'forks') or '0') end
if forks(first) > 0 then
  if expired_by ~= '' then return 0 end
  if not redis.call('HGET', first, 'deleted_at') then redis.call('HSET', first, 'deleted_at', now) end
  redis.call('HDEL', first, 'expires_at')
  redis.call('ZREM', KEYS[2], chain[1].log)
  redis.call('PUBLISH', channel, wake_line(chain[1].log, 0))
  return 'SOFT'
end
for i, g in ipairs(chain) do
  local state = KEYS[g.k]
  if i > 1 and (redis.call('EXISTS', state) == 0 or not redis.call('HGET', state, 'deleted_at') or forks(state) ~= 1) then return -1 end
  if (redis.call('HGET', state, 'forked_from') or '') ~= (chain[i + 1] and chain[i + 1].log or lowered) then return -1 end
  local held = redis.call('SMEMBERS', KEYS[g.k + 3])
  if #held ~= #g.aliases then return -1 end
  local given = {}
  for _, alias in ipairs(g.aliases) do given[alias] = true end
  for _, alias in ipairs(held) do if not given[alias] then return -1 end end
end
if lowered ~= '' and redis.call('EXISTS', KEYS[5]) == 1 then
  -- A soft-deleted source left without forks belongs to the chain: the caller read it otherwise.
  if redis.call('HGET', KEYS[5], 'deleted_at') and forks(KEYS[5]) <= 1 then return -1 end
  -- Never below 0: a log forked before forks were kept names a source that did not count it.
  if forks(KEYS[5]) > 0 then redis.call('HINCRBY', KEYS[5], 'forks', -1) end
end
local logs, entries, bytes, lines = 0, 0, 0, {}
for i, g in ipairs(chain) do
  for j = 1, #g.aliases do
    if redis.call('GET', KEYS[g.k + 5 + j]) == g.log then redis.call('DEL', KEYS[g.k + 5 + j]) end
  end
  local state = redis.call('HMGET', KEYS[g.k], 'count', 'bytes', 'active_at')
  redis.call('UNLINK', KEYS[g.k], KEYS[g.k + 1], KEYS[g.k + 2], KEYS[g.k + 3], KEYS[g.k + 4], KEYS[g.k + 5])
  if state[3] then redis.call('ZREM', KEYS[1], state[3] .. ' ' .. g.log) end
  redis.call('ZREM', KEYS[2], g.log)
  redis.call('SREM', KEYS[3], g.log)
  logs, entries, bytes = logs + 1, entries + tonumber(state[1]), bytes + tonumber(state[2])
  lines[i] = wake_line(g.log, 0)
end
-- 0 - n, not -n: Lua writes -0 as "-0", which HINCRBY refuses (an empty log could not be deleted).
counts(KEYS[4], 'logs', 0 - logs, 'entries', 0 - entries, 'bytes', 0 - bytes)
redis.call('PUBLISH', channel, table.concat(lines, '\\n'))
return {logs, entries, bytes}`
