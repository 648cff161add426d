import type { Database, Statement } from 'bun:sqlite'
import type { StoredEvent } from '../events.ts'
import { REPLAY_BYTES_SQL, SessionBytesColumn } from './sqlite-budget.ts'

/** One committed event that is in the `journal` table and not yet in `events`. */
export interface JournalEntry {
  id: number
  stored: StoredEvent
  payload: string
  /** Its bytes as the budget counts them (byte-budget.ts). */
  bytes: number
}

export interface JournalOptions {
  /** How often committed events are moved from the journal into `events`; milliseconds, default 1000. */
  mergeEveryMs?: number
  /** A merge starts early once this many events wait in the journal; events, default 50,000. */
  mergeAtEvents?: number
  /**
   * Events moved per merge transaction, the event loop running between two; events, default 500 (about 1.3 ms). A
   * chunk takes whole sessions, so its size changes how long it holds the loop, not how many rows share a page.
   * 2,000 (~5 ms) made each chunk a stall by the measure (bench/capacity.ts, 1,000 sessions: stalls over
   * 5 ms 429/293 → 411/256, pace kept 52/69% → 60/73%, two A/B pairs on a busy machine).
   */
  chunkEvents?: number
}

/** Lets appends, commits and readers run between two merge chunks. */
const nextTurn = () => new Promise<void>((resolve) => setImmediate(resolve))

const COLUMNS = 'session, seq, type, step_id, ts, payload'

/**
 * Journal rows per INSERT statement: one statement per row spent more time crossing from JavaScript into SQLite
 * than in SQLite. 100 rows are 700 parameters, far below SQLite's limit of 32,766.
 */
const ROWS_PER_INSERT = 100

/**
 * Moves whatever a previous process left in the journal into `events`, in one transaction, at open. A crash in the
 * middle of a merge leaves rows that are in both tables, identical: OR IGNORE skips those. Retention never runs
 * while the journal holds merged rows (it merges everything first), so nothing it deleted can come back.
 */
export function replayJournal(db: Database): void {
  db.transaction(() => {
    db.run(REPLAY_BYTES_SQL)
    db.run(`INSERT OR IGNORE INTO events (${COLUMNS}) SELECT ${COLUMNS} FROM journal ORDER BY session, seq`)
    db.run('DELETE FROM journal')
  })()
}

/**
 * The write-ahead half of the store. The group-commit writer appends each committed event to `journal`, an
 * append-only rowid table, so a commit writes a few sequential pages however many sessions it touches. `events`,
 * clustered by (session, seq), gets the same rows later, a session's whole backlog at a time: with a thousand
 * sessions streaming, inserting each event straight into `events` dirtied one 4 KiB page per event (27.8 µs a row
 * against 0.9 µs into the journal, bench/sqlite-layout.ts).
 *
 * Until it is merged, an event is also kept here in memory, by session: reads that go past `events` and the
 * newest seq of a session come from here, so the journal needs no index (one on (session, seq) would bring the
 * random page writes back). The events kept are exactly the journal rows not yet in `events`.
 */
export class Journal {
  readonly #db: Database
  /** INSERT statements into the journal by how many rows they insert. */
  readonly #inserts = new Map<number, Statement>()
  readonly #moveToEvents: Statement
  readonly #deleteUpTo: Statement
  readonly #sessionBytes: SessionBytesColumn
  readonly #mergeChunkNow: (sessions: readonly string[], upTo: number) => number[]
  readonly #pending = new Map<string, JournalEntry[]>()
  readonly #mergeAtEvents: number
  readonly #chunkEvents: number
  readonly #timer: Timer
  #pendingCount = 0
  /** Ids only grow within a process, so `id <= merged` never covers a row that was not merged. */
  #lastId: number
  #merging: Promise<void> | undefined
  /** Someone asked for a merge while one was running: run another pass for what arrived meanwhile. */
  #again = false
  #closed = false

  constructor(db: Database, options: JournalOptions = {}) {
    this.#db = db
    this.#mergeAtEvents = options.mergeAtEvents ?? 50_000
    this.#chunkEvents = options.chunkEvents ?? 500
    // Copies the journal rows whose ids the JSON array lists, in the array's order (a rowid lookup each): the
    // caller lists them in (session, seq) order, so each page of `events` is written once per chunk.
    this.#moveToEvents = db.prepare(
      `INSERT INTO events (${COLUMNS}) SELECT j.session, j.seq, j.type, j.step_id, j.ts, j.payload
       FROM json_each(?) AS k JOIN journal AS j ON j.id = k.value`,
    )
    this.#deleteUpTo = db.prepare('DELETE FROM journal WHERE id <= ?')
    this.#sessionBytes = new SessionBytesColumn(db)
    // The bytes move with the rows, in one transaction: `sessions.bytes` never counts a row twice or misses one.
    this.#mergeChunkNow = db.transaction((sessions: readonly string[], upTo: number) => this.#moveChunk(sessions, upTo))
    this.#lastId = (db.query('SELECT COALESCE(MAX(id), 0) AS id FROM journal').get() as { id: number }).id
    this.#timer = setInterval(() => void this.merge(), options.mergeEveryMs ?? 1000)
    this.#timer.unref()
  }

  /** Inserts the events into the journal; call inside the writer's transaction, then `committed` after it. */
  write(items: readonly { stored: StoredEvent; payload: string; bytes: number }[]): JournalEntry[] {
    const entries = items.map(({ stored, payload, bytes }) => ({ id: ++this.#lastId, stored, payload, bytes }))
    for (let i = 0; i < entries.length; i += ROWS_PER_INSERT) {
      const rows = entries.slice(i, i + ROWS_PER_INSERT)
      const values = rows.flatMap(({ id, stored, payload }) => [
        id,
        stored.session_id,
        stored.seq,
        stored.type,
        stored.step_id,
        stored.ts,
        payload,
      ])
      this.#insertStatement(rows.length).run(...values)
    }
    return entries
  }

  /** Records entries whose transaction committed; starts a merge early when many are waiting. */
  committed(entries: readonly JournalEntry[]): void {
    for (const entry of entries) {
      const list = this.#pending.get(entry.stored.session_id)
      if (list) list.push(entry)
      else this.#pending.set(entry.stored.session_id, [entry])
    }
    this.#pendingCount += entries.length
    if (this.#pendingCount >= this.#mergeAtEvents) void this.merge()
    if (this.#pendingCount >= this.#mergeAtEvents * 2) this.#mergeOneChunkNow()
  }

  /** The seq of the session's newest event still in the journal; undefined when it has none there. */
  lastSeq(sessionId: string): number | undefined {
    return this.#pending.get(sessionId)?.at(-1)?.stored.seq
  }

  /** The bytes of the session's events still in the journal (committed, not yet counted in `sessions.bytes`). */
  pendingBytes(sessionId: string): number {
    let bytes = 0
    for (const entry of this.#pending.get(sessionId) ?? []) bytes += entry.bytes
    return bytes
  }

  /**
   * The session's journal events before `before`, newest first, while their bytes stay within `maxBytes` (the first
   * one always): with `bytes`, what they take, and `full` when the budget stopped it before the oldest.
   */
  readBefore(sessionId: string, before: number, maxBytes: number): { events: StoredEvent[]; bytes: number; full: boolean } {
    const events: StoredEvent[] = []
    let bytes = 0
    const list = this.#pending.get(sessionId) ?? []
    for (let i = list.length - 1; i >= 0; i--) {
      const entry = list[i]!
      if (entry.stored.seq >= before) continue
      if (events.length > 0 && bytes + entry.bytes > maxBytes) return { events, bytes, full: true }
      events.push(entry.stored)
      bytes += entry.bytes
    }
    return { events, bytes, full: false }
  }

  /** The session's journal events after `after`, at most `limit`: all newer than any of its rows in `events`. */
  readAfter(sessionId: string, after: number, limit: number): StoredEvent[] {
    const list = this.#pending.get(sessionId)
    if (!list) return []
    const start = list.findIndex((entry) => entry.stored.seq > after)
    return start < 0 ? [] : list.slice(start, start + limit).map((entry) => entry.stored)
  }

  /**
   * Moves what the journal holds now into `events`, a chunk of sessions per transaction in key order, yielding
   * between chunks; resolves when done (after one more pass if a merge was already running). Never rejects: a
   * failed chunk stays in the journal for the next merge, and reads still find it here.
   */
  merge(): Promise<void> {
    if (this.#merging) {
      this.#again = true
      return this.#merging
    }
    this.#merging = (async () => {
      try {
        do {
          this.#again = false
          await this.#mergePass()
        } while (this.#again && !this.#closed)
      } catch {
        // The failed chunk rolled back and stays pending; the next tick retries it.
      } finally {
        this.#merging = undefined
      }
    })()
    return this.#merging
  }

  /** Moves everything into `events` at once, synchronously: before retention runs, and at close. */
  mergeAll(): void {
    if (this.#pendingCount === 0) return
    const upTo = this.#lastId
    const sessions = [...this.#pending.keys()]
    this.#mergeChunk(sessions.sort(), upTo)
    this.#deleteUpTo.run(upTo)
  }

  /** Stops the merge timer; pending events stay in the journal until `mergeAll` or the next open. */
  close(): void {
    this.#closed = true
    clearInterval(this.#timer)
  }

  async #mergePass(): Promise<void> {
    if (this.#pendingCount === 0 || this.#closed) return
    const upTo = this.#lastId
    const sessions = [...this.#pending.keys()].sort()
    for (let i = 0; i < sessions.length; ) {
      if (this.#closed) return
      const chunk: string[] = []
      for (let events = 0; i < sessions.length && events < this.#chunkEvents; i++) {
        chunk.push(sessions[i]!)
        events += this.#pending.get(sessions[i]!)?.length ?? 0
      }
      this.#mergeChunk(chunk, upTo)
      await nextTurn()
    }
    // mergeAll may have run meanwhile: deleting again what it deleted is harmless.
    if (!this.#closed) this.#deleteUpTo.run(upTo)
  }

  /**
   * Backpressure. Commits can outrun the merge: a batch that fills up commits at once, and the appends its promises
   * release fill the next one within the same turn, so the merge's turns never come (bench/store-append.ts
   * saturate phase: half a million events waiting in memory after two seconds). Past twice `mergeAtEvents`, each
   * commit also merges a chunk itself, which slows appends to what the merge can take.
   */
  #mergeOneChunkNow(): void {
    const chunk: string[] = []
    let events = 0
    for (const [sessionId, list] of this.#pending) {
      if (events >= this.#chunkEvents) break
      chunk.push(sessionId)
      events += list.length
    }
    try {
      this.#mergeChunk(chunk.sort(), this.#lastId)
    } catch {
      // It stays pending; the merge pass or the next commit tries again.
    }
  }

  /** Copies into `events` the journal rows with id ≤ `upTo` of `sessions` (sorted), then forgets them here. */
  #mergeChunk(sessions: readonly string[], upTo: number): void {
    const counts = this.#mergeChunkNow(sessions, upTo)
    sessions.forEach((sessionId, i) => {
      const list = this.#pending.get(sessionId)
      if (!list || counts[i] === 0) return
      list.splice(0, counts[i])
      if (list.length === 0) this.#pending.delete(sessionId)
      this.#pendingCount -= counts[i]!
    })
  }

  /** Inside the merge transaction: copies the rows and counts their bytes; returns how many rows of each session. */
  #moveChunk(sessions: readonly string[], upTo: number): number[] {
    const ids: number[] = []
    const counts = sessions.map((sessionId) => {
      const list = this.#pending.get(sessionId) ?? []
      let n = 0
      let bytes = 0
      for (; n < list.length && list[n]!.id <= upTo; n++) {
        ids.push(list[n]!.id)
        bytes += list[n]!.bytes
      }
      this.#sessionBytes.add(sessionId, bytes)
      return n
    })
    if (ids.length > 0) this.#moveToEvents.run(JSON.stringify(ids))
    return counts
  }

  #insertStatement(rows: number): Statement {
    let statement = this.#inserts.get(rows)
    if (!statement) {
      const values = Array.from({ length: rows }, () => '(?, ?, ?, ?, ?, ?, ?)').join(', ')
      statement = this.#db.prepare(`INSERT INTO journal (id, ${COLUMNS}) VALUES ${values}`)
      this.#inserts.set(rows, statement)
    }
    return statement
  }
}
