/**
 * Lua functions the log backend's scripts share (redis-backend-scripts.ts, redis-paged-scripts.ts): each script
 * text starts with those it calls.
 */

/**
 * A line of a wake message (redis-wake.ts): `<log> <head>`, with `c` after the head when the change closed the log;
 * the log's `%` and newlines percent-encoded, so that no log id can split a message into lines that name other logs.
 */
export const WAKE_LINE = `
local function wake_line(log, head, closed)
  return (string.gsub(log, '[%%\\n]', { ['%'] = '%25', ['\\n'] = '%0A' })) .. ' ' .. head .. (closed and 'c' or '')
end
`

/** HINCRBY takes one field: `counts(key, field, by, field, by…)` adds to several. */
export const COUNTS = `
local function counts(key, ...)
  local args = {...}
  for i = 1, #args, 2 do redis.call('HINCRBY', key, args[i], args[i + 1]) end
end
`

/**
 * Shared by CREATE and FORK_FINISH: whether the log id and its aliases are free, and the creation itself. With `K`
 * keys and `A` args before them: KEYS state, aliases set, activity, expiry, totals, the alias key of the log's own id,
 * then per alias its alias key and the state key of a log of that name; ARGV log, meta, now (ms), now (16 digits),
 * expiresAt ('' for never), closed ('1'/'0'), capped ('1'/'0'), then the aliases, then the log's first entries
 * (`add_entries` stores them, after the head: a fork's after its copy).
 */
export const CREATE_LOG = `${COUNTS}
local function aliases_of(K) return (#KEYS - K - 6) / 2 end
local function is_free(K, A)
  if redis.call('EXISTS', KEYS[K + 1]) == 1 or redis.call('EXISTS', KEYS[K + 6]) == 1 then return false end
  for i = 1, aliases_of(K) do
    if ARGV[A + 7 + i] == ARGV[A + 1] then return false end
    if redis.call('EXISTS', KEYS[K + 5 + 2 * i]) == 1 or redis.call('EXISTS', KEYS[K + 6 + 2 * i]) == 1 then return false end
  end
  return true
end
local function create_log(K, A)
  local state, log, padded = KEYS[K + 1], ARGV[A + 1], ARGV[A + 4]
  redis.call('HSET', state, 'head', 0, 'tail', 0, 'count', 0, 'bytes', 0, 'created_at', ARGV[A + 3], 'active_at', padded,
    'closed', ARGV[A + 6], 'meta', ARGV[A + 2])
  if ARGV[A + 7] == '0' then redis.call('HSET', state, 'capped', '0') end
  if ARGV[A + 5] ~= '' then
    redis.call('HSET', state, 'expires_at', ARGV[A + 5])
    redis.call('ZADD', KEYS[K + 4], ARGV[A + 5], log)
  end
  for i = 1, aliases_of(K) do
    redis.call('SET', KEYS[K + 5 + 2 * i], log)
    redis.call('SADD', KEYS[K + 2], ARGV[A + 7 + i])
  end
  redis.call('ZADD', KEYS[K + 3], 0, padded .. ' ' .. log)
  redis.call('HINCRBY', KEYS[K + 5], 'logs', 1)
end
local function add_entries(K, A, entries)
  local state, head, n, bytes = KEYS[K + 1], tonumber(redis.call('HGET', KEYS[K + 1], 'head')), 0, 0
  for i = A + 8 + aliases_of(K), #ARGV do
    head, n, bytes = head + 1, n + 1, bytes + string.len(ARGV[i])
    redis.call('XADD', entries, head .. '-0', 'd', ARGV[i])
  end
  if n == 0 then return end
  redis.call('HSET', state, 'head', head)
  counts(state, 'count', n, 'bytes', bytes)
  counts(KEYS[K + 5], 'entries', n, 'bytes', bytes)
end
`

/**
 * Moves a log's activity to `padded` (16 digits). A Lua function shared by APPEND and TOUCH.
 */
export const MOVE_ACTIVITY = `
local function move_activity(state, activity, log, padded)
  local old = redis.call('HGET', state, 'active_at')
  if old == padded then return end
  if old then redis.call('ZREM', activity, old .. ' ' .. log) end
  redis.call('ZADD', activity, 0, padded .. ' ' .. log)
  redis.call('HSET', state, 'active_at', padded)
end
`

/**
 * Reads entries in small pages until `max entries` or `max bytes` are reached: what bounds the time one script holds
 * Redis (a log may hold 64 MiB). A Lua function shared by FORK_COPY and (`seq_of`) KEEP_NEWEST; `visit` is called with
 * each entry.
 */
export const PAGES = `
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
