import type { Database, Statement } from 'bun:sqlite'
import type { NewEvent, StoredEvent } from '../events.ts'
import { sessionNotFound } from '../errors.ts'
import type { Journal, JournalEntry } from './sqlite-journal.ts'
import type { ProducerMark } from '../log/producer-state.ts'
import { payloadOf } from './sqlite-rows.ts'
import { writeProducer } from './sqlite-producers.ts'
import { admit, eventBytes, sessionFull } from './byte-budget.ts'
import { SessionBytesColumn } from './sqlite-budget.ts'
import { DEFAULT_MAX_SESSION_BYTES } from '../limits.ts'
import { storeClosed, storeUnavailable } from './store-errors.ts'

interface Pending {
  sessionId: string
  stored: StoredEvent
  payload: string
  bytes: number
  resolve: (event: StoredEvent) => void
  reject: (error: unknown) => void
}

/** Appends waiting for the next commit, and the seq each of their sessions has reached within them. */
class Batch {
  readonly items: Pending[] = []
  readonly lastSeq = new Map<string, number>()
  /** Producer state to commit with these events, in append order (the last for a producer wins). */
  readonly marks: { sessionId: string; mark: ProducerMark }[] = []
  /** The bytes each session's events take within the batch. */
  readonly bytes = new Map<string, number>()
}

export interface GroupCommitOptions {
  /**
   * How long the first append of a batch waits for others to join it; milliseconds, default 0: the batch commits on
   * the next turn of the event loop, after every append queued in this turn. A fixed window made a single busy
   * session wait for it on every token (the fan-out benchmark: 0.32× the baseline with 2 ms, 0.87× with 0).
   */
  windowMs?: number
  /** A batch that reaches this many events commits at once, without waiting out the window; default 1000. */
  maxBatch?: number
  /** Told how long each commit took; seconds. */
  onCommitTimed?: (seconds: number) => void
  /** Bytes one session's events may take (byte-budget.ts); default DEFAULT_MAX_SESSION_BYTES (64 MiB). */
  maxSessionBytes?: number
}

/**
 * Past this many sessions the cache of what the writer knows per session is dropped and refilled from the database
 * on demand (a primary key lookup each), so it never grows with every session the server has ever seen.
 */
const MAX_CACHED_SESSIONS = 100_000

/**
 * `sessions.last_activity` is kept to within this; milliseconds. Updating it on every commit cost a row write per
 * session per batch; retention measures idleness in hours and days.
 */
export const ACTIVITY_RESOLUTION_MS = 60_000

/** What the writer knows of a session: its newest committed seq, and when it last recorded the session's activity. */
interface Known {
  seq: number
  /** Epoch milliseconds; 0 when unknown, so the next commit records activity. */
  touchedAt: number
  /** The bytes of its committed events; undefined until its first append needs them. */
  bytes?: number
}

/**
 * Group commit: appends that arrive within `windowMs` of each other share one transaction, so a token-rate stream
 * does not pay one commit per token. The transaction writes the journal (sqlite-journal.ts), not `events`. It assigns each session's next `seq` when the append arrives, so several
 * appends to one session can wait in the same batch in order. An append's promise settles only when its batch has
 * committed (or failed), and `onCommit` runs only after that: readers only ever see committed events.
 *
 * This process is the only writer (see sqlite-lock.ts), so the seqs it has committed are the truth and are cached.
 */
export class GroupCommitWriter {
  readonly #onCommit: (events: StoredEvent[], sizes: number[]) => void
  readonly #windowMs: number
  readonly #maxBatch: number
  readonly #timed: ((seconds: number) => void) | undefined
  readonly #known = new Map<string, Known>()
  readonly #journal: Journal
  readonly #commit: (batch: Batch, touched: Set<string>, now: string) => JournalEntry[]
  readonly #selectLastSeq: Statement<{ last_seq: number }, [string]>
  readonly #sessionBytes: SessionBytesColumn
  readonly #maxSessionBytes: number
  #batch = new Batch()
  /** Cancels the scheduled commit of the pending batch, if one is scheduled. */
  #cancelScheduled: (() => void) | undefined
  #closed = false

  /**
   * @param journal where commits write: the events reach `events` later, and the journal answers for them meanwhile.
   * @param onCommit called with each batch's events, in commit order, once they are committed and readable, and the
   * bytes each takes as stored.
   */
  constructor(
    db: Database,
    journal: Journal,
    onCommit: (events: StoredEvent[], sizes: number[]) => void,
    options: GroupCommitOptions = {},
  ) {
    this.#journal = journal
    this.#onCommit = onCommit
    this.#windowMs = options.windowMs ?? 0
    this.#maxBatch = options.maxBatch ?? 1000
    this.#timed = options.onCommitTimed
    this.#sessionBytes = new SessionBytesColumn(db)
    this.#maxSessionBytes = options.maxSessionBytes ?? DEFAULT_MAX_SESSION_BYTES
    this.#selectLastSeq = db.prepare(
      'SELECT COALESCE((SELECT MAX(seq) FROM events WHERE session = sessions.id), 0) AS last_seq FROM sessions WHERE id = ?',
    )
    // The store's clock, not the event's `ts`, decides when a session was last active: retention trusts it.
    const touch = db.prepare("UPDATE sessions SET last_activity = ?, state = 'active' WHERE id = ?")
    const upsertProducer = writeProducer(db)
    this.#commit = db.transaction((batch: Batch, touched: Set<string>, now: string) => {
      const entries = journal.write(batch.items)
      // In the events' transaction: a retry after a crash finds the producer's state exactly when it finds the events.
      for (const { sessionId, mark } of batch.marks) upsertProducer(sessionId, mark)
      for (const sessionId of touched) touch.run(now, sessionId)
      return entries
    })
  }

  /** The seq of the session's newest committed event (0 for an empty log); undefined for an unknown session. */
  committedSeq(sessionId: string): number | undefined {
    const known = this.#known.get(sessionId)
    if (known) return known.seq
    // Events still in the journal are newer than any in `events`, which the query below reads.
    const journaled = this.#journal.lastSeq(sessionId)
    if (journaled !== undefined) {
      this.#known.set(sessionId, { seq: journaled, touchedAt: 0 })
      return journaled
    }
    const row = this.#selectLastSeq.get(sessionId)
    if (!row) return undefined
    this.#known.set(sessionId, { seq: row.last_seq, touchedAt: 0 })
    return row.last_seq
  }

  /** Notes a session just created with an empty log, sparing its first append a lookup. */
  created(sessionId: string): void {
    this.#known.set(sessionId, { seq: 0, touchedAt: Date.now(), bytes: 0 })
  }

  /**
   * Forgets sessions that retention deleted (an append to one is then refused as unknown) or compacted (its next
   * commit records activity again, which marks it for compaction again). Call right after `flush()`.
   */
  forget(sessionIds: Iterable<string>): void {
    for (const id of sessionIds) this.#known.delete(id)
  }

  /**
   * Queues the event with the session's next seq; resolves once it is committed, rejects with a 503 if not.
   * @param mark producer state committed in the same transaction as the event.
   */
  append(sessionId: string, event: NewEvent, mark?: ProducerMark): Promise<StoredEvent> {
    if (this.#closed) return Promise.reject(storeClosed())
    const last = this.#batch.lastSeq.get(sessionId) ?? this.committedSeq(sessionId)
    if (last === undefined) return Promise.reject(sessionNotFound())
    const pending = this.#batch.bytes.get(sessionId) ?? 0
    let payload = payloadOf(event)
    let bytes = eventBytes(event, payload)
    let fitted: NewEvent
    try {
      const budget = { used: this.#committedBytes(sessionId) + pending, max: this.#maxSessionBytes }
      fitted = admit(event, [budget], (b) => sessionFull(b.max), bytes)
    } catch (error) {
      return Promise.reject(error)
    }
    if (fitted !== event) {
      payload = payloadOf(fitted)
      bytes = eventBytes(fitted, payload)
    }
    const stored = { ...fitted, seq: last + 1, session_id: sessionId } as StoredEvent
    return new Promise((resolve, reject) => {
      this.#batch.items.push({ sessionId, stored, payload, bytes, resolve, reject })
      this.#batch.lastSeq.set(sessionId, stored.seq)
      if (mark) this.#batch.marks.push({ sessionId, mark })
      this.#batch.bytes.set(sessionId, pending + bytes)
      if (this.#batch.items.length >= this.#maxBatch) this.flush()
      else this.#cancelScheduled ??= this.#scheduleFlush()
    })
  }

  /** Commits whatever is pending, now and synchronously: retention calls it before deleting, `close` before closing. */
  flush(): void {
    this.#cancelScheduled?.()
    this.#cancelScheduled = undefined
    const batch = this.#batch
    if (batch.items.length === 0) return
    this.#batch = new Batch()
    const now = Date.now()
    const touchedAt = (sessionId: string) => this.#known.get(sessionId)?.touchedAt ?? 0
    const touched = new Set([...batch.lastSeq.keys()].filter((id) => now - touchedAt(id) >= ACTIVITY_RESOLUTION_MS))
    let entries: JournalEntry[]
    const started = performance.now()
    try {
      entries = this.#commit(batch, touched, new Date(now).toISOString())
      this.#timed?.((performance.now() - started) / 1000)
    } catch (error) {
      // The transaction rolled back, so none of the batch is visible. Its seqs were never returned or read, and
      // the committed seqs were not advanced: each session's next append takes its committed seq + 1 again, which
      // leaves no hole and reuses no seq that anyone has seen.
      const failure = storeUnavailable(error)
      for (const item of batch.items) item.reject(failure)
      return
    }
    this.#journal.committed(entries)
    if (this.#known.size > MAX_CACHED_SESSIONS) this.#known.clear()
    for (const [sessionId, seq] of batch.lastSeq) {
      // Unknown (the cache was just dropped): the next append reads it again, this batch included.
      const before = this.#known.get(sessionId)?.bytes
      const bytes = before === undefined ? undefined : before + (batch.bytes.get(sessionId) ?? 0)
      this.#known.set(sessionId, { seq, touchedAt: touched.has(sessionId) ? now : touchedAt(sessionId), bytes })
    }
    for (const item of batch.items) item.resolve(item.stored)
    this.#onCommit(
      batch.items.map((item) => item.stored),
      batch.items.map((item) => item.bytes),
    )
  }

  /**
   * The bytes of the session's committed events: `sessions.bytes` (merged rows) and the journal's, read once per
   * session (a primary-key lookup) and kept up to date by each commit after that.
   */
  #committedBytes(sessionId: string): number {
    const known = this.#known.get(sessionId)
    if (known?.bytes !== undefined) return known.bytes
    const bytes = this.#sessionBytes.merged(sessionId) + this.#journal.pendingBytes(sessionId)
    if (known) known.bytes = bytes
    return bytes
  }

  #scheduleFlush(): () => void {
    if (this.#windowMs > 0) {
      const timer = setTimeout(() => this.flush(), this.#windowMs)
      return () => clearTimeout(timer)
    }
    const immediate = setImmediate(() => this.flush())
    return () => clearImmediate(immediate)
  }

  /** Commits what is pending and refuses further appends. */
  close(): void {
    this.flush()
    this.#closed = true
  }
}
