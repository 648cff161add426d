import type { Database, Statement } from 'bun:sqlite'
import { SQLITE_JOURNAL_MERGE_AT } from '../../limits.ts'
import { nextTurn } from '../../next-turn.ts'
import type { LogEntry, LogId } from '../log-backend.ts'

/** One committed entry that is in `journal` and not yet in `entries`. */
interface Journaled {
  id: number
  seq: number
  bytes: number
  data: string
}

/** An entry a batch writes: its log, seq, bytes and data. */
export interface EntryRow {
  log: LogId
  seq: number
  bytes: number
  data: string
}

/** Adds entries moved into `entries` to their log's row: the newest seq among them, how many, their bytes. */
export type CountMerged = (log: LogId, head: number, count: number, bytes: number) => void

export interface JournalOptions {
  /** How often committed entries are moved from the journal into `entries`; milliseconds, default 1000. */
  mergeEveryMs?: number
  /** A merge starts early once this many entries wait in the journal; entries, default SQLITE_JOURNAL_MERGE_AT (50,000). */
  mergeAtEntries?: number
  /**
   * Entries moved per merge transaction, the event loop running between two; entries, default 500 (about 1.3 ms).
   * A chunk takes whole logs, so its size changes how long it holds the loop, not how many rows share a page.
   */
  chunkEntries?: number
}

/**
 * Journal rows per INSERT statement: one statement per row spent more time crossing from JavaScript into SQLite than
 * in SQLite. 100 rows are 500 parameters, far below SQLite's limit of 32,766.
 */
const ROWS_PER_INSERT = 100

/**
 * Merged journal rows deleted per statement, the event loop running between two: one DELETE of a whole pass's rows
 * (10,000 at 10,000 events/s) held the loop 2.5-6 ms. Contiguous ids, so each page of the journal is written once;
 * deleting each chunk's own rows in its transaction touched most pages in every chunk (its logs' rows are spread over
 * the whole second).
 */
const ROWS_PER_DELETE = 1000

/**
 * Moves whatever a previous process left in the journal into `entries`, in one transaction, at open. A crash in the
 * middle of a merge leaves rows that are in both tables, identical: OR IGNORE skips those, and their `logs` rows
 * counted them already. Nothing that deletes entries runs while the journal holds rows (it merges everything first),
 * so nothing deleted can come back.
 */
export function replayJournal(db: Database): void {
  db.transaction(() => {
    // Counted as a merge counts them: only the rows not in `entries` already (a chunk's move and count commit together).
    db.run(`UPDATE logs SET head = max(logs.head, j.head), count = logs.count + j.count, bytes = logs.bytes + j.bytes
      FROM (SELECT log, MAX(seq) AS head, COUNT(*) AS count, SUM(bytes) AS bytes FROM journal
            WHERE NOT EXISTS (SELECT 1 FROM entries AS e WHERE e.log = journal.log AND e.seq = journal.seq) GROUP BY log) AS j
      WHERE logs.id = j.log`)
    db.run('INSERT OR IGNORE INTO entries (log, seq, bytes, data) SELECT log, seq, bytes, data FROM journal ORDER BY log, seq')
    db.run('DELETE FROM journal')
  })()
}

/**
 * The write-ahead half of the SQLite backend. A batch appends its entries to `journal`, an append-only rowid table, so
 * a commit writes a few sequential pages however many logs it touches; `entries`, clustered by (log, seq), gets the
 * same rows about once a second, a log's whole backlog at a time. Inserting each entry straight into `entries` dirtied
 * one 4 KiB page per log per commit: with 1,000 logs at 50 entries/s the plain path sustained a third of the journal's
 * rate (bench/sqlite-backend.ts, bench/RESULTS.md).
 *
 * Until it is merged an entry is also kept here in memory, by log, and reads past `entries` are answered from here,
 * so the journal needs no index (one on (log, seq) would bring the random page writes back). The entries kept are
 * exactly the journal rows not yet in `entries`.
 */
export class EntryJournal {
  readonly #db: Database
  readonly #inserts = new Map<number, Statement>()
  readonly #moveToEntries: Statement
  readonly #deleteUpTo: Statement
  readonly #deleteRange: Statement
  readonly #mergeChunkNow: (logs: readonly LogId[], upTo: number) => number[]
  readonly #pending = new Map<LogId, Journaled[]>()
  readonly #mergeAtEntries: number
  readonly #chunkEntries: number
  readonly #countMerged: CountMerged
  readonly #timer: Timer
  #pendingCount = 0
  /** Ids only grow within a process, so `id <= upTo` never covers a row that was not merged. */
  #lastId: number
  /** Every row with an id up to this one is merged and deleted. */
  #deletedUpTo: number
  #merging: Promise<void> | undefined
  /** Someone asked for a merge while one was running: run another pass for what arrived meanwhile. */
  #again = false
  #closed = false

  /** @param countMerged adds what a merge moves to the log's `logs` row, in the merge's transaction. */
  constructor(db: Database, countMerged: CountMerged, options: JournalOptions = {}) {
    this.#db = db
    this.#countMerged = countMerged
    this.#mergeAtEntries = options.mergeAtEntries ?? SQLITE_JOURNAL_MERGE_AT
    this.#chunkEntries = options.chunkEntries ?? 500
    // Copies the journal rows whose ids the JSON array lists, in the array's order (a rowid lookup each): the caller
    // lists them in (log, seq) order, so each page of `entries` is written once per chunk.
    this.#moveToEntries = db.prepare(
      `INSERT INTO entries (log, seq, bytes, data) SELECT j.log, j.seq, j.bytes, j.data
       FROM json_each(?) AS k JOIN journal AS j ON j.id = k.value`,
    )
    this.#deleteUpTo = db.prepare('DELETE FROM journal WHERE id <= ?')
    this.#deleteRange = db.prepare('DELETE FROM journal WHERE id > ? AND id <= ?')
    this.#mergeChunkNow = db.transaction((logs: readonly LogId[], upTo: number) => this.#moveChunk(logs, upTo))
    this.#lastId = (db.query('SELECT COALESCE(MAX(id), 0) AS id FROM journal').get() as { id: number }).id
    this.#deletedUpTo = (db.query('SELECT COALESCE(MIN(id) - 1, 0) AS id FROM journal').get() as { id: number }).id
    this.#timer = setInterval(() => void this.merge(), options.mergeEveryMs ?? 1000)
    this.#timer.unref()
  }

  /** Inserts the rows into the journal; call inside the batch's transaction, then `committed` after it. */
  write(rows: readonly EntryRow[]): { log: LogId; journaled: Journaled }[] {
    const written = rows.map(({ log, seq, bytes, data }) => ({ log, journaled: { id: ++this.#lastId, seq, bytes, data } }))
    for (let i = 0; i < written.length; i += ROWS_PER_INSERT) {
      const chunk = written.slice(i, i + ROWS_PER_INSERT)
      const values = chunk.flatMap(({ log, journaled: j }) => [j.id, log, j.seq, j.bytes, j.data])
      this.#insertStatement(chunk.length).run(...values)
    }
    return written
  }

  /** Records rows whose transaction committed; merges early when many are waiting. */
  committed(written: readonly { log: LogId; journaled: Journaled }[]): void {
    for (const { log, journaled } of written) {
      const list = this.#pending.get(log)
      if (list) list.push(journaled)
      else this.#pending.set(log, [journaled])
    }
    this.#pendingCount += written.length
    if (this.#pendingCount >= this.#mergeAtEntries) void this.merge()
    if (this.#pendingCount >= this.#mergeAtEntries * 2) this.#mergeOneChunkNow()
  }

  /** What the log's entries still in the journal add to its `logs` row: its newest seq, how many, their bytes. */
  pendingOf(log: LogId): { head: number; count: number; bytes: number } | undefined {
    const list = this.#pending.get(log)
    if (!list) return undefined
    let bytes = 0
    for (const entry of list) bytes += entry.bytes
    return { head: list.at(-1)!.seq, count: list.length, bytes }
  }

  /** The log's journal entries after `after`, at most `limit`: all newer than any of its rows in `entries`. */
  readAfter(log: LogId, after: number, limit: number): LogEntry[] {
    const list = this.#pending.get(log)
    if (!list || limit <= 0) return []
    const start = list.findIndex((entry) => entry.seq > after)
    return start < 0 ? [] : list.slice(start, start + limit).map(({ seq, data }) => ({ seq, data }))
  }

  /**
   * The log's journal entries before `before`, newest first, while their bytes stay within `maxBytes` (the first one
   * always): with `bytes`, what they take, and `full` when the budget stopped it before the oldest.
   */
  readBefore(log: LogId, before: number, maxBytes: number): { entries: LogEntry[]; bytes: number; full: boolean } {
    const entries: LogEntry[] = []
    let bytes = 0
    const list = this.#pending.get(log) ?? []
    for (let i = list.length - 1; i >= 0; i--) {
      const { seq, data, bytes: size } = list[i]!
      if (seq >= before) continue
      if (entries.length > 0 && bytes + size > maxBytes) return { entries, bytes, full: true }
      entries.push({ seq, data })
      bytes += size
    }
    return { entries, bytes, full: false }
  }

  /**
   * Moves what the journal holds now into `entries`, a chunk of logs per transaction in key order, yielding between
   * chunks; resolves when done (after one more pass if a merge was already running). Never rejects: a failed chunk
   * stays in the journal for the next merge, and reads still find it here.
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

  /**
   * Moves everything into `entries` at once and empties the journal, synchronously: before anything deletes entries
   * (so a replay can never bring back what it deleted), and at close. Throws when the database refuses.
   */
  mergeAll(): void {
    if (this.#pendingCount === 0) {
      // Everything is in `entries`, but a merge pass may still be deleting what it moved, a piece a turn: finish that
      // now, or a delete made in between would be undone by the next open's replay of those rows.
      if (this.#deletedUpTo < this.#lastId) {
        this.#deleteUpTo.run(this.#lastId)
        this.#deletedUpTo = this.#lastId
      }
      return
    }
    const upTo = this.#lastId
    const logs = [...this.#pending.keys()].sort()
    const counts = this.#db.transaction(() => {
      const moved = this.#moveChunk(logs, upTo)
      this.#deleteUpTo.run(upTo)
      return moved
    })()
    this.#deletedUpTo = upTo
    this.#forget(logs, counts)
  }

  /** Stops the merge timer; pending entries stay in the journal until `mergeAll` or the next open. */
  close(): void {
    this.#closed = true
    clearInterval(this.#timer)
  }

  async #mergePass(): Promise<void> {
    if (this.#pendingCount === 0 || this.#closed) return
    const upTo = this.#lastId
    const logs = [...this.#pending.keys()].sort()
    for (let i = 0; i < logs.length; ) {
      if (this.#closed) return
      const chunk: LogId[] = []
      for (let entries = 0; i < logs.length && entries < this.#chunkEntries; i++) {
        chunk.push(logs[i]!)
        entries += this.#pending.get(logs[i]!)?.length ?? 0
      }
      this.#mergeChunk(chunk, upTo)
      await nextTurn()
    }
    // Every row up to `upTo` is in `entries` now (mergeAll may have deleted some meanwhile: deleting again is harmless).
    for (let from = this.#deletedUpTo; from < upTo && !this.#closed; from = this.#deletedUpTo) {
      const to = Math.min(from + ROWS_PER_DELETE, upTo)
      this.#deleteRange.run(from, to)
      this.#deletedUpTo = Math.max(this.#deletedUpTo, to)
      await nextTurn()
    }
  }

  /**
   * Backpressure. Commits can outrun the merge: the appends a commit releases fill the next batch within the same
   * turn, so the merge's turns may never come. Past twice `mergeAtEntries`, each commit also merges a chunk itself,
   * which slows appends to what the merge can take.
   */
  #mergeOneChunkNow(): void {
    const chunk: LogId[] = []
    let entries = 0
    for (const [log, list] of this.#pending) {
      if (entries >= this.#chunkEntries) break
      chunk.push(log)
      entries += list.length
    }
    try {
      this.#mergeChunk(chunk.sort(), this.#lastId)
    } catch {
      // It stays pending; the merge pass or the next commit tries again.
    }
  }

  /** Copies into `entries` the journal rows with id ≤ `upTo` of `logs` (sorted), then forgets them here. */
  #mergeChunk(logs: readonly LogId[], upTo: number): void {
    this.#forget(logs, this.#mergeChunkNow(logs, upTo))
  }

  /** Forgets the first `counts[i]` entries of each of `logs`, now in `entries`. */
  #forget(logs: readonly LogId[], counts: readonly number[]): void {
    logs.forEach((log, i) => {
      const list = this.#pending.get(log)
      if (!list || counts[i] === 0) return
      list.splice(0, counts[i])
      if (list.length === 0) this.#pending.delete(log)
      this.#pendingCount -= counts[i]!
    })
  }

  /** Inside the merge transaction: copies the rows and counts them in `logs`; returns how many rows of each log. */
  #moveChunk(logs: readonly LogId[], upTo: number): number[] {
    const ids: number[] = []
    const counts = logs.map((log) => {
      const list = this.#pending.get(log) ?? []
      let n = 0
      let bytes = 0
      for (; n < list.length && list[n]!.id <= upTo; n++) {
        ids.push(list[n]!.id)
        bytes += list[n]!.bytes
      }
      if (n > 0) this.#countMerged(log, list[n - 1]!.seq, n, bytes)
      return n
    })
    if (ids.length > 0) this.#moveToEntries.run(JSON.stringify(ids))
    return counts
  }

  #insertStatement(rows: number): Statement {
    let statement = this.#inserts.get(rows)
    if (!statement) {
      const values = Array(rows).fill('(?, ?, ?, ?, ?)').join(', ')
      statement = this.#db.prepare(`INSERT INTO journal (id, log, seq, bytes, data) VALUES ${values}`)
      this.#inserts.set(rows, statement)
    }
    return statement
  }
}
