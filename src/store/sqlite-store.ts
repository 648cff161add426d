import type { Database, Statement } from 'bun:sqlite'
import { validateNewEvent, type NewEvent, type StoredEvent } from '../events.ts'
import { AppError, sessionNotFound } from '../errors.ts'
import type { Notifier } from '../bus/notifier.ts'
import { SessionSignal, type StopSignal } from '../bus/session-signal.ts'
import { newId } from '../session-id.ts'
import type { StoreMetrics } from '../metrics.ts'
import type { StepSpec } from '../steps/step.ts'
import {
  DEFAULT_READ_LIMIT,
  ECHO_STEP,
  type EventStore,
  type NewSessionOptions,
  type Prunable,
  type RecoveredRun,
  type RecoversRuns,
  type SessionRecord,
  type StoreDeps,
} from './event-store.ts'
import type { PruneReport, RetentionPolicy } from './retention-policy.ts'
import type { JournalOptions } from './sqlite-journal.ts'
import { JournalIndex } from './sqlite-journal-index.ts'
import { findOpenRuns } from './sqlite-recovery.ts'
import { openSqlite, WAL_AUTOCHECKPOINT_PAGES } from './sqlite-open.ts'
import { BACKSTOP_CHECKPOINT_PAGES, Checkpointer, type CheckpointerOptions } from './sqlite-checkpointer.ts'
import { eventOf, type EventRow } from './sqlite-rows.ts'
import { LocalChannel, WorkerChannel, type WriteChannel } from './sqlite-write-channel.ts'
import type { WriteNotice } from './sqlite-write-protocol.ts'
import { ACTIVITY_RESOLUTION_MS } from './sqlite-write-side.ts'
import { GroupCommitWriter, type GroupCommitOptions } from './sqlite-writer.ts'
import { RecentEvents } from './recent-events.ts'
import { storeUnavailable, writerStopped } from './store-errors.ts'

/** A `sessions` row as the store reads it, with the head of its log. */
interface SessionRow {
  id: string
  created_at: string
  last_seq: number
  step: string
  viewer_id: string
  publisher_hash: string | null
}

/** The write side as a test reaches it: SQL run on the write connection, in order with the batches. */
export interface WriterHandle {
  /** Runs `sql` on the write connection before any batch sent after this call. */
  exec(sql: string): Promise<void>
  /** The first row `sql` gives on the write connection. */
  get<T>(sql: string): Promise<T>
  /** Ends the writer worker at once, as a crash would. */
  terminate(): void
}

export interface SqliteStoreOptions extends GroupCommitOptions, JournalOptions, StoreDeps {
  /** Called once with the serving thread's connection (reads) before the store uses it. */
  onOpen?: (db: Database) => void
  /** Called once with the write side; tests inject write faults through it. */
  onWriter?: (writer: WriterHandle) => void
  /** The checkpoint worker's (sqlite-checkpointer.ts); `false` leaves checkpoints to SQLite on the write connection. */
  checkpointer?: CheckpointerOptions | false
  /** Told, once, when the writer worker dies: the store then answers every write, and `ping`, with a 503. */
  onWriterLost?: (reason: string) => void
}

/**
 * The durable store: `bun:sqlite` in WAL mode, one `events` row per event keyed by (session, seq). Appends go
 * through a group-commit writer into an append-only journal, merged into `events` about once a second
 * (sqlite-journal.ts). Every write runs on the write side (sqlite-write-side.ts), in a Worker with a connection of
 * its own, so that commits, merges and retention never hold the thread that serves HTTP; this thread keeps the
 * seqs, the batching, the recent events and a connection for reads. Reads are answered from the newest committed
 * events kept in memory, or else from the database: either way they only ever see committed events. This process
 * is the only writer (a lock file enforces it), so seqs are assigned in memory.
 */
export class SqliteStore implements EventStore, RecoversRuns, Prunable {
  readonly #db: Database
  readonly #lock: Database | undefined
  readonly #notifier: Notifier
  readonly #metrics: StoreMetrics | undefined
  readonly #recent = new RecentEvents()
  readonly #journal = new JournalIndex()
  readonly #channel: WriteChannel
  readonly #writer: GroupCommitWriter
  readonly #checkpointer: Checkpointer | undefined
  readonly #selectAfter: Statement<EventRow, [string, number, number]>
  readonly #selectSession: Statement<SessionRow, [string]>
  readonly #selectByViewer: Statement<SessionRow, [string]>
  /** Sessions active since this time (ISO 8601) are the ones the next prune checks against the event cap. */
  #capCheckedAt = ''
  #closing: Promise<void> | undefined

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
    const useCheckpointer = path !== ':memory:' && options.checkpointer !== false
    // Only what can cross to the worker: options also hold functions.
    const { mergeEveryMs, mergeAtEvents, chunkEvents } = options
    const autocheckpointPages = useCheckpointer ? BACKSTOP_CHECKPOINT_PAGES : WAL_AUTOCHECKPOINT_PAGES
    const settings = { mergeEveryMs, mergeAtEvents, chunkEvents, autocheckpointPages }
    const notice = (message: WriteNotice) => this.#noticed(message)
    // A `:memory:` database exists only on this connection: its writes stay on this thread.
    this.#channel =
      path === ':memory:'
        ? new LocalChannel(db, settings, { notice })
        : new WorkerChannel(path, settings, { notice, lost: (reason) => options.onWriterLost?.(reason) })
    options.onWriter?.({
      exec: async (sql) => void (await this.#channel.call({ type: 'exec', sql })),
      get: async <T>(sql: string) => (await this.#channel.call({ type: 'get', sql })) as T,
      terminate: () => this.#channel.terminate(),
    })
    const onCommitTimed = options.metrics && ((seconds: number) => options.metrics!.storeCommit(seconds))
    const selectLastSeq = db.prepare<{ last_seq: number }, [string]>(
      'SELECT COALESCE((SELECT MAX(seq) FROM events WHERE session = sessions.id), 0) AS last_seq FROM sessions WHERE id = ?',
    )
    this.#writer = new GroupCommitWriter(
      this.#channel,
      this.#journal,
      (id) => selectLastSeq.get(id)?.last_seq,
      (events) => this.#committed(events),
      { ...options, onCommitTimed },
    )
    if (useCheckpointer) {
      const onPass = options.metrics && (() => options.metrics!.storeCheckpoint())
      const autocheckpoint = (pages: number) =>
        void this.#channel.call({ type: 'exec', sql: `PRAGMA wal_autocheckpoint = ${pages}` }).catch(() => {
          // The writer is gone too: nothing is left to checkpoint for.
        })
      this.#checkpointer = new Checkpointer(path, autocheckpoint, { onPass, ...options.checkpointer })
    }
    this.#selectAfter = db.prepare('SELECT seq, type, step_id, ts, payload FROM events WHERE session = ? AND seq > ? ORDER BY seq LIMIT ?')
    const selectSessions = `SELECT id, created_at, step, viewer_id, publisher_hash,
         COALESCE((SELECT MAX(seq) FROM events WHERE session = sessions.id), 0) AS last_seq
       FROM sessions`
    this.#selectSession = db.prepare(`${selectSessions} WHERE id = ?`)
    this.#selectByViewer = db.prepare(`${selectSessions} WHERE viewer_id = ?`)
  }

  async createSession(id: string, step: StepSpec = ECHO_STEP, options: NewSessionOptions = {}): Promise<SessionRecord> {
    const now = new Date().toISOString()
    const viewerId = newId()
    const row = { id, created_at: now, step: JSON.stringify(step), viewer_id: viewerId, publisher_hash: options.publisherHash ?? null }
    let inserted: boolean
    try {
      inserted = await this.#channel.call({ type: 'create', row })
    } catch (error) {
      throw error instanceof AppError ? error : storeUnavailable(error)
    }
    if (!inserted) throw new AppError('BAD_REQUEST', 'A session with that id already exists.')
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

  /** Resolves once the event is committed; a failed commit rejects with STORE_UNAVAILABLE (503) and takes no seq. */
  async append(sessionId: string, event: NewEvent): Promise<StoredEvent> {
    const problem = validateNewEvent(event)
    if (problem) throw new AppError('INVALID_EVENT', problem)
    return this.#writer.append(sessionId, event)
  }

  async read(sessionId: string, after: number, limit = DEFAULT_READ_LIMIT): Promise<StoredEvent[]> {
    const recent = this.#recent.read(sessionId, after, limit)
    if (recent) return recent
    const merged = this.#selectAfter.all(sessionId, after, limit).map((row) => eventOf(sessionId, row))
    if (merged.length === limit) return merged
    // The session's journal events all come after its rows in `events`.
    return merged.concat(this.#journal.readAfter(sessionId, merged.at(-1)?.seq ?? after, limit - merged.length))
  }

  // Not async: a stream parks here between events, and an async wrapper would hold a frame and a promise more.
  waitFor(sessionId: string, after: number, signal: StopSignal, timeoutMs?: number): Promise<boolean> {
    // Synchronous check then registration: no commit can land in between.
    const last = this.#writer.committedSeq(sessionId)
    if (last === undefined) return Promise.reject(sessionNotFound())
    if (last > after) return Promise.resolve(false)
    return this.#notifier.wait(sessionId, signal, timeoutMs)
  }

  /** Rejects once the writer worker is gone, as well as when the database cannot be read. */
  async ping(): Promise<void> {
    if (!this.#channel.alive) throw writerStopped()
    this.#db.query('SELECT 1').get()
  }

  /**
   * Closes every run a crash left open with an `interrupt` holding the text it had streamed (see
   * sqlite-recovery.ts for which runs count). Call once at start, before serving: a live run would look open too.
   */
  async recoverOpenRuns(): Promise<RecoveredRun[]> {
    const ts = new Date().toISOString()
    // Recovery reads `events`: everything committed must be there.
    await this.#channel.call({ type: 'merge-all' })
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
    const report = await this.#channel.call({ type: 'prune', policy: lenient, now: now.getTime(), capSince: this.#capCheckedAt })
    // Only after a whole pass: a pass that failed half-way checks the same sessions again next time.
    this.#capCheckedAt = started
    return report
  }

  /**
   * Commits pending appends, has the write side merge its journal and close, then closes this thread's connection,
   * releases the writer lock and ends the checkpoint worker. Appends made after it was called are refused with a
   * 503. Safe to call twice: both calls resolve when it is done.
   */
  close(): Promise<void> {
    this.#closing ??= this.#close()
    return this.#closing
  }

  async #close(): Promise<void> {
    await this.#writer.close()
    try {
      await this.#channel.call({ type: 'close' })
    } catch {
      // The writer is gone: every acknowledged event is committed in the journal, and the next open merges it.
    }
    this.#channel.end()
    this.#db.close()
    // Only once the write connection is closed: a newcomer that takes the lock must find no writer left.
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

  #committed(events: StoredEvent[]): void {
    this.#recent.add(events)
    if (this.#metrics) for (const event of events) this.#metrics.eventPublished(event.type)
    this.#notify(new Set(events.map((event) => event.session_id)))
  }

  /** What the write side did on its own: merges done, sessions retention deleted or changed. */
  #noticed(notice: WriteNotice): void {
    if (notice.type === 'merged') {
      this.#journal.merged(notice.sessions, notice.upTo)
      return
    }
    // Readers must meet the holes retention made, so that a cursor inside one gets its `reset`.
    this.#recent.forget(notice.ids)
    if (notice.type === 'changed') return
    this.#writer.forget(notice.ids)
    this.#journal.forget(notice.ids)
    // No batch sent from now on holds them: the write side can stop refusing them.
    void this.#channel.call({ type: 'forgotten', ids: notice.ids }).catch(() => {
      // The writer is gone: there is no one left to tell.
    })
    // Streams waiting on a deleted session wake, find it gone and end with a sentence.
    this.#notify(notice.ids)
  }

  #notify(sessionIds: Iterable<string>): void {
    for (const id of sessionIds) this.#notifier.notify(id)
  }
}
