import type { Database, Statement } from 'bun:sqlite'
import { openSqlite } from './sqlite-open.ts'
import { reasonOf } from './sqlite-errors.ts'
import {
  type ActivityCursor,
  type AppendEntry,
  type AppendOutcome,
  type BackendTotals,
  type BatchLimits,
  type DeletedCounts,
  type EntryCounts,
  expiredAt,
  type LogBackend,
  type LogEntry,
  type LogId,
  type LogState,
  type NewLog,
  type OnPurged,
  refusalAt,
  StoreFailure,
} from '../log-backend.ts'
import { SQLITE_CACHED_LOGS } from '../../limits.ts'
import { BatchWriter, type BatchResult } from './sqlite-batch.ts'
import { Checkpointer, type CheckpointerOptions } from './sqlite-checkpointer.ts'
import { storeFiles } from './sqlite-files.ts'
import { EntryJournal, type JournalOptions, replayJournal } from './sqlite-journal.ts'
import { newLogState } from './new-log-state.ts'
import { copyState, LogRows } from './sqlite-log-rows.ts'
import { SqliteLogQueries } from './sqlite-log-queries.ts'
import { LogStates } from './sqlite-log-states.ts'
import { ReadBefore } from './sqlite-read-before.ts'

export interface SqliteBackendOptions extends JournalOptions {
  /** Log states kept in memory; past it the cache is dropped and refilled on demand; logs, default SQLITE_CACHED_LOGS. */
  cachedLogs?: number
  /**
   * Called once with the open connection before the backend uses it: the store keeps its sign-ins in a table of the
   * same database (src/store/sqlite-sign-ins.ts), and tests inject faults through it.
   */
  onOpen?: (db: Database) => void
  /**
   * The checkpoint worker of a file database (sqlite-checkpointer.ts), on by default; `false` leaves checkpoints to
   * SQLite inside the commits, as before it (tests compare the two).
   */
  checkpointer?: CheckpointerOptions | false
}

const closedFailure = () => new StoreFailure('the server is shutting down')

/** The checkpoint worker, or none if this Bun cannot start one: SQLite then checkpoints inside the commits. */
function startCheckpointer(db: Database, path: string, options: CheckpointerOptions | undefined): Checkpointer | undefined {
  try {
    return new Checkpointer(db, storeFiles(path).database, options)
  } catch {
    return undefined
  }
}

/** Runs a write; a failure of the medium becomes a StoreFailure whose reason says which (disk full, read-only, I/O). */
function writing<T>(write: () => T): T {
  try {
    return write()
  } catch (error) {
    if (error instanceof StoreFailure) throw error
    throw new StoreFailure(reasonOf(error), { cause: error })
  }
}

/**
 * The log backend over `bun:sqlite` (src/log/log-backend.ts): WAL mode, `entries` clustered by (log, seq), one `logs`
 * row per log. A batch is one transaction into the journal (sqlite-journal.ts), merged into `entries` about once a
 * second; a worker thread checkpoints the WAL into the database (sqlite-checkpointer.ts). This process is the only writer (a
 * lock file enforces it, sqlite-lock.ts), so the states of the logs it has read are cached here and kept by every
 * write, and the totals are counted once at open.
 */
export class SqliteBackend implements LogBackend {
  readonly #db: Database
  readonly #lock: Database | undefined
  readonly #rows: LogRows
  readonly #queries: SqliteLogQueries
  readonly #batch: (entries: readonly AppendEntry[], limits: BatchLimits, now: number) => BatchResult
  readonly #journal: EntryJournal
  readonly #readBefore: ReadBefore
  readonly #read: Statement<LogEntry, [string, number, number]>
  readonly #states: LogStates
  readonly #totals: BackendTotals
  readonly #checkpointer: Checkpointer | undefined
  #closed = false

  /**
   * Opens (creating if needed) the database at `path`, migrating it to this build's schema; `:memory:` gives a
   * private in-memory database. Throws StoreOpenError, with a one-line reason, when the file cannot be used; the file
   * is then left untouched.
   */
  constructor(path: string, options: SqliteBackendOptions = {}) {
    // A crash can leave committed entries in the journal that never reached `entries`.
    const { db, lock } = openSqlite(path, { afterMigrate: replayJournal })
    this.#db = db
    this.#lock = lock
    options.onOpen?.(db)
    this.#rows = new LogRows(db)
    this.#queries = new SqliteLogQueries(db)
    this.#journal = new EntryJournal(db, (log, head, count, bytes) => this.#rows.addMerged(log, head, count, bytes), options)
    this.#states = new LogStates(this.#rows, this.#journal, options.cachedLogs ?? SQLITE_CACHED_LOGS)
    const writer = new BatchWriter(db, this.#rows, this.#journal, (log) => this.#states.get(log))
    this.#batch = db.transaction((entries, limits, now) => writer.write(entries, limits, now))
    this.#readBefore = new ReadBefore(db)
    this.#read = db.prepare('SELECT seq, data FROM entries WHERE log = ? AND seq > ? ORDER BY seq LIMIT ?')
    this.#totals = this.#queries.totals()
    // Last: a constructor that threw above would leave the thread running. `:memory:` has no WAL.
    if (lock && options.checkpointer !== false) this.#checkpointer = startCheckpointer(db, path, options.checkpointer)
  }

  async create(log: NewLog, now: number, purged?: OnPurged): Promise<boolean> {
    this.#assertOpen()
    // Expired logs are looked for only when a name is taken: a new id, the usual case, costs nothing more. This
    // process is the only writer and nothing here awaits, so nothing can come between the purge and the create.
    return this.#createNow(log, now) || (this.#purgeExpired(log, now, purged) && this.#createNow(log, now))
  }

  #createNow(log: NewLog, now: number): boolean {
    const state = newLogState(log, now)
    const created = this.#write(() => this.#queries.create(log, state, this.#rows))
    if (!created) return false
    this.#states.set(log.log, state)
    this.#totals.logs += 1
    this.#totals.entries += state.count
    this.#totals.bytes += state.bytes
    return true
  }

  /** Deletes each expired log holding the new log's id or an alias; true when there was one. */
  #purgeExpired(log: NewLog, now: number, purged: OnPurged | undefined): boolean {
    let any = false
    for (const name of [log.log, ...(log.aliases ?? [])]) {
      const holder = this.#states.get(name) ? name : this.#queries.resolveAlias(name)
      const state = holder === undefined ? undefined : this.#states.get(holder)
      if (holder === undefined || !state || !expiredAt(state, now) || state.forks > 0) continue
      this.#deleteChain(holder, state, purged)
      any = true
    }
    return any
  }

  /** The log's state unless it is missing, or expired or soft-deleted at `now` when given. */
  #live(log: LogId, now: number | undefined): LogState | undefined {
    const state = this.#states.get(log)
    return state && (now === undefined || refusalAt(state, now) === undefined) ? state : undefined
  }

  async state(log: LogId): Promise<LogState | undefined> {
    this.#assertOpen()
    const state = this.#states.get(log)
    return state && copyState(state)
  }

  async resolveAlias(alias: string): Promise<LogId | undefined> {
    this.#assertOpen()
    return this.#queries.resolveAlias(alias)
  }

  async setMeta(log: LogId, meta: string): Promise<boolean> {
    this.#assertOpen()
    const done = this.#write(() => this.#rows.setMeta(log, meta))
    const state = this.#states.get(log)
    if (state) state.meta = meta
    return done
  }

  async touch(log: LogId, activeAt: number, expiresAt?: number | null): Promise<boolean> {
    this.#assertOpen()
    const state = this.#states.get(log)
    if (!state) return false
    const expires = expiresAt === undefined ? (state.expiresAt ?? null) : expiresAt
    this.#write(() => this.#rows.touch(log, activeAt, expires))
    state.activeAt = activeAt
    if (expires === null) delete state.expiresAt
    else state.expiresAt = expires
    return true
  }

  async append(entries: readonly AppendEntry[], limits: BatchLimits, now: number): Promise<AppendOutcome[]> {
    this.#assertOpen()
    const result = this.#write(() => this.#batch(entries, limits, now))
    this.#journal.committed(result.written)
    for (const [log, state] of result.changed) this.#states.set(log, state)
    this.#totals.entries += result.entries
    this.#totals.bytes += result.bytes
    return result.outcomes
  }

  async read(log: LogId, after: number, limit: number, now?: number): Promise<LogEntry[]> {
    this.#assertOpen()
    if (now !== undefined && !this.#live(log, now)) return []
    const merged = this.#read.all(log, after, limit)
    if (merged.length === limit) return merged
    // The log's journal entries all come after its rows in `entries`.
    return merged.concat(this.#journal.readAfter(log, merged.at(-1)?.seq ?? after, limit - merged.length))
  }

  async readBefore(log: LogId, before: number, maxBytes: number, now?: number): Promise<LogEntry[]> {
    this.#assertOpen()
    if (now !== undefined && !this.#live(log, now)) return []
    // The journal holds the newest entries; `entries` the older ones, read back in pages of sizes first.
    const newest = this.#journal.readBefore(log, before, maxBytes)
    if (newest.full) return newest.entries.reverse()
    // Below the oldest journal entry read: a merge while this pages through `entries` may move those entries there.
    const below = newest.entries.at(-1)?.seq ?? before
    const atLeastOne = newest.entries.length === 0
    const older = await this.#readBefore.read(log, below, maxBytes - newest.bytes, atLeastOne, () => this.#assertOpen())
    return older.concat(newest.entries.reverse())
  }

  async delete(log: LogId, now: number): Promise<DeletedCounts | 'SOFT' | undefined> {
    this.#assertOpen()
    const state = this.#states.get(log)
    if (!state) return undefined
    if (state.forks === 0) return this.#deleteChain(log, state)
    const deletedAt = state.deletedAt ?? now
    this.#write(() => this.#rows.softDelete(log, deletedAt))
    state.deletedAt = deletedAt
    delete state.expiresAt
    return 'SOFT'
  }

  /**
   * Deletes the log, and each soft-deleted source down its chain that its going leaves without forks, lowering the
   * forks of the first source that stays, in one transaction; `purged` is told of each log deleted. Answers what went.
   */
  #deleteChain(log: LogId, state: LogState, purged?: OnPurged): DeletedCounts {
    const chain: [LogId, LogState][] = [[log, state]]
    let lowered: { log: LogId; forks: number } | undefined
    for (let at = state; at.forkedFrom; ) {
      const origin = at.forkedFrom.log
      const source = this.#states.get(origin)
      if (!source) break
      // Never below 0: a log forked before schema 10 may name a source created again since, which did not count it.
      if (source.forks > 1 || source.deletedAt === undefined) {
        lowered = { log: origin, forks: Math.max(0, source.forks - 1) }
        break
      }
      chain.push([origin, source])
      at = source
    }
    this.#write(() => {
      this.#journal.mergeAll()
      this.#queries.deleteLogs(
        chain.map(([id]) => id),
        this.#rows,
        lowered,
      )
    })
    const gone = { logs: 0, entries: 0, bytes: 0 }
    for (const [id, held] of chain) {
      this.#states.delete(id)
      gone.logs += 1
      gone.entries += held.count
      gone.bytes += held.bytes
      purged?.(id, copyState(held))
    }
    if (lowered) this.#states.get(lowered.log)!.forks = lowered.forks
    this.#totals.logs -= gone.logs
    this.#totals.entries -= gone.entries
    this.#totals.bytes -= gone.bytes
    return gone
  }

  async deleteEntries(log: LogId, seqs: readonly number[]): Promise<EntryCounts> {
    this.#assertOpen()
    const state = this.#states.get(log)
    if (!state || seqs.length === 0) return { entries: 0, bytes: 0 }
    const next = copyState(state)
    const gone = this.#write(() => {
      this.#journal.mergeAll()
      return this.#queries.deleteEntries(log, seqs, next, this.#rows)
    })
    return this.#forgetEntries(log, next, gone)
  }

  async keepNewest(log: LogId, count: number): Promise<EntryCounts> {
    this.#assertOpen()
    const state = this.#states.get(log)
    if (!state || state.count <= count) return { entries: 0, bytes: 0 }
    const next = copyState(state)
    const gone = this.#write(() => {
      this.#journal.mergeAll()
      return this.#queries.keepNewest(log, count, next, this.#rows)
    })
    return this.#forgetEntries(log, next, gone)
  }

  async fork(source: LogId, at: number, target: NewLog, now: number, purged?: OnPurged): Promise<EntryCounts | false | 'NO_LOG' | 'GONE'> {
    this.#assertOpen()
    const from = this.#states.get(source)
    const refused = refusalAt(from, now)
    if (!from || refused) return refused ?? 'NO_LOG'
    this.#purgeExpired(target, now, purged)
    const state = newLogState(target, now)
    const forked = this.#write(() => {
      this.#journal.mergeAll()
      return this.#queries.fork(source, from, at, target, state, this.#rows)
    })
    if (!forked) return false
    from.forks += 1
    this.#states.set(target.log, state)
    this.#totals.logs += 1
    this.#totals.entries += state.count
    this.#totals.bytes += state.bytes
    return { entries: state.count, bytes: state.bytes }
  }

  async producer(log: LogId, key: string): Promise<string | undefined> {
    this.#assertOpen()
    return this.#queries.producer(log, key)
  }

  async producerKeys(log: LogId): Promise<string[]> {
    this.#assertOpen()
    return this.#queries.producerKeys(log)
  }

  async deleteProducers(log: LogId, keys: readonly string[]): Promise<void> {
    this.#assertOpen()
    this.#write(() => this.#queries.deleteProducers(log, keys))
  }

  async activeBetween(from: number, to: number, limit: number, cursor?: ActivityCursor): Promise<ActivityCursor[]> {
    this.#assertOpen()
    return this.#queries.activeBetween(from, to, limit, cursor)
  }

  async expiredLogs(now: number, limit: number): Promise<LogId[]> {
    this.#assertOpen()
    return this.#queries.expiredLogs(now, limit)
  }

  async openRuns(): Promise<{ log: LogId; run: string; from: number }[]> {
    this.#assertOpen()
    return this.#queries.openRuns()
  }

  async totals(): Promise<BackendTotals> {
    this.#assertOpen()
    return { ...this.#totals }
  }

  async ping(): Promise<void> {
    this.#assertOpen()
    writing(() => this.#db.query('SELECT 1').get())
  }

  /**
   * Merges the journal, closes the database and releases the writer lock. Every append has already answered: each is
   * one transaction.
   */
  async close(): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    this.#journal.close()
    try {
      this.#journal.mergeAll()
    } catch {
      // Every entry is committed in the journal already; the next open merges what this could not.
    }
    // The worker's connection closes first: the last connection to close checkpoints the whole WAL into the file.
    await this.#checkpointer?.close()
    this.#db.close()
    this.#lock?.close()
  }

  #forgetEntries(log: LogId, next: LogState, gone: { count: number; bytes: number }): EntryCounts {
    this.#states.set(log, next)
    this.#totals.entries -= gone.count
    this.#totals.bytes -= gone.bytes
    return { entries: gone.count, bytes: gone.bytes }
  }

  /** A write of the serving connection: its failure as a StoreFailure; the checkpoint worker started if none runs. */
  #write<T>(write: () => T): T {
    const result = writing(write)
    this.#checkpointer?.wrote()
    return result
  }

  #assertOpen(): void {
    if (this.#closed) throw closedFailure()
  }
}
