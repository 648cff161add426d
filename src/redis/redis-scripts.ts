/**
 * The run coordinator's Lua scripts (redis-run-coordinator.ts): a run's lease and the log's open run, changed
 * together. The log's own keys and fields are the log backend's (redis-keys.ts RedisLogKeys,
 * src/log/backends/redis-backend-scripts.ts), whose APPEND stores a leased run's entries only while it holds the lease.
 */

/**
 * Takes the session for a run: the lease (SET NX PX) and the open run, together. KEYS: lease, log state, runs, open
 * runs. ARGV: run id, lease (ms), session id. Returns 'ok', 'busy' (a live run holds it), 'stale' (a run whose owner
 * stopped renewing is still open: close it first) or 'gone' (no such session).
 */
export const CLAIM = `
if redis.call('EXISTS', KEYS[2]) == 0 then return 'gone' end
if redis.call('HEXISTS', KEYS[2], 'open_run') == 1 then
  if redis.call('EXISTS', KEYS[1]) == 1 then return 'busy' end
  return 'stale'
end
if not redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then return 'busy' end
redis.call('HSET', KEYS[2], 'open_run', ARGV[1], 'run_from', redis.call('HGET', KEYS[2], 'head'))
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
