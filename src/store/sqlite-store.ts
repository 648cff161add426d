import { nextTurn } from '../next-turn.ts'
import type { Database, Statement } from 'bun:sqlite'
import { checkNewEvent, type NewEvent, type StoredEvent } from '../events.ts'
import { AppError, sessionNotFound } from '../errors.ts'
import type { Notifier } from '../bus/notifier.ts'
import { SessionSignal, type StopSignal } from '../bus/session-signal.ts'
import { newId } from '../session-id.ts'
import type { StoreMetrics } from '../metrics.ts'
import type { StepSpec } from '../steps/step.ts'
import {
  DEFAULT_READ_LIMIT,
  type EventStore,
  type NewSessionOptions,
  type Prunable,
  type RecoveredRun,
  type RecoversRuns,
  type SessionRecord,
  type StoreDeps,
} from '../log/event-store.ts'
import type { PruneReport, RetentionPolicy } from '../log/retention-policy.ts'
import { Journal, type JournalOptions } from './sqlite-journal.ts'
import { findOpenRuns } from './sqlite-recovery.ts'
import { pruneDatabase } from './sqlite-prune.ts'
import { openSqlite } from './sqlite-open.ts'
import { Checkpointer, type CheckpointerOptions } from './sqlite-checkpointer.ts'
import { eventOf, type EventRow } from './sqlite-rows.ts'
import { ACTIVITY_RESOLUTION_MS, GroupCommitWriter, type GroupCommitOptions } from './sqlite-writer.ts'
import { RecentEvents } from './recent-events.ts'
import { storeClosed, storeUnavailable } from './store-errors.ts'
import { type KeepsProducers, type ProducerMark, type ProducerState, splitProducerMark } from '../log/producer-state.ts'
import { SqliteProducers, writeProducer } from './sqlite-producers.ts'
import type { KeepsSignIns } from './sign-ins.ts'
import { SqliteSignIns } from './sqlite-sign-ins.ts'
import { ROW_BYTES_SQL } from './sqlite-budget.ts'

/** Rows whose sizes the first query of `readBefore` reads; each next query reads twice as many, up to the most. */
const FIRST_SIZE_PAGE = 8
const MAX_SIZE_PAGE = 256

/** A `sessions` row as the store reads it, with the head of its log. */
interface SessionRow {
  id: string
  created_at: string
  last_seq: number
  step: string
  viewer_id: string
  publisher_hash: string | null
}

export interface SqliteStoreOptions extends GroupCommitOptions, JournalOptions, StoreDeps {
  /** Called once with the open connection before the store uses it; tests inject faults through it. */
  onOpen?: (db: Database) => void
  /** The checkpoint worker's (sqlite-checkpointer.ts); `false` leaves checkpoints to SQLite in this thread. */
  checkpointer?: CheckpointerOptions | false
}

/**
 * The durable store: `bun:sqlite` in WAL mode, one `events` row per event keyed by (session, seq). Appends go
 * through a group-commit writer into an append-only journal, merged into `events` about once a second
 * (sqlite-journal.ts). Reads are answered from the newest committed events kept in memory, or else from
 * the database: either way they only ever see committed events. This process is the only writer (a lock file
 * enforces it), so seqs are assigned in memory.
 */
export class SqliteStore implements EventStore, RecoversRuns, Prunable, KeepsProducers, KeepsSignIns {
  readonly #db: Database
  /** The browser sign-ins, in a table of this database (sqlite-sign-ins.ts). */
  readonly signIns: SqliteSignIns
  readonly #lock: Database | undefined
  readonly #notifier: Notifier
  readonly #metrics: StoreMetrics | undefined
  readonly #recent = new RecentEvents()
  readonly #journal: Journal
  readonly #writer: GroupCommitWriter
  readonly #checkpointer: Checkpointer | undefined
  readonly #selectAfter: Statement<EventRow, [string, number, number]>
  readonly #selectSession: Statement<SessionRow, [string]>
  readonly #selectSizesBefore: Statement<{ seq: number; bytes: number }, [string, number, number]>
  readonly #selectRange: Statement<EventRow, [string, number, number]>
  readonly #selectByViewer: Statement<SessionRow, [string]>
  readonly #producers: SqliteProducers
  readonly #writeProducer: (sessionId: string, mark: ProducerMark) => void
  /** Sessions active since this time (ISO 8601) are the ones the next prune checks against the event cap. */
  #capCheckedAt = ''
  #closed = false

  /**
   * Opens (creating if needed) the database at `path`; `:memory:` gives a private in-memory database. Throws
   * StoreOpenError, with a one-line reason, when the file cannot be used; the file is then left untouched.
   */
  constructor(path: string, options: SqliteStoreOptions = {}) {
    const { db, lock } = openSqlite(path)
    this.#notifier = options.notifier ?? new SessionSignal()
    this.#metrics = options.metrics
    this.#db = db
    this.#lock = lock
    options.onOpen?.(db)
    this.signIns = new SqliteSignIns(db)
    this.#journal = new Journal(db, options)
    const onCommitTimed = options.metrics && ((seconds: number) => options.metrics!.storeCommit(seconds))
    this.#writer = new GroupCommitWriter(db, this.#journal, (events, sizes) => this.#committed(events, sizes), {
      ...options,
      onCommitTimed,
    })
    if (path !== ':memory:' && options.checkpointer !== false) {
      const onPass = options.metrics && (() => options.metrics!.storeCheckpoint())
      this.#checkpointer = new Checkpointer(db, path, { onPass, ...options.checkpointer })
    }
    this.#selectAfter = db.prepare('SELECT seq, type, step_id, ts, payload FROM events WHERE session = ? AND seq > ? ORDER BY seq LIMIT ?')
    this.#selectSizesBefore = db.prepare(
      `SELECT seq, ${ROW_BYTES_SQL} AS bytes FROM events WHERE session = ? AND seq < ? ORDER BY seq DESC LIMIT ?`,
    )
    this.#selectRange = db.prepare(
      'SELECT seq, type, step_id, ts, payload FROM events WHERE session = ? AND seq >= ? AND seq < ? ORDER BY seq',
    )
    const selectSessions = `SELECT id, created_at, step, viewer_id, publisher_hash,
         COALESCE((SELECT MAX(seq) FROM events WHERE session = sessions.id), 0) AS last_seq
       FROM sessions`
    this.#selectSession = db.prepare(`${selectSessions} WHERE id = ?`)
    this.#selectByViewer = db.prepare(`${selectSessions} WHERE viewer_id = ?`)
    this.#producers = new SqliteProducers(db)
    this.#writeProducer = writeProducer(db)
  }

  async createSession(id: string, step: StepSpec, options: NewSessionOptions = {}): Promise<SessionRecord> {
    const now = new Date().toISOString()
    const viewerId = newId()
    let inserted: number
    try {
      // OR IGNORE covers the primary key only: a viewer id that collided (2^-128) would fail the unique index loudly.
      inserted = this.#db
        .query(
          "INSERT OR IGNORE INTO sessions (id, created_at, last_activity, state, step, viewer_id, publisher_hash) VALUES (?, ?, ?, 'active', ?, ?, ?)",
        )
        .run(id, now, now, JSON.stringify(step), viewerId, options.publisherHash ?? null).changes
    } catch (error) {
      throw storeUnavailable(error)
    }
    if (inserted === 0) throw new AppError('BAD_REQUEST', 'A session with that id already exists.')
    this.#writer.created(id)
    const record: SessionRecord = { id, created_at: now, last_seq: 0, step, viewer_id: viewerId }
    if (options.publisherHash) record.publisher_hash = options.publisherHash
    return record
  }

  async getSession(id: string): Promise<SessionRecord | undefined> {
    return this.#recordOf(this.#selectSession.get(id))
  }

  async getSessionByViewer(viewerId: string): Promise<SessionRecord | undefined> {
    return this.#recordOf(this.#selectByViewer.get(viewerId))
  }

  /**
   * Resolves once the event is committed (with its producer mark, if it carries one, in the same transaction); a
   * failed commit rejects with STORE_UNAVAILABLE (503) and takes no seq.
   */
  async append(sessionId: string, marked: NewEvent): Promise<StoredEvent> {
    const [event, mark] = splitProducerMark(marked)
    checkNewEvent(event)
    return this.#writer.append(sessionId, event, mark)
  }

  async producerState(sessionId: string, runId: string, producerId: string): Promise<ProducerState | undefined> {
    return this.#producers.state(sessionId, runId, producerId)
  }

  async producerCount(sessionId: string): Promise<number> {
    return this.#producers.count(sessionId)
  }

  async forgetProducers(sessionId: string, keepRunId: string): Promise<void> {
    try {
      this.#producers.forget(sessionId, keepRunId)
    } catch (error) {
      throw storeUnavailable(error)
    }
  }

  /** A mark with no event: its own small transaction, after the producer's earlier events have committed. */
  async markProducer(sessionId: string, mark: ProducerMark): Promise<void> {
    if (this.#closed) throw storeClosed()
    if (this.#writer.committedSeq(sessionId) === undefined) throw sessionNotFound()
    try {
      this.#writeProducer(sessionId, mark)
    } catch (error) {
      throw storeUnavailable(error)
    }
  }

  async read(sessionId: string, after: number, limit = DEFAULT_READ_LIMIT): Promise<StoredEvent[]> {
    const recent = this.#recent.read(sessionId, after, limit)
    if (recent) return recent
    const merged = this.#selectAfter.all(sessionId, after, limit).map((row) => eventOf(sessionId, row))
    if (merged.length === limit) return merged
    // The session's journal events all come after its rows in `events`.
    return merged.concat(this.#journal.readAfter(sessionId, merged.at(-1)?.seq ?? after, limit - merged.length))
  }

  async readBefore(sessionId: string, before: number, maxBytes: number): Promise<StoredEvent[]> {
    // The journal holds the newest events; `events` the older ones, read back in pages of sizes first.
    const newest = this.#journal.readBefore(sessionId, before, maxBytes)
    const older = newest.full ? [] : await this.#readRowsBefore(sessionId, before, maxBytes - newest.bytes, newest.events.length === 0)
    return older.concat(newest.events.reverse())
  }

  /**
   * Rows of `events` before `before` within `maxBytes` (one at least when `atLeastOne`), ascending. Sizes first, in
   * pages that start small and double, with the event loop free between two: SQLite walks a large payload's overflow
   * pages even for its length (about 0.14 ms per 100 KB row on a file), so a page of large rows is what costs.
   * Rows merged or deleted meanwhile are harmless: merged rows are newer than `below`, deleted ones are not read.
   */
  async #readRowsBefore(sessionId: string, before: number, maxBytes: number, atLeastOne: boolean): Promise<StoredEvent[]> {
    let from: number | undefined
    let bytes = 0
    scan: for (let below = before, page = FIRST_SIZE_PAGE; ; page = Math.min(page * 2, MAX_SIZE_PAGE)) {
      const sizes = this.#selectSizesBefore.all(sessionId, below, page)
      for (const row of sizes) {
        bytes += row.bytes
        if (bytes > maxBytes && (from !== undefined || !atLeastOne)) break scan
        from = row.seq
      }
      if (sizes.length < page) break
      below = sizes.at(-1)!.seq
      await nextTurn()
    }
    if (from === undefined) return []
    return this.#selectRange.all(sessionId, from, before).map((row) => eventOf(sessionId, row))
  }

  // Not async: a stream parks here between events, and an async wrapper would hold a frame and a promise more.
  waitFor(sessionId: string, after: number, signal: StopSignal, timeoutMs?: number): Promise<boolean> {
    // Synchronous check then registration: no commit can land in between.
    const last = this.#writer.committedSeq(sessionId)
    if (last === undefined) return Promise.reject(sessionNotFound())
    if (last > after) return Promise.resolve(false)
    return this.#notifier.wait(sessionId, signal, timeoutMs)
  }

  async ping(): Promise<void> {
    this.#db.query('SELECT 1').get()
  }

  /**
   * Closes every run a crash left open with an `interrupt` holding the text it had streamed (see
   * sqlite-recovery.ts for which runs count). Call once at start, before serving: a live run would look open too.
   */
  async recoverOpenRuns(): Promise<RecoveredRun[]> {
    const ts = new Date().toISOString()
    this.#journal.mergeAll()
    return Promise.all(
      findOpenRuns(this.#db).map(async ({ sessionId, stepId, text }) => {
        const { seq } = await this.append(sessionId, { type: 'interrupt', step_id: stepId, ts, text })
        return { sessionId, stepId, seq }
      }),
    )
  }

  /**
   * Applies the retention policy once: deletes idle sessions, compacts finished runs, caps each session's events.
   * Works in small chunks and yields between them, so it can run while the server serves. `now` is for tests.
   */
  async prune(policy: RetentionPolicy, now = new Date()): Promise<PruneReport> {
    // The store's own clock, like `last_activity`, which lags activity by up to ACTIVITY_RESOLUTION_MS: the next
    // pass looks back that much further. `now` only moves the age cut-offs.
    const started = new Date(Date.now() - ACTIVITY_RESOLUTION_MS).toISOString()
    // An active session's last_activity can be up to ACTIVITY_RESOLUTION_MS old: never delete one for that lag.
    const lenient = { ...policy, idleMs: policy.idleMs + ACTIVITY_RESOLUTION_MS }
    const report = await pruneDatabase(this.#db, lenient, now, this.#capCheckedAt, {
      catchUp: () => this.#journal.merge(),
      beforeChunk: () => {
        this.#writer.flush()
        this.#journal.mergeAll()
      },
      deleted: (ids) => {
        this.#writer.forget(ids)
        this.#recent.forget(ids)
        // Streams waiting on a deleted session wake, find it gone and end with a sentence.
        this.#notify(ids)
      },
      changed: (ids) => {
        // Readers must meet the holes retention made, so that a cursor inside one gets its `reset`.
        this.#recent.forget(ids)
        this.#writer.forget(ids)
      },
      stillOpen: () => !this.#closed,
    })
    // Only after a whole pass: a pass that failed half-way checks the same sessions again next time.
    this.#capCheckedAt = started
    return report
  }

  /**
   * Commits pending appends, merges the journal, then closes the database, releases the writer lock and ends the
   * checkpoint worker. Safe to call twice.
   */
  async close(): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    this.#writer.close()
    this.#journal.close()
    try {
      this.#journal.mergeAll()
    } catch {
      // Every event is committed in the journal already; the next open merges what this could not.
    }
    this.#db.close()
    this.#lock?.close()
    // Last: its connection may still finish a pass, harmlessly, after this one closed and the file was unlocked.
    await this.#checkpointer?.close()
  }

  #recordOf(row: SessionRow | null): SessionRecord | undefined {
    if (!row) return undefined
    const { publisher_hash, ...rest } = row
    const record: SessionRecord = {
      ...rest,
      step: JSON.parse(row.step) as StepSpec,
      last_seq: this.#journal.lastSeq(row.id) ?? row.last_seq,
    }
    if (publisher_hash !== null) record.publisher_hash = publisher_hash
    return record
  }

  #committed(events: StoredEvent[], sizes: number[]): void {
    this.#recent.add(events, sizes)
    if (this.#metrics) for (const event of events) this.#metrics.eventPublished(event.type)
    this.#notify(new Set(events.map((event) => event.session_id)))
  }

  #notify(sessionIds: Iterable<string>): void {
    for (const id of sessionIds) this.#notifier.notify(id)
  }
}
