import type { LogId, LogState } from '../log-backend.ts'
import type { EntryJournal } from './sqlite-journal.ts'
import type { LogRows } from './sqlite-log-rows.ts'

/**
 * The committed state of the logs the SQLite backend read or wrote lately, kept in memory: the truth, since no other
 * process writes (sqlite-lock.ts), so `state()` and each batch read no row for a log they know. Past `max` logs the
 * cache is dropped and refilled on demand, a primary-key lookup each, so it never grows with every log there was.
 */
export class LogStates {
  readonly #states = new Map<LogId, LogState>()

  constructor(
    private readonly rows: LogRows,
    private readonly journal: EntryJournal,
    private readonly max: number,
  ) {}

  /** The log's committed state, cached or read from its row; undefined for no such log. Change it only as committed. */
  get(log: LogId): LogState | undefined {
    const cached = this.#states.get(log)
    if (cached) return cached
    const state = this.rows.read(log)
    if (!state) return undefined
    // The row counts the entries in `entries`; the journal adds those it still holds.
    const pending = this.journal.pendingOf(log)
    if (pending) {
      state.head = Math.max(state.head, pending.head)
      state.count += pending.count
      state.bytes += pending.bytes
    }
    this.set(log, state)
    return state
  }

  /** Records the log's state as just committed. */
  set(log: LogId, state: LogState): void {
    if (this.#states.size >= this.max && !this.#states.has(log)) this.#states.clear()
    this.#states.set(log, state)
  }

  delete(log: LogId): void {
    this.#states.delete(log)
  }
}
