import { Database, type Statement } from 'bun:sqlite'
import { validateNewEvent, type NewEvent, type StoredEvent } from '../events.ts'
import { AppError, sessionNotFound } from '../errors.ts'
import { SessionSignal } from '../bus/session-signal.ts'
import { DEFAULT_READ_LIMIT, type EventStore, type SessionRecord } from './event-store.ts'
import { migrate } from './sqlite-schema.ts'

interface EventRow {
  seq: number
  type: string
  step_id: string
  ts: string
  payload: string
}

/** Envelope fields live in columns; everything else of an event is its JSON payload. */
function payloadOf(event: NewEvent): string {
  const { type: _type, step_id: _step, ts: _ts, ...payload } = event
  return JSON.stringify(payload)
}

function eventOf(sessionId: string, row: EventRow): StoredEvent {
  return { type: row.type, step_id: row.step_id, ts: row.ts, ...JSON.parse(row.payload), seq: row.seq, session_id: sessionId }
}

/**
 * The durable store: `bun:sqlite` in WAL mode, one `events` row per event keyed by (session, seq). This process
 * is the only writer, so it keeps each session's last `seq` in memory and assigns the next one itself.
 */
export class SqliteStore implements EventStore {
  readonly #db: Database
  readonly #signal = new SessionSignal()
  readonly #lastSeq = new Map<string, number>()
  readonly #insertEvent: Statement
  readonly #touchSession: Statement
  readonly #selectAfter: Statement<EventRow, [string, number, number]>
  readonly #selectSession: Statement<{ id: string; created_at: string; last_seq: number }, [string]>

  /** Opens (creating if needed) the database at `path`; `:memory:` gives a private in-memory database. */
  constructor(path: string) {
    this.#db = new Database(path, { create: true, strict: true })
    this.#db.exec('PRAGMA journal_mode = WAL')
    this.#db.exec('PRAGMA synchronous = NORMAL')
    this.#db.exec('PRAGMA busy_timeout = 5000')
    migrate(this.#db)
    this.#insertEvent = this.#db.prepare(
      'INSERT INTO events (session, seq, type, step_id, ts, payload) VALUES (?, ?, ?, ?, ?, ?)',
    )
    this.#touchSession = this.#db.prepare('UPDATE sessions SET last_activity = ? WHERE id = ?')
    this.#selectAfter = this.#db.prepare(
      'SELECT seq, type, step_id, ts, payload FROM events WHERE session = ? AND seq > ? ORDER BY seq LIMIT ?',
    )
    this.#selectSession = this.#db.prepare(
      `SELECT id, created_at, COALESCE((SELECT MAX(seq) FROM events WHERE session = sessions.id), 0) AS last_seq
       FROM sessions WHERE id = ?`,
    )
  }

  async createSession(id: string): Promise<SessionRecord> {
    const now = new Date().toISOString()
    const inserted = this.#db
      .query("INSERT OR IGNORE INTO sessions (id, created_at, last_activity, state) VALUES (?, ?, ?, 'active')")
      .run(id, now, now)
    if (inserted.changes === 0) throw new AppError('BAD_REQUEST', 'A session with that id already exists.')
    this.#lastSeq.set(id, 0)
    return { id, created_at: now, last_seq: 0 }
  }

  async getSession(id: string): Promise<SessionRecord | undefined> {
    return this.#selectSession.get(id) ?? undefined
  }

  async append(sessionId: string, event: NewEvent): Promise<StoredEvent> {
    const problem = validateNewEvent(event)
    if (problem) throw new AppError('INVALID_EVENT', problem)
    const last = this.#lastSeqOf(sessionId)
    const seq = last + 1
    this.#db.transaction(() => {
      this.#insertEvent.run(sessionId, seq, event.type, event.step_id, event.ts, payloadOf(event))
      this.#touchSession.run(event.ts, sessionId)
    })()
    this.#lastSeq.set(sessionId, seq)
    this.#signal.notify(sessionId)
    return { ...event, seq, session_id: sessionId } as StoredEvent
  }

  async read(sessionId: string, after: number, limit = DEFAULT_READ_LIMIT): Promise<StoredEvent[]> {
    return this.#selectAfter.all(sessionId, after, limit).map((row) => eventOf(sessionId, row))
  }

  async waitFor(sessionId: string, after: number, signal: AbortSignal): Promise<void> {
    // Synchronous check then registration: no append can run in between.
    if ((this.#lastSeq.get(sessionId) ?? this.#lastSeqOf(sessionId)) > after) return
    return this.#signal.wait(sessionId, signal)
  }

  async ping(): Promise<void> {
    this.#db.query('SELECT 1').get()
  }

  async close(): Promise<void> {
    this.#db.close()
  }

  #lastSeqOf(sessionId: string): number {
    const cached = this.#lastSeq.get(sessionId)
    if (cached !== undefined) return cached
    const session = this.#selectSession.get(sessionId)
    if (!session) throw sessionNotFound()
    this.#lastSeq.set(sessionId, session.last_seq)
    return session.last_seq
  }
}
