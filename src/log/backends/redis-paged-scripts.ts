import { COUNTS, CREATE_LOG, PAGES, WAKE_LINE } from './redis-lua.ts'

/**
 * The log backend's scripts that go through a log's entries (redis-backend.ts: keepNewest, deleteEntries, fork): each
 * call goes through a bounded part of them and the caller calls again, so that no call holds Redis's one thread for long
 * on a 64 MiB log. Each part is atomic; the whole is not, and need not be: a part deleted or copied is counted with
 * it, and a fork does not exist until its last call.
 */

/**
 * Deletes a log's oldest entries until `keep` remain, a bounded part per call, and no more than `budget` (what the
 * log held over `keep` when the caller began: appends racing the calls never make it go on for ever). KEYS: state,
 * entries, totals. ARGV: log, keep, budget, wake channel, max entries, max bytes. Returns {entries deleted, their
 * bytes, how many the log still holds over `keep`}; the caller calls again while both that and its budget are left.
 * Raises `tail` to the last seq deleted.
 */
export const KEEP_NEWEST = `${COUNTS}${WAKE_LINE}${PAGES}
if redis.call('EXISTS', KEYS[1]) == 0 then return {0, 0, 0} end
local over = tonumber(redis.call('HGET', KEYS[1], 'count')) - tonumber(ARGV[2])
local most = math.min(over, tonumber(ARGV[3]), tonumber(ARGV[5]))
local n, bytes, last = 0, 0, nil
while n < most and bytes < tonumber(ARGV[6]) do
  local page = redis.call('XRANGE', KEYS[2], last and ('(' .. last) or '-', '+', 'COUNT', math.min(16, most - n))
  for _, entry in ipairs(page) do n, bytes, last = n + 1, bytes + string.len(entry[2][2]), entry[1] end
  if #page == 0 then break end
end
if n > 0 then
  redis.call('XTRIM', KEYS[2], 'MINID', (seq_of(last) + 1) .. '-0')
  counts(KEYS[1], 'count', -n, 'bytes', -bytes)
  counts(KEYS[3], 'entries', -n, 'bytes', -bytes)
  if seq_of(last) > tonumber(redis.call('HGET', KEYS[1], 'tail')) then redis.call('HSET', KEYS[1], 'tail', seq_of(last)) end
  redis.call('PUBLISH', ARGV[4], wake_line(ARGV[1], 0))
end
return {n, bytes, over - n}`

/**
 * Deletes the given entries (compaction), stopping once `max bytes` were deleted. KEYS: state, entries, totals.
 * ARGV: log, wake channel, max bytes, then the seqs. Returns {how many seqs it went through, entries deleted, their
 * bytes}; the caller sends the rest again.
 */
export const DELETE_ENTRIES = `${COUNTS}${WAKE_LINE}
if redis.call('EXISTS', KEYS[1]) == 0 then return {#ARGV - 3, 0, 0} end
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
return {seen, n, bytes}`

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
 * NO_LOG), so no append can land between the copied entries; its own first entries follow them. KEYS: source state, copy, target entries, then
 * CREATE_LOG's layout. ARGV: source log, at, entries copied, their bytes, then CREATE_LOG's. Raises the source's
 * forks. Returns 1, 0 when the target or an alias was taken meanwhile, NO_LOG when the source is missing or has expired
 * (by CREATE_LOG's now), GONE when it is soft-deleted or has expired while forks name it.
 */
export const FORK_FINISH = `${CREATE_LOG}
local expires = redis.call('HGET', KEYS[1], 'expires_at')
local expired = expires and tonumber(expires) <= tonumber(ARGV[7])
local forks = tonumber(redis.call('HGET', KEYS[1], 'forks') or '0')
if redis.call('EXISTS', KEYS[1]) == 0 or (expired and forks == 0) then
  redis.call('DEL', KEYS[2])
  return 'NO_LOG'
end
if expired or redis.call('HGET', KEYS[1], 'deleted_at') then
  redis.call('DEL', KEYS[2])
  return 'GONE'
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
redis.call('HINCRBY', KEYS[1], 'forks', 1)
add_entries(3, 4, KEYS[3])
return 1`
