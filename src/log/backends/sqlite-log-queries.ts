import type { Database, Statement } from 'bun:sqlite'
import type { ActivityCursor, BackendTotals, LogId, LogState, NewLog } from '../log-backend.ts'
import type { LogRows } from './sqlite-log-rows.ts'
import { type FirstEntry, firstEntries } from './new-log-state.ts'

/**
 * The scans retention and recovery page through, each answered from one index of `logs` (sqlite-schema.ts, v9);
 * test/durability/sqlite-backend.test.ts checks their query plans.
 */
export const SCAN_SQL = {
  /** logs_by_activity (active_at, id). */
  active: 'SELECT id AS log, active_at AS activeAt FROM logs WHERE active_at >= ?1 AND active_at < ?2 ORDER BY active_at, id LIMIT ?3',
  /** logs_by_activity, from the cursor on. */
  activeAfter: `SELECT id AS log, active_at AS activeAt FROM logs WHERE active_at >= ?1 AND active_at < ?2 AND (active_at, id) > (?5, ?4)
    ORDER BY active_at, id LIMIT ?3`,
  /** logs_by_expiry, partial: only logs that expire. */
  expired: 'SELECT id FROM logs WHERE expires_at <= ? ORDER BY expires_at LIMIT ?',
  /** logs_with_open_run, partial: only logs with a run open, so recovery reads no other. */
  openRuns: 'SELECT id AS log, open_run AS run, open_run_from AS "from" FROM logs WHERE open_run IS NOT NULL',
} as const

/** What a deletion took away: entries and their bytes. */
interface Gone {
  count: number
  bytes: number
}

/**
 * The backend's statements besides the append: creating, forking and deleting logs, deleting entries, producers, and
 * the scans of SCAN_SQL. Write methods that change a log's state update the
 * `state` object they are given; the caller runs them inside `writing` and caches the state after.
 */
export class SqliteLogQueries {
  readonly #db: Database
  readonly #taken: Statement<{ taken: number }, [string]>
  readonly #insertAlias: Statement
  readonly #resolveAlias: Statement<{ log: string }, [string]>
  readonly #deleteEntry: Statement<{ bytes: number }, [string, number]>
  readonly #span: Statement<{ count: number; bytes: number | null }, [string, number]>
  readonly #deleteThrough: Statement
  readonly #nthSeq: Statement<{ seq: number }, [string, number]>
  readonly #producer: Statement<{ value: string }, [string, string]>
  readonly #producerKeys: Statement<{ key: string }, [string]>
  readonly #deleteProducer: Statement
  readonly #active: Statement<{ log: string; activeAt: number }, [number, number, number]>
  readonly #activeAfter: Statement<{ log: string; activeAt: number }, [number, number, number, string, number]>
  readonly #expired: Statement<{ id: string }, [number, number]>
  readonly #openRuns: Statement<{ log: string; run: string; from: number }, []>
  readonly #create: (log: NewLog, state: LogState, rows: LogRows, first: readonly FirstEntry[]) => boolean
  readonly #insertEntry: Statement
  readonly #deleteLog: (log: LogId) => void

  constructor(db: Database) {
    this.#db = db
    // An id is taken as a log's id or as any log's alias: every name finds one log.
    this.#taken = db.prepare('SELECT EXISTS (SELECT 1 FROM logs WHERE id = ?1) OR EXISTS (SELECT 1 FROM aliases WHERE alias = ?1) AS taken')
    this.#insertAlias = db.prepare('INSERT INTO aliases (alias, log) VALUES (?, ?)')
    this.#resolveAlias = db.prepare('SELECT log FROM aliases WHERE alias = ?')
    this.#deleteEntry = db.prepare('DELETE FROM entries WHERE log = ? AND seq = ? RETURNING bytes')
    this.#span = db.prepare('SELECT COUNT(*) AS count, SUM(bytes) AS bytes FROM entries WHERE log = ? AND seq <= ?')
    this.#deleteThrough = db.prepare('DELETE FROM entries WHERE log = ? AND seq <= ?')
    this.#nthSeq = db.prepare('SELECT seq FROM entries WHERE log = ? ORDER BY seq LIMIT 1 OFFSET ?')
    this.#producer = db.prepare('SELECT value FROM log_producers WHERE log = ? AND key = ?')
    this.#producerKeys = db.prepare('SELECT key FROM log_producers WHERE log = ?')
    this.#deleteProducer = db.prepare('DELETE FROM log_producers WHERE log = ? AND key = ?')
    this.#active = db.prepare(SCAN_SQL.active)
    this.#activeAfter = db.prepare(SCAN_SQL.activeAfter)
    this.#expired = db.prepare(SCAN_SQL.expired)
    this.#openRuns = db.prepare(SCAN_SQL.openRuns)
    // Straight into `entries`, not the journal: the row's head, count and bytes count them, as they count merged ones.
    this.#insertEntry = db.prepare('INSERT INTO entries (log, seq, bytes, data) VALUES (?, ?, ?, ?)')
    this.#create = db.transaction((log: NewLog, state: LogState, rows: LogRows, first: readonly FirstEntry[]) => {
      const names = [log.log, ...(log.aliases ?? [])]
      if (new Set(names).size < names.length || names.some((name) => this.#taken.get(name)?.taken)) return false
      rows.insert(log.log, state)
      for (const entry of first) this.#insertEntry.run(log.log, entry.seq, entry.bytes, entry.data)
      for (const alias of log.aliases ?? []) this.#insertAlias.run(alias, log.log)
      return true
    })
    const deleteAll = ['entries WHERE log', 'aliases WHERE log', 'log_producers WHERE log', 'logs WHERE id'].map((from) =>
      db.prepare(`DELETE FROM ${from} = ?`),
    )
    this.#deleteLog = db.transaction((log: LogId) => {
      for (const statement of deleteAll) statement.run(log)
    })
  }

  /**
   * Creates the log with its aliases and first entries in one transaction; false, changing nothing, when a name is
   * taken. `state` (the log's new state) gets the entries' head, count and bytes.
   */
  create(log: NewLog, state: LogState, rows: LogRows): boolean {
    return this.#create(log, state, rows, firstEntries(state, log.entries))
  }

  resolveAlias(alias: string): LogId | undefined {
    return this.#resolveAlias.get(alias)?.log
  }

  /**
   * Deletes the logs' entries, aliases, producers and rows, and sets `lowered`'s forks, in one transaction (a log and
   * the soft-deleted sources its going leaves without forks).
   */
  deleteLogs(logs: readonly LogId[], rows: LogRows, lowered?: { log: LogId; forks: number }): void {
    this.#db.transaction(() => {
      for (const log of logs) this.#deleteLog(log)
      if (lowered) rows.setForks(lowered.log, lowered.forks)
    })()
  }

  deleteEntries(log: LogId, seqs: readonly number[], state: LogState, rows: LogRows): Gone {
    return this.#db.transaction(() => {
      const gone = { count: 0, bytes: 0 }
      for (const seq of seqs) {
        const row = this.#deleteEntry.get(log, seq)
        if (!row) continue
        gone.count += 1
        gone.bytes += row.bytes
      }
      this.#lower(log, state, gone, rows)
      return gone
    })()
  }

  /**
   * Deletes the log's oldest entries until `count` remain, in one transaction: through the seq of the last one to go,
   * found by its rank (compaction leaves holes, so no seq is computed). `state` (the log's, merged) gives how many it
   * holds.
   */
  keepNewest(log: LogId, count: number, state: LogState, rows: LogRows): Gone {
    return this.#db.transaction(() => {
      const through = this.#nthSeq.get(log, state.count - count - 1)?.seq
      if (through === undefined) return { count: 0, bytes: 0 }
      const span = this.#span.get(log, through)
      const gone = { count: span?.count ?? 0, bytes: span?.bytes ?? 0 }
      this.#deleteThrough.run(log, through)
      state.tail = Math.max(state.tail, through)
      this.#lower(log, state, gone, rows)
      return gone
    })()
  }

  /**
   * Creates `target` holding a copy of the source's entries up to `at`, then its own first entries, in one transaction;
   * false when a name is taken. `state` (the target's new state) gets the copy's head, tail, counts and origin.
   */
  fork(source: LogId, from: LogState, at: number, target: NewLog, state: LogState, rows: LogRows): boolean {
    return this.#db.transaction(() => {
      const span = this.#span.get(source, at)
      state.head = at
      state.tail = Math.min(from.tail, at)
      state.count = span?.count ?? 0
      state.bytes = span?.bytes ?? 0
      state.forkedFrom = { log: source, at }
      if (!this.#create(target, state, rows, firstEntries(state, target.entries))) return false
      rows.setForks(source, from.forks + 1)
      this.#db
        .query('INSERT INTO entries (log, seq, bytes, data) SELECT ?, seq, bytes, data FROM entries WHERE log = ? AND seq <= ?')
        .run(target.log, source, at)
      return true
    })()
  }

  producer(log: LogId, key: string): string | undefined {
    return this.#producer.get(log, key)?.value
  }

  producerKeys(log: LogId): string[] {
    return this.#producerKeys.all(log).map((row) => row.key)
  }

  deleteProducers(log: LogId, keys: readonly string[]): void {
    this.#db.transaction(() => {
      for (const key of keys) this.#deleteProducer.run(log, key)
    })()
  }

  activeBetween(from: number, to: number, limit: number, cursor?: ActivityCursor): ActivityCursor[] {
    if (!cursor) return this.#active.all(from, to, limit)
    return this.#activeAfter.all(from, to, limit, cursor.log, cursor.activeAt)
  }

  expiredLogs(now: number, limit: number): LogId[] {
    return this.#expired.all(now, limit).map((row) => row.id)
  }

  openRuns(): { log: LogId; run: string; from: number }[] {
    return this.#openRuns.all()
  }

  /** Counted once, at open: from then on the backend keeps them with every write. */
  totals(): BackendTotals {
    return this.#db
      .query<BackendTotals, []>('SELECT COUNT(*) AS logs, COALESCE(SUM(count), 0) AS entries, COALESCE(SUM(bytes), 0) AS bytes FROM logs')
      .get()!
  }

  #lower(log: LogId, state: LogState, gone: Gone, rows: LogRows): void {
    state.count -= gone.count
    state.bytes -= gone.bytes
    rows.updateCounts(log, state)
  }
}
