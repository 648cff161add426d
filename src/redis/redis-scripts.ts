/**
 * The Lua scripts that make each multi-key change atomic in Redis. Each runs whole, with no other command in
 * between, which is what makes a session's `seq` strictly increasing across instances and a lease a fence.
 * Errors come back as `redis.error_reply(<CODE>)` (the batch append answers a code in place of a seq instead);
 * redis-errors.ts turns the codes into AppErrors.
 */

/**
 * Creates a session. KEYS: session, viewer, activity. ARGV: id, created_at, step JSON, viewer id, publisher hash
 * ('' for none), now (epoch ms). Returns 0 when the id is taken.
 */
export const CREATE_SESSION = `
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('HSET', KEYS[1], 'created_at', ARGV[2], 'step', ARGV[3], 'viewer_id', ARGV[4], 'last_seq', 0)
if ARGV[5] ~= '' then redis.call('HSET', KEYS[1], 'publisher_hash', ARGV[5]) end
redis.call('SET', KEYS[2], ARGV[1])
redis.call('ZADD', KEYS[3], ARGV[6], ARGV[1])
return 1`

/**
 * Appends a batch of events, in order, possibly to several sessions (redis-appender.ts: what one instance appended
 * within one turn of its event loop). KEYS: activity, uncompacted, open-runs, then per event: session, events, runs,
 * lease, producers. ARGV: now (epoch ms), wake channel, the session byte budget, the closing reserve (bytes), then
 * per event: session id, event JSON, step id, '1' if it closes its run, '1' to record the session's activity, its
 * bytes, the producer's field and state JSON ('' for an event without a producer mark: the state is written with the
 * event it rides on, or not at all).
 * A session's `bytes` field counts its events' bytes (byte-budget.ts): an event that would leave less than the
 * reserve free is refused with SESSION_FULL, unless it closes its run (the caller has cut it to fit already).
 * An event of a leased run is stored only while that run is the session's open run and holds the lease: once the
 * lease has expired (its instance died or lost Redis), nothing of that run is stored again, whoever sends it.
 * Publishes one message, a line `<id> <seq>` per session appended to (redis-tails.ts keeps the seq as the session's
 * known head). Returns one entry per event: its seq, or the code that refused it (NO_SESSION, FENCED, SESSION_FULL).
 */
export const APPEND_BATCH = `
local count = (#ARGV - 4) / 8
local budget, reserve = tonumber(ARGV[3]), tonumber(ARGV[4])
local results, heads, order, touched = {}, {}, {}, {}
for i = 0, count - 1 do
  local session, events, runs, lease = KEYS[4 + i * 5], KEYS[5 + i * 5], KEYS[6 + i * 5], KEYS[7 + i * 5]
  local id, json, step = ARGV[5 + i * 8], ARGV[6 + i * 8], ARGV[7 + i * 8]
  local closing, bytes = ARGV[8 + i * 8] == '1', tonumber(ARGV[10 + i * 8])
  if redis.call('EXISTS', session) == 0 then
    results[i + 1] = 'NO_SESSION'
  else
    local open = redis.call('HGET', session, 'open_run')
    if redis.call('SISMEMBER', runs, step) == 1 and (open ~= step or redis.call('GET', lease) ~= step) then
      results[i + 1] = 'FENCED'
    elseif not closing and tonumber(redis.call('HGET', session, 'bytes') or '0') + bytes > budget - reserve then
      results[i + 1] = 'SESSION_FULL'
    else
      local seq = redis.call('HINCRBY', session, 'last_seq', 1)
      redis.call('HINCRBY', session, 'bytes', bytes)
      redis.call('XADD', events, seq .. '-0', 'e', json)
      if ARGV[11 + i * 8] ~= '' then redis.call('HSET', KEYS[8 + i * 5], ARGV[11 + i * 8], ARGV[12 + i * 8]) end
      if closing and open == step then
        redis.call('HDEL', session, 'open_run')
        redis.call('SREM', KEYS[3], id)
      end
      if heads[id] == nil then order[#order + 1] = id end
      heads[id] = seq
      if ARGV[9 + i * 8] == '1' then touched[id] = true end
      results[i + 1] = seq
    end
  end
end
local lines = {}
for n, id in ipairs(order) do
  lines[n] = id .. ' ' .. heads[id]
  if touched[id] then
    redis.call('ZADD', KEYS[1], ARGV[1], id)
    redis.call('ZADD', KEYS[2], ARGV[1], id)
  end
end
if #lines > 0 then redis.call('PUBLISH', ARGV[2], table.concat(lines, '\\n')) end
return results`

/**
 * Writes a producer's state that rides on no event, unless the session is gone (retention must not see it come
 * back). KEYS: session, producers. ARGV: field, state JSON. Returns 1, or 0 for no such session.
 */
export const MARK_PRODUCER = `
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
redis.call('HSET', KEYS[2], ARGV[1], ARGV[2])
return 1`

/**
 * Takes the session for a run: the lease (SET NX PX) and the open run, together. KEYS: lease, session, runs,
 * open-runs. ARGV: run id, lease (ms), session id. Returns 'ok', 'busy' (a live run holds it), 'stale' (a run whose
 * owner stopped renewing is still open: close it first) or 'gone' (no such session).
 */
export const CLAIM = `
if redis.call('EXISTS', KEYS[2]) == 0 then return 'gone' end
if redis.call('HEXISTS', KEYS[2], 'open_run') == 1 then
  if redis.call('EXISTS', KEYS[1]) == 1 then return 'busy' end
  return 'stale'
end
if not redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then return 'busy' end
redis.call('HSET', KEYS[2], 'open_run', ARGV[1], 'run_from', redis.call('HGET', KEYS[2], 'last_seq'))
redis.call('SADD', KEYS[3], ARGV[1])
redis.call('SADD', KEYS[4], ARGV[3])
return 'ok'`

/** Extends the lease if the run still holds it. KEYS: lease. ARGV: run id, lease (ms). Returns 1, or 0 if lost. */
export const RENEW = `
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return 1`

/** Frees the session if the run still holds it. KEYS: lease. ARGV: run id. */
export const RELEASE = `
if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('DEL', KEYS[1]) end
return 1`

/**
 * Closes a run whose owner is gone (its lease expired) with the `interrupt` given. KEYS: lease, session, events,
 * activity, uncompacted, open-runs. ARGV: session id, run id, event JSON, now (epoch ms), wake channel, the event's
 * bytes (counted, never refused: it closes a run; the caller cut it to fit the session's budget). Returns the
 * seq, or 0 when there is nothing to do: the lease is held again, or the run is no longer open (closed by its
 * owner, or by another instance first).
 */
export const CLOSE_ABANDONED = `
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
if redis.call('HGET', KEYS[2], 'open_run') ~= ARGV[2] then return 0 end
local seq = redis.call('HINCRBY', KEYS[2], 'last_seq', 1)
redis.call('HINCRBY', KEYS[2], 'bytes', ARGV[6])
redis.call('XADD', KEYS[3], seq .. '-0', 'e', ARGV[3])
redis.call('HDEL', KEYS[2], 'open_run')
redis.call('SREM', KEYS[6], ARGV[1])
redis.call('ZADD', KEYS[4], ARGV[4], ARGV[1])
redis.call('ZADD', KEYS[5], ARGV[4], ARGV[1])
redis.call('PUBLISH', ARGV[5], ARGV[1] .. ' ' .. seq)
return seq`

/** Takes bytes off a session's count (retention deleted events), unless the session is gone. KEYS: session. ARGV: bytes. */
export const GIVE_BACK_BYTES = `
if redis.call('EXISTS', KEYS[1]) == 1 then redis.call('HINCRBY', KEYS[1], 'bytes', -tonumber(ARGV[1])) end
return 1`

/** Forgets that a session needs compaction, unless it was appended to after `cutoff`. KEYS: uncompacted. ARGV: id, cutoff. */
export const MARK_COMPACTED = `
local score = redis.call('ZSCORE', KEYS[1], ARGV[1])
if score and tonumber(score) <= tonumber(ARGV[2]) then redis.call('ZREM', KEYS[1], ARGV[1]) end
return 1`
