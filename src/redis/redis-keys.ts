/**
 * Where stepstream keeps its state in Redis, all under one prefix (so several deployments, or the tests, can share
 * one Redis): the logs (a chat's events, a stream's messages) and what is kept beside them, the sign-ins, and the
 * cancel channel. Every key a script touches is passed as a key.
 */
export interface RedisKeys {
  /** String, with a TTL: a browser sign-in, by the hash of its id; its value is its expiry (epoch ms). */
  signIn(hash: string): string
  /** Channel: `<session id> <run id>`, a cancel for whichever instance runs it. */
  readonly cancelChannel: string
  /** The keys of the log backend (src/log/backends/redis-backend.ts). */
  readonly log: RedisLogKeys
}

/**
 * The log backend's keys. Each log's own keys carry the log's id as a hash tag (`{<log>}`), so a future Redis
 * Cluster could shard by log; the indexes across logs (activity, expiry, open runs, totals) and an append batch
 * spanning several logs still assume one Redis.
 */
export interface RedisLogKeys {
  /**
   * Hash: the log's state (log-backend.ts LogState): head, tail, count, bytes, created_at, active_at (16 digits, as
   * in `activity`), closed, expires_at, forked_from, forked_at, meta, open_run, run_from; and since Durable Streams:
   * capped (`0` for a log never trimmed, absent otherwise), forks (the logs forked from it; absent for none, as in a
   * log written before it was kept), deleted_at (a soft delete's time, absent for a live log).
   */
  state(log: string): string
  /** Stream: the log's entries, one `<seq>-0` each with its data in field `d`. */
  entries(log: string): string
  /** Hash: the log's producers, field the producer's key, value its state (both opaque). */
  producers(log: string): string
  /** Set: the log's aliases (deleted with it). */
  aliases(log: string): string
  /** Set: every run id ever leased in the log; their entries are fenced by the lease. */
  runs(log: string): string
  /** String, with a TTL: the id of the run that holds the log (the lease; redis-run-coordinator.ts). */
  lease(log: string): string
  /** Stream, with a TTL: a fork's entries while they are copied, renamed to `entries` when complete. */
  forkCopy(log: string, copy: string): string
  /** String: the log an alias names. */
  alias(alias: string): string
  /** Sorted set, every score 0: members `<activeAt, 16 digits> <log>`, so that a lex range pages by (activeAt, log). */
  readonly activity: string
  /** Sorted set: logs by `expiresAt` (epoch ms), for those that expire. */
  readonly expiry: string
  /** Set: logs with an open run. */
  readonly openRuns: string
  /** Hash: logs, entries, bytes, across every log. */
  readonly totals: string
  /** Channel: a line `<log> <head>` per log a batch changed; `<log> 0` when entries were deleted (or the log). */
  readonly wakeChannel: string
}

/** The default prefix of every key; `--store redis://…` deployments sharing a Redis share sessions. */
export const DEFAULT_PREFIX = 'stepstream:'

export function redisKeys(prefix = DEFAULT_PREFIX): RedisKeys {
  return {
    signIn: (hash) => `${prefix}signin:${hash}`,
    cancelChannel: `${prefix}cancel`,
    log: redisLogKeys(prefix),
  }
}

/**
 * A log's key: its id in braces (the hash tag), then a suffix without `}`, so no two (log, suffix) pairs spell one
 * key, whatever the id holds. The prefix holds no `{` (the tag is the first braces of a key).
 */
const tagged = (prefix: string, log: string, suffix: string) => `${prefix}{${log}}:${suffix}`

export function redisLogKeys(prefix = DEFAULT_PREFIX): RedisLogKeys {
  return {
    state: (log) => tagged(prefix, log, 's'),
    entries: (log) => tagged(prefix, log, 'e'),
    producers: (log) => tagged(prefix, log, 'p'),
    aliases: (log) => tagged(prefix, log, 'a'),
    runs: (log) => tagged(prefix, log, 'r'),
    lease: (log) => tagged(prefix, log, 'lease'),
    forkCopy: (log, copy) => tagged(prefix, log, `f:${copy}`),
    alias: (alias) => tagged(prefix, alias, 'alias'),
    activity: `${prefix}log-activity`,
    expiry: `${prefix}log-expiry`,
    openRuns: `${prefix}log-open-runs`,
    totals: `${prefix}log-totals`,
    wakeChannel: `${prefix}log-wake`,
  }
}
