import { Database } from 'bun:sqlite'
import { emptyPruneReport, type PruneReport, type RetentionPolicy } from './retention-policy.ts'
import { Journal } from './sqlite-journal.ts'
import { pruneDatabase } from './sqlite-prune.ts'
import {
  decodeRows,
  JOURNAL_ROW_WIDTH,
  type CommitAnswer,
  type JournalRows,
  type NewSessionRow,
  type WriteAnswers,
  type WriteCall,
  type WriteNotice,
  type WriteSideSettings,
} from './sqlite-write-protocol.ts'

/**
 * `sessions.last_activity` is kept to within this; milliseconds. Updating it on every commit cost a row write per
 * session per batch; retention measures idleness in hours and days.
 */
export const ACTIVITY_RESOLUTION_MS = 60_000

/**
 * Past this many sessions the record of when each was last touched is dropped: the next commit of each touches it
 * again (one row write), so the record never grows with every session the server has ever seen.
 */
const MAX_TOUCHED_SESSIONS = 100_000

/** Opens the write connection of a store that the serving thread has already opened, migrated and locked. */
export function openWriteConnection(path: string, settings: WriteSideSettings): Database {
  const db = new Database(path, { readwrite: true, create: false, strict: true })
  // Per connection, like the serving thread's (sqlite-open.ts says why each): NORMAL in WAL mode, a commit survives
  // a process crash; a write that meets an outside tool's lock waits briefly and then fails with a 503.
  db.exec('PRAGMA synchronous = NORMAL')
  db.exec('PRAGMA busy_timeout = 1000')
  db.exec('PRAGMA cache_size = -65536')
  db.exec(`PRAGMA wal_autocheckpoint = ${settings.autocheckpointPages}`)
  return db
}

/**
 * Every write of a SQLite store, on one connection: the journal transaction of each batch with the sessions'
 * activity, session creation, journal merges, retention. It runs in the writer worker (sqlite-writer-worker.ts), so
 * that commits and merges never hold the thread that serves HTTP, or in that thread for a `:memory:` database
 * (sqlite-write-channel.ts). Calls are handled one at a time in the order they came, merges and retention in
 * chunks between them.
 */
export class WriteSide {
  readonly #db: Database
  readonly #journal: Journal
  readonly #notify: (notice: WriteNotice) => void
  readonly #commit: (rows: JournalRows, touched: string[], now: string) => void
  /** When each session's activity was last written; epoch milliseconds. */
  readonly #touchedAt = new Map<string, number>()
  /**
   * Sessions retention deleted that the serving thread may not know of yet: rows it queued for them before it
   * heard are refused, not written for a session that is gone. Cleared by its `forgotten`.
   */
  readonly #deleted = new Set<string>()
  #closed = false

  constructor(db: Database, settings: WriteSideSettings, notify: (notice: WriteNotice) => void) {
    this.#db = db
    this.#notify = notify
    this.#journal = new Journal(db, (sessions, upTo) => notify({ type: 'merged', sessions, upTo }), settings)
    // The store's clock, not the event's `ts`, decides when a session was last active: retention trusts it.
    const touch = db.prepare("UPDATE sessions SET last_activity = ?, state = 'active' WHERE id = ?")
    this.#commit = db.transaction((rows: JournalRows, touched: string[], now: string) => {
      this.#journal.write(rows)
      for (const sessionId of touched) touch.run(now, sessionId)
    })
  }

  /** Answers one call; throws what SQLite threw. */
  handle(call: WriteCall): WriteAnswers[WriteCall['type']] | Promise<PruneReport> {
    switch (call.type) {
      case 'commit':
        return this.commit(decodeRows(call.rows), call.now)
      case 'create':
        return this.create(call.row)
      case 'merge-all':
        this.#journal.mergeAll()
        return null
      case 'prune':
        return this.prune(call.policy, new Date(call.now), call.capSince)
      case 'forgotten':
        for (const id of call.ids) this.#deleted.delete(id)
        return null
      case 'exec':
        this.#db.exec(call.sql)
        return null
      case 'get':
        return this.#db.query(call.sql).get()
      case 'close':
        this.close()
        return null
      case 'open':
        throw new Error('the write side is already open')
    }
  }

  /** One transaction: the rows into the journal, and the activity of sessions not touched for a while. */
  commit(rows: JournalRows, now: number): CommitAnswer {
    const refused = this.#deleted.size > 0 ? this.#refuse(rows) : []
    const kept = refused.length > 0 ? this.#without(rows, new Set(refused)) : rows
    const sessions = new Set<string>()
    for (let i = 1; i < kept.length; i += JOURNAL_ROW_WIDTH) sessions.add(kept[i] as string)
    const touched = [...sessions].filter((id) => now - (this.#touchedAt.get(id) ?? 0) >= ACTIVITY_RESOLUTION_MS)
    const started = performance.now()
    this.#commit(kept, touched, new Date(now).toISOString())
    const seconds = (performance.now() - started) / 1000
    if (this.#touchedAt.size > MAX_TOUCHED_SESSIONS) this.#touchedAt.clear()
    for (const id of touched) this.#touchedAt.set(id, now)
    this.#journal.committed(kept)
    return { seconds, refused }
  }

  /** Inserts the session; false when one with that id exists already. */
  create(row: NewSessionRow): boolean {
    // OR IGNORE covers the primary key only: a viewer id that collided (2^-128) would fail the unique index loudly.
    const inserted = this.#db
      .query(
        "INSERT OR IGNORE INTO sessions (id, created_at, last_activity, state, step, viewer_id, publisher_hash) VALUES (?, ?, ?, 'active', ?, ?, ?)",
      )
      .run(row.id, row.created_at, row.created_at, row.step, row.viewer_id, row.publisher_hash).changes
    if (inserted > 0) this.#touchedAt.set(row.id, Date.parse(row.created_at))
    return inserted > 0
  }

  /** One retention pass (sqlite-prune.ts), in chunks: the batches that arrive meanwhile commit between two. */
  async prune(policy: RetentionPolicy, now: Date, capSince: string): Promise<PruneReport> {
    if (this.#closed) return emptyPruneReport()
    return pruneDatabase(this.#db, policy, now, capSince, {
      catchUp: () => this.#journal.merge(),
      // Everything committed is merged first, so that the chunk sees every event and no journal row is left to
      // reach a session it deletes.
      beforeChunk: () => this.#journal.mergeAll(),
      deleted: (ids) => {
        for (const id of ids) {
          this.#deleted.add(id)
          this.#touchedAt.delete(id)
        }
        this.#journal.forget(ids)
        this.#notify({ type: 'deleted', ids: [...ids] })
      },
      changed: (ids) => {
        // Its next commit marks it active again, so that compaction comes back for the partials it adds.
        for (const id of ids) this.#touchedAt.delete(id)
        this.#notify({ type: 'changed', ids: [...ids] })
      },
      stillOpen: () => !this.#closed,
    })
  }

  /** Merges what the journal holds and closes the connection; what cannot be merged now is merged at the next open. */
  close(): void {
    if (this.#closed) return
    this.#closed = true
    this.#journal.close()
    try {
      this.#journal.mergeAll()
    } catch {
      // Every event is committed in the journal already; the next open merges what this could not.
    }
    this.#db.close()
  }

  #refuse(rows: JournalRows): string[] {
    const refused = new Set<string>()
    for (let i = 1; i < rows.length; i += JOURNAL_ROW_WIDTH) if (this.#deleted.has(rows[i] as string)) refused.add(rows[i] as string)
    return [...refused]
  }

  #without(rows: JournalRows, sessions: Set<string>): JournalRows {
    const kept: JournalRows = []
    for (let i = 0; i < rows.length; i += JOURNAL_ROW_WIDTH) {
      if (!sessions.has(rows[i + 1] as string)) kept.push(...rows.slice(i, i + JOURNAL_ROW_WIDTH))
    }
    return kept
  }
}
