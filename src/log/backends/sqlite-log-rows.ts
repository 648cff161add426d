import type { Database, Statement } from 'bun:sqlite'
import type { LogId, LogState } from '../log-backend.ts'

/**
 * One `logs` row (sqlite-schema.ts, version 10): a log's whole state, so reading it is one primary-key lookup. Its head,
 * count and bytes count the entries in `entries`; those still in the journal (sqlite-journal.ts) are added as the
 * journal merges them, or replays them at open.
 */
interface LogRow {
  head: number
  tail: number
  count: number
  bytes: number
  created_at: number
  active_at: number
  closed: number
  expires_at: number | null
  forked_from: string | null
  forked_at: number | null
  meta: string
  open_run: string | null
  open_run_from: number | null
  capped: number
  forks: number
  deleted_at: number | null
}

const COLUMNS =
  'head, tail, count, bytes, created_at, active_at, closed, expires_at, forked_from, forked_at, meta, open_run, open_run_from, capped, forks, deleted_at'

function stateOf(row: LogRow): LogState {
  const state: LogState = {
    head: row.head,
    tail: row.tail,
    count: row.count,
    bytes: row.bytes,
    createdAt: row.created_at,
    activeAt: row.active_at,
    closed: row.closed === 1,
    forks: row.forks,
    meta: row.meta,
  }
  if (row.capped === 0) state.capped = false
  if (row.deleted_at !== null) state.deletedAt = row.deleted_at
  if (row.expires_at !== null) state.expiresAt = row.expires_at
  if (row.forked_from !== null) state.forkedFrom = { log: row.forked_from, at: row.forked_at ?? 0 }
  if (row.open_run !== null) state.openRun = { id: row.open_run, from: row.open_run_from ?? 0 }
  return state
}

/** A copy the caller may change: the cache's own objects never leave it. */
export function copyState(state: LogState): LogState {
  const copy = { ...state }
  if (state.openRun) copy.openRun = { ...state.openRun }
  return copy
}

/** Reads and writes `logs` rows. Every write goes through here, so the backend's cache of them stays the truth. */
export class LogRows {
  readonly #select: Statement<LogRow, [string]>
  readonly #insert: Statement
  readonly #addMerged: Statement
  readonly #updateActivity: Statement
  readonly #updateRun: Statement
  readonly #updateCounts: Statement
  readonly #setMeta: Statement
  readonly #touch: Statement
  readonly #delete: Statement
  readonly #setForks: Statement
  readonly #softDelete: Statement

  constructor(db: Database) {
    this.#select = db.prepare(`SELECT ${COLUMNS} FROM logs WHERE id = ?`)
    this.#insert = db.prepare(`INSERT INTO logs (id, ${COLUMNS}) VALUES (${Array(17).fill('?').join(', ')})`)
    this.#addMerged = db.prepare('UPDATE logs SET head = max(head, ?), count = count + ?, bytes = bytes + ? WHERE id = ?')
    this.#updateActivity = db.prepare('UPDATE logs SET active_at = ? WHERE id = ?')
    this.#updateRun = db.prepare('UPDATE logs SET closed = ?, open_run = ?, open_run_from = ? WHERE id = ?')
    this.#updateCounts = db.prepare('UPDATE logs SET tail = ?, count = ?, bytes = ? WHERE id = ?')
    this.#setMeta = db.prepare('UPDATE logs SET meta = ? WHERE id = ?')
    this.#touch = db.prepare('UPDATE logs SET active_at = ?, expires_at = ? WHERE id = ?')
    this.#delete = db.prepare('DELETE FROM logs WHERE id = ?')
    this.#setForks = db.prepare('UPDATE logs SET forks = ? WHERE id = ?')
    this.#softDelete = db.prepare('UPDATE logs SET deleted_at = ?, expires_at = NULL WHERE id = ?')
  }

  read(log: LogId): LogState | undefined {
    const row = this.#select.get(log)
    return row ? stateOf(row) : undefined
  }

  insert(log: LogId, s: LogState): void {
    this.#insert.run(
      log,
      s.head,
      s.tail,
      s.count,
      s.bytes,
      s.createdAt,
      s.activeAt,
      s.closed ? 1 : 0,
      s.expiresAt ?? null,
      s.forkedFrom?.log ?? null,
      s.forkedFrom?.at ?? null,
      s.meta,
      s.openRun?.id ?? null,
      s.openRun?.from ?? null,
      s.capped === false ? 0 : 1,
      s.forks,
      s.deletedAt ?? null,
    )
  }

  /**
   * Writes what a batch changed from `was` besides its entries: activity, the closed flag and the open run, each only
   * when it changed, so that most batches write no row of `logs` and leave its indexes alone. Head, count and bytes
   * are written as the journal merges the entries (`addMerged`).
   */
  updateAfterAppend(log: LogId, s: LogState, was: LogState): void {
    if (s.activeAt !== was.activeAt) this.#updateActivity.run(s.activeAt, log)
    if (s.closed !== was.closed || s.openRun?.id !== was.openRun?.id || s.openRun?.from !== was.openRun?.from) {
      this.#updateRun.run(s.closed ? 1 : 0, s.openRun?.id ?? null, s.openRun?.from ?? null, log)
    }
  }

  /** Counts entries the journal's merge moved into `entries`: the newest seq among them, how many, their bytes. */
  addMerged(log: LogId, head: number, count: number, bytes: number): void {
    this.#addMerged.run(head, count, bytes, log)
  }

  /** Writes what deleting entries changes: tail, count and bytes. */
  updateCounts(log: LogId, s: LogState): void {
    this.#updateCounts.run(s.tail, s.count, s.bytes, log)
  }

  setMeta(log: LogId, meta: string): boolean {
    return this.#setMeta.run(meta, log).changes > 0
  }

  touch(log: LogId, activeAt: number, expiresAt: number | null): void {
    this.#touch.run(activeAt, expiresAt, log)
  }

  setForks(log: LogId, forks: number): void {
    this.#setForks.run(forks, log)
  }

  /** Marks the log deleted at `deletedAt` and clears its expiry (a soft delete). */
  softDelete(log: LogId, deletedAt: number): void {
    this.#softDelete.run(deletedAt, log)
  }

  delete(log: LogId): boolean {
    return this.#delete.run(log).changes > 0
  }
}
