/**
 * Where stepstream keeps its state in Redis, all under one prefix (so several deployments, or the tests, can share
 * one Redis). Every key a script touches is passed as a key, but the scripts touch several sessions' keys and
 * global sets at once: this layout is for one Redis (with replicas or Sentinel), not Redis Cluster.
 */
export interface RedisKeys {
  /** Hash: created_at, step (JSON), viewer_id, publisher_hash, last_seq, open_run, run_from. */
  session(id: string): string
  /** Stream: the session's log, one entry `<seq>-0` per event with its JSON in field `e`. */
  events(id: string): string
  /** Set: every run id ever leased in the session; their events are fenced by the lease. */
  runs(id: string): string
  /**
   * Hash: idempotent producers' state (store/producer-state.ts), field `["<run id>","<producer id>"]` (JSON, so no
   * pair of ids can spell another's field), value the state's JSON.
   */
  producers(id: string): string
  /** String: the session id a viewer id reads. */
  viewer(viewerId: string): string
  /** String, with a TTL: the id of the run that holds the session (the lease). */
  lease(id: string): string
  /** String, with a TTL: a browser sign-in, by the hash of its id; its value is its expiry (epoch ms). */
  signIn(hash: string): string
  /** Sorted set: session ids by their last activity (epoch ms), for idle deletion and the per-session cap. */
  readonly activity: string
  /** Sorted set: sessions appended to since they were last compacted, by last activity (epoch ms). */
  readonly uncompacted: string
  /** Set: sessions whose leased run has no closing event yet (what the sweeper checks for dead owners). */
  readonly openRuns: string
  /** Channel: a line `<session id> <seq>` per session an append reached; a bare session id when its log was pruned. */
  readonly wakeChannel: string
  /** Channel: `<session id> <run id>`, a cancel for whichever instance runs it. */
  readonly cancelChannel: string
}

/** The default prefix of every key; `--store redis://…` deployments sharing a Redis share sessions. */
export const DEFAULT_PREFIX = 'stepstream:'

export function redisKeys(prefix = DEFAULT_PREFIX): RedisKeys {
  return {
    session: (id) => `${prefix}s:${id}`,
    events: (id) => `${prefix}e:${id}`,
    runs: (id) => `${prefix}r:${id}`,
    producers: (id) => `${prefix}p:${id}`,
    viewer: (viewerId) => `${prefix}v:${viewerId}`,
    lease: (id) => `${prefix}lease:${id}`,
    signIn: (hash) => `${prefix}signin:${hash}`,
    activity: `${prefix}activity`,
    uncompacted: `${prefix}uncompacted`,
    openRuns: `${prefix}open-runs`,
    wakeChannel: `${prefix}wake`,
    cancelChannel: `${prefix}cancel`,
  }
}
