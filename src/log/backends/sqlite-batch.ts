import type { Database, Statement } from 'bun:sqlite'
import {
  type AppendEntry,
  type AppendOutcome,
  type BatchLimits,
  refusalAt,
  type LogId,
  type LogState,
  type Refusal,
} from '../log-backend.ts'
import type { EntryJournal, EntryRow } from './sqlite-journal.ts'
import { copyState, type LogRows } from './sqlite-log-rows.ts'

/** What a committed batch changed: each log's new state, and what it added to the store's totals. */
export interface BatchResult {
  outcomes: AppendOutcome[]
  changed: Map<LogId, LogState>
  entries: number
  bytes: number
  /** The journal rows written, for `EntryJournal.committed` once the transaction has committed. */
  written: ReturnType<EntryJournal['write']>
}

/** Why `entry` may not be stored in a log in `state`, or undefined when it may. */
function refusalOf(state: LogState, entry: AppendEntry, limits: BatchLimits): Refusal | undefined {
  if (state.closed) return 'CLOSED'
  // This process is the only writer: a run has no owner from before a restart, so an open run is ownerless.
  if (entry.recovers && state.openRun?.id !== entry.run) return 'FENCED'
  if (entry.data !== null && !entry.exempt && state.bytes + entry.bytes > limits.maxLogBytes - limits.reserveBytes) return 'FULL'
  if (entry.data !== null && !entry.exempt && state.capped === false && state.count >= (limits.maxLogEntries ?? Number.POSITIVE_INFINITY))
    return 'TOO_MANY'
  return undefined
}

/** Applies a stored entry to its log's state; answers the entry's outcome. */
function apply(state: LogState, entry: AppendEntry, now: number): number {
  const before = state.head
  if (entry.data !== null) {
    state.head += 1
    state.count += 1
    state.bytes += entry.bytes
  }
  if (entry.run !== undefined && entry.opensRun) state.openRun = { id: entry.run, from: before }
  if (entry.run !== undefined && entry.closesRun && state.openRun?.id === entry.run) delete state.openRun
  if (entry.closesLog) state.closed = true
  if (entry.touch) state.activeAt = now
  return state.head
}

/**
 * One batch as one transaction (the caller wraps `write` in it): each entry checked against its log's state as the
 * entries before it left it, the entries written to the journal (sqlite-journal.ts), producer marks compared and
 * upserted, and a log's row written only for what the merge does not count (activity, closed, the open run). States
 * are worked on as copies, so a batch that fails changes no cached state.
 */
export class BatchWriter {
  readonly #rows: LogRows
  readonly #journal: EntryJournal
  readonly #load: (log: LogId) => LogState | undefined
  readonly #upsertProducer: Statement
  readonly #producer: Statement<{ value: string }, [string, string]>

  /** @param load a log's state as committed (the backend's cache, else its row); undefined for no such log. */
  constructor(db: Database, rows: LogRows, journal: EntryJournal, load: (log: LogId) => LogState | undefined) {
    this.#rows = rows
    this.#journal = journal
    this.#load = load
    this.#upsertProducer = db.prepare(
      'INSERT INTO log_producers (log, key, value) VALUES (?, ?, ?) ON CONFLICT (log, key) DO UPDATE SET value = excluded.value',
    )
    this.#producer = db.prepare('SELECT value FROM log_producers WHERE log = ? AND key = ?')
  }

  write(batch: readonly AppendEntry[], limits: BatchLimits, now: number): BatchResult {
    const states = new Map<LogId, LogState>()
    const changed = new Map<LogId, LogState>()
    const outcomes: AppendOutcome[] = []
    const rows: EntryRow[] = []
    let bytes = 0
    for (const entry of batch) {
      let state = states.get(entry.log)
      if (!state) {
        const committed = this.#load(entry.log)
        // An expired log is no log: within the transaction, so no entry lands after its expiry.
        const gone = refusalAt(committed, now)
        if (!committed || gone) {
          outcomes.push(gone ?? 'NO_LOG')
          continue
        }
        state = copyState(committed)
        states.set(entry.log, state)
      }
      const refusal = this.#stale(entry) ? 'STALE' : refusalOf(state, entry, limits)
      if (refusal) {
        outcomes.push(refusal)
        continue
      }
      outcomes.push(apply(state, entry, now))
      changed.set(entry.log, state)
      if (entry.data !== null) {
        rows.push({ log: entry.log, seq: state.head, bytes: entry.bytes, data: entry.data })
        bytes += entry.bytes
      }
      for (const mark of entry.producers ?? []) this.#upsertProducer.run(entry.log, mark.key, mark.value)
    }
    const written = this.#journal.write(rows)
    for (const [log, state] of changed) this.#rows.updateAfterAppend(log, state, this.#load(log)!)
    return { outcomes, changed, entries: rows.length, bytes, written }
  }

  /** Whether a mark's `expect` no longer holds: read in the batch's transaction, after the marks of the entries before. */
  #stale(entry: AppendEntry): boolean {
    return (entry.producers ?? []).some(
      (mark) => mark.expect !== undefined && (this.#producer.get(entry.log, mark.key)?.value ?? null) !== mark.expect,
    )
  }
}
