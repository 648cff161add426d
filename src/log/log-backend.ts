/**
 * What a log backend does, and nothing more: memory, SQLite and Redis each implement it (src/log/backends/). Every
 * rule — validation, budgets, caps, the closing exception, refusal sentences, batching (group commit), the cache of
 * newest entries, wake-ups, folds over events, compaction, recovery — lives once in the core above it
 * (src/log/log-core.ts for any log, src/log/event-log.ts for a chat's events), so the three answer alike.
 *
 * A log is an append-only sequence of entries numbered 1, 2, 3… (`seq`, never reused, never reordered), with a small
 * state kept beside it and changed only atomically with the entries that change it. A chat is one log (its entries
 * are its events' JSON); a Durable Streams stream is one log (its entries are its messages). The data of an entry is
 * opaque to the backend.
 *
 * Contract: test/contract/backend.contract.ts runs against every backend.
 */

/** A log's name: a chat's session id, or a stream's path. Data, never an object key. */
export type LogId = string

/** One stored entry. */
export interface LogEntry {
  seq: number
  /** Opaque to the backend: an event's JSON for a chat, a message for a stream. */
  data: string
}

/** The state a backend keeps per log, beside its entries. */
export interface LogState {
  /** The seq of the newest entry ever appended (0 for none); it never goes back, whatever is deleted. */
  head: number
  /** The seq of the oldest retained entry minus one: entries `seq <= tail` were deleted by a cap or trim. */
  tail: number
  /** Retained entries, and their bytes (the UTF-8 length of each `data`, summed). Compaction lowers both. */
  count: number
  bytes: number
  /** When the log was created and when it was last appended to (or touched); epoch milliseconds. */
  createdAt: number
  activeAt: number
  /** Closed logs take no more entries (Durable Streams' close; a chat is never closed today). */
  closed: boolean
  /** When the log expires, epoch milliseconds; undefined for never (Durable Streams' TTL / Expires-At). */
  expiresAt?: number
  /** The log this one was forked from and the seq it was forked at (entries up to it were copied). */
  forkedFrom?: { log: LogId; at: number }
  /**
   * Logs that name this one as their `forkedFrom` and exist (a soft-deleted one included). While any does, deleting
   * this log only marks it deleted (`deletedAt`); kept atomically by `fork` and `delete`.
   */
  forks: number
  /**
   * When it was deleted while forks named it (a soft delete), epoch milliseconds. A soft-deleted log takes no entries
   * (GONE), reads as empty, forks no more (GONE), keeps its id and aliases (a create of them answers false), and goes,
   * entries and all, with its last fork: Durable Streams' DELETE of a forked stream (410 Gone until then).
   */
  deletedAt?: number
  /**
   * False for a log whose entries the core never deletes but with the log itself: not trimmed to `maxEntriesPerLog`
   * (an append past it is refused with TOO_MANY instead), nor by retention's cap, nor compacted, so no acknowledged
   * entry is ever lost (a Durable Streams stream). Absent for a capped log (a chat).
   */
  capped?: false
  /** Opaque, small (at most MAX_LOG_META_BYTES): what the layer above records about the log (a chat's step, title…). */
  meta: string
  /** The run open in this log, and the head when it opened; undefined when none is open (a chat's runs). */
  openRun?: { id: string; from: number }
}

/** What a new log starts with. */
export interface NewLog {
  log: LogId
  meta: string
  /** Other names that find this log (a chat's viewer id): unique across every log and alias. */
  aliases?: string[]
  expiresAt?: number
  /** Created closed (Durable Streams allows a PUT with `Stream-Closed: true`). */
  closed?: boolean
  /** False: the log is never trimmed (LogState `capped`); default capped. */
  capped?: false
  /**
   * Entries the log starts with, stored atomically with its creation, so no reader ever sees it without them and no
   * crash leaves it so (a Durable Streams PUT with a body). For a fork, they follow the copied entries, from `at + 1`
   * (a sub-offset fork: the cut of the source's next entry). Their bytes are each one's UTF-8 length, as the core's.
   */
  entries?: readonly string[]
}

/**
 * One change of a batch. `data` null is a change of state alone (a close, a producer's mark, a run ending without an
 * event): it takes no seq.
 */
export interface AppendEntry {
  log: LogId
  data: string | null
  /** `Buffer.byteLength(data)`, computed once by the core; 0 when `data` is null. */
  bytes: number
  /**
   * True for an entry that must be stored however full the log is (a run's closing event: a run that started must
   * be closable; the core has already cut its text to fit). Any other entry must leave `limits.reserveBytes` free.
   */
  exempt: boolean
  /** The run this entry belongs to, if any. `opensRun` sets the log's open run; `closesRun` clears it if it is this run. */
  run?: string
  opensRun?: boolean
  closesRun?: boolean
  /**
   * Fenced appends (shared backends): the entry is refused with FENCED when `run` is set and the backend knows that
   * run was leased and the lease is no longer this run's (another instance took over, or it expired).
   */
  fenced?: boolean
  /** Closes the log after this entry (or alone, with `data` null). */
  closesLog?: boolean
  /**
   * Producers' states written with this entry, or not at all (at most MAX_MARKS_PER_ENTRY: a stream's `Stream-Seq` and
   * its idempotent producer ride on one append).
   */
  producers?: readonly ProducerWrite[]
  /** Records `activeAt` (the core skips it for most entries to save writes; closing entries always set it). */
  touch?: boolean
  /**
   * Recovery: stored only while `run` is still the log's open run and no live owner holds it (a shared backend's
   * lease has expired; a single-process backend has no owners from before a restart); refused with FENCED otherwise.
   */
  recovers?: boolean
}

/** A producer's state written with an entry: the key and value are opaque to the backend. */
export interface ProducerWrite {
  key: string
  value: string
  /**
   * Compare-and-set: the value the writer read before deciding (null: the key had none). The entry is refused with
   * STALE, changing nothing, unless the key holds exactly this when the entry is stored, so two instances that decided
   * from the same read never both write (Durable Streams' idempotent producers across instances). Undefined: written
   * whatever the key holds.
   */
  expect?: string | null
}

/** Limits a backend checks atomically with each entry of a batch, for every log of it alike. */
export interface BatchLimits {
  /** Bytes a log's retained entries may take. */
  maxLogBytes: number
  /** What a non-exempt entry must leave free of `maxLogBytes`. */
  reserveBytes: number
  /**
   * Entries an uncapped log (LogState `capped` false) may hold: a non-exempt entry past it is refused with TOO_MANY;
   * default unbounded.
   */
  maxLogEntries?: number
}

/**
 * Why a backend did not store an entry. The core turns each into one AppError with one sentence. STALE (a producer
 * mark's `expect` no longer holds) is judged before every other refusal but NO_LOG: the writer reads again and
 * decides anew (a duplicate of the request that closed a log is answered as a duplicate, not as CLOSED).
 */
export type Refusal = 'NO_LOG' | 'GONE' | 'STALE' | 'CLOSED' | 'FULL' | 'TOO_MANY' | 'FENCED'

/**
 * What happened to each entry of a batch, index for index: the seq it took (an entry with `data` null answers the
 * log's head), or its refusal. A refused entry changes nothing (not the state, not the producer); the batch's
 * other entries are stored regardless, and in order.
 */
export type AppendOutcome = number | Refusal

/** Where a listing of logs by activity stopped: the next page starts after it. */
export interface ActivityCursor {
  log: LogId
  activeAt: number
}

/**
 * Entries and their bytes that one call deleted or copied, as the backend counted them in the same atomic step (issue
 * 21, H1): the core keeps the store's totals by adding these, never by comparing states read before and after, which
 * appends racing the call would skew.
 */
export interface EntryCounts {
  entries: number
  bytes: number
}

/** What a hard delete removed: the log, and the soft-deleted sources its going left without forks (a cascade). */
export interface DeletedCounts extends EntryCounts {
  logs: number
}

/** The whole store, totalled, as the core's store-wide limits count it. */
export interface BackendTotals {
  logs: number
  entries: number
  bytes: number
}

/**
 * Told of each expired log a `create` or `fork` deleted to free a name (its state as it was), and of each soft-deleted
 * source that went with it, so that the core can take it out of its counts and wake its readers. An expired log that
 * forks name is never deleted for a name: the name stays taken.
 */
export type OnPurged = (log: LogId, state: LogState) => void

export interface LogBackend {
  /**
   * Creates the log; false when its id (or one of its aliases) is taken, leaving everything as it was (a soft-deleted
   * log's names are taken). A log that has expired (`expiresAt <= now`, and no forks) takes no name: it is deleted, entries, aliases and producers with it (as `delete`
   * would), `purged` is told, and the new log takes the name with nothing of the old one. A log that is still live
   * when the backend looks (another instance touched it meanwhile) is kept, and the create answers false.
   */
  create(log: NewLog, now: number, purged?: OnPurged): Promise<boolean>
  state(log: LogId): Promise<LogState | undefined>
  /** The log an alias names; undefined for anything else, log ids included. */
  resolveAlias(alias: string): Promise<LogId | undefined>
  /** Replaces the log's meta; false for no such log. */
  setMeta(log: LogId, meta: string): Promise<boolean>
  /** Sets `activeAt` and (when given; null clears it) `expiresAt`; false for no such log. */
  touch(log: LogId, activeAt: number, expiresAt?: number | null): Promise<boolean>

  /**
   * Stores the batch atomically per entry and in order: each entry is stored with its state changes and producer
   * mark, or refused and changes nothing. A failure of the medium (disk, connection) rejects the whole batch with a
   * StoreFailure (nothing of it visible, no seq taken). `now` is what `touch` records, and the time expiry is judged
   * at: an entry for a log with `expiresAt <= now` is refused with NO_LOG (GONE while forks name it, and for a
   * soft-deleted log), in the same atomic step as the store would
   * have been (never a check before it that another instance's touch could overtake).
   */
  append(entries: readonly AppendEntry[], limits: BatchLimits, now: number): Promise<AppendOutcome[]>

  /**
   * Entries with `seq > after`, ascending, at most `limit`. Unknown log: []; so is a log expired or soft-deleted at
   * `now` (epoch milliseconds) when `now` is given (without it, expiry is not looked at: the core always gives it).
   */
  read(log: LogId, after: number, limit: number, now?: number): Promise<LogEntry[]>
  /**
   * The newest entries with `seq < before`, ascending, as many as fit in `maxBytes` (data bytes) and at least one
   * when there is one. Reads from the end in pages, so no call holds the event loop for long. Unknown log, or one
   * expired or soft-deleted at `now` when given (as for `read`): [].
   */
  readBefore(log: LogId, before: number, maxBytes: number, now?: number): Promise<LogEntry[]>

  /**
   * Deletes the log, its entries, state, aliases and producers, and answers what it held, counted atomically with the
   * deletion; undefined when there was none. A log that forks name (`forks > 0`) is soft-deleted instead: `deletedAt`
   * set to `now` (kept if set already), its expiry cleared (so no sweep finds it again), everything else kept, and
   * 'SOFT' answered. Deleting a fork lowers its source's `forks`; a soft-deleted source it leaves without forks goes
   * too, and so on down the chain, all in the same atomic step, and counted in the answer.
   */
  delete(log: LogId, now: number): Promise<DeletedCounts | 'SOFT' | undefined>
  /**
   * Deletes the given entries (compaction), adjusting `count` and `bytes`; seqs it does not hold are skipped. Answers
   * what it deleted, counted atomically with each deletion (none for no such log).
   */
  deleteEntries(log: LogId, seqs: readonly number[]): Promise<EntryCounts>
  /**
   * Deletes the log's oldest retained entries until at most `count` remain (a cap), raising `tail` to the seq of the
   * last one deleted. By count, not by seq: compaction leaves holes, so `head - count` would keep fewer. Answers what
   * it deleted, counted atomically with each deletion (none for no such log). A shared backend may go in bounded
   * parts; entries appended meanwhile are newer than all it deletes, and it deletes no more than the log held over
   * `count` when it began.
   */
  keepNewest(log: LogId, count: number): Promise<EntryCounts>
  /**
   * Creates `target` holding the source's retained entries with `seq <= at`, same seqs and data, head `at`, then its
   * own `entries` from `at + 1`, its own state from then on (`forkedFrom` set, open run none), raises the source's
   * `forks`, and answers what it holds. 'NO_LOG' when the source is missing or expired at `now`, 'GONE' when it is
   * soft-deleted (or expired while forks name it), false when the target id or an alias is taken; an expired log
   * holding one of those names is deleted first, as for `create`, and `purged` told.
   */
  fork(source: LogId, at: number, target: NewLog, now: number, purged?: OnPurged): Promise<EntryCounts | false | 'NO_LOG' | 'GONE'>

  /** A producer's state in the log; undefined when it has none. */
  producer(log: LogId, key: string): Promise<string | undefined>
  /** Every producer key of the log (a log holds a bounded number: the core limits them). */
  producerKeys(log: LogId): Promise<string[]>
  deleteProducers(log: LogId, keys: readonly string[]): Promise<void>

  /**
   * Logs with `from <= activeAt < to`, ordered by (activeAt, log), at most `limit`, starting after `cursor` when
   * given: retention (idle logs) and compaction (logs quiet for a while) page through them with it.
   */
  activeBetween(from: number, to: number, limit: number, cursor?: ActivityCursor): Promise<ActivityCursor[]>
  /** Logs whose `expiresAt` is at or before `now`, at most `limit`. */
  expiredLogs(now: number, limit: number): Promise<LogId[]>
  /** Logs with an open run, and the run (recovery at start). */
  openRuns(): Promise<{ log: LogId; run: string; from: number }[]>
  totals(): Promise<BackendTotals>

  /**
   * A backend shared by several processes tells the core of appends it did not make (Redis pub/sub): `head` is the
   * log's new head, or undefined when the log changed in a way that makes cached entries wrong (deleted, trimmed,
   * compacted); `closed` when the change closed the log (its readers at the head are answered at once). Single-process
   * backends never call it.
   */
  onRemoteChange?(listener: (log: LogId, head: number | undefined, closed?: boolean) => void): void
  /**
   * Added by the core's helper (issue 21): a shared backend that may have missed remote changes (its subscription was
   * lost and came back) says so, and the core forgets every head and entry it cached and wakes every waiter. Without
   * it a missed change leaves a cached head behind for good, and a reader at that head is answered "nothing new" from
   * the cache until the log changes again.
   */
  onRemoteReset?(listener: () => void): void

  /** Resolves when the backend can serve (for /readyz); rejects with a StoreFailure otherwise. */
  ping(): Promise<void>
  /** Finishes what it holds (pending writes answered) and releases the medium. Safe to call twice. */
  close(): Promise<void>
}

/** A failure of the medium: the core answers it as STORE_UNAVAILABLE (503) with the reason's sentence. */
export class StoreFailure extends Error {
  /** When the medium is likely back (a lost connection that reconnects by itself), told as Retry-After; seconds. */
  readonly retryAfterSeconds: number | undefined

  constructor(
    /** A short phrase that completes "The server could not save this because …". */
    readonly reason: string,
    options?: { cause?: unknown; retryAfterSeconds?: number },
  ) {
    super(reason, options)
    this.name = 'StoreFailure'
    this.retryAfterSeconds = options?.retryAfterSeconds
  }
}

/** Whether a log in `state` has expired at `now` (epoch milliseconds): every backend and the core judge it so. */
export const expiredAt = (state: Pick<LogState, 'expiresAt'>, now: number): boolean =>
  state.expiresAt !== undefined && state.expiresAt <= now

/**
 * How a log answers at `now` (epoch milliseconds), every backend and the core alike: undefined while it is live;
 * 'GONE' once soft-deleted, or expired while forks name it (its next delete soft-deletes it); 'NO_LOG' when missing
 * or expired.
 */
export function refusalAt(state: LogState | undefined, now: number): 'NO_LOG' | 'GONE' | undefined {
  if (!state) return 'NO_LOG'
  if (state.deletedAt !== undefined || (state.forks > 0 && expiredAt(state, now))) return 'GONE'
  return expiredAt(state, now) ? 'NO_LOG' : undefined
}

/** The most a log's meta may hold; bytes. */
export const MAX_LOG_META_BYTES = 16 * 1024
