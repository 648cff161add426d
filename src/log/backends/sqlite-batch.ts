import type { Database, Statement } from 'bun:sqlite'
import type { AppendEntry, AppendOutcome, BatchLimits, LogId, LogState, Refusal } from '../log-backend.ts'
import { copyState, type LogRows } from './sqlite-log-rows.ts'

/** What a committed batch changed: each log's new state, and what it added to the store's totals. */
export interface BatchResult {
  outcomes: AppendOutcome[]
  changed: Map<LogId, LogState>
  entries: number
  bytes: number
}

/**
 * Entry rows per INSERT statement: one statement per row spent more time crossing from JavaScript into SQLite than in
 * SQLite (bench/sqlite-layout.ts). 100 rows are 300 parameters, far below SQLite's limit of 32,766.
 */
const ROWS_PER_INSERT = 100

/** Why `entry` may not be stored in a log in `state`, or undefined when it may. */
function refusalOf(state: LogState, entry: AppendEntry, limits: BatchLimits): Refusal | undefined {
  if (state.closed) return 'CLOSED'
  // This process is the only writer: a run has no owner from before a restart, so an open run is ownerless.
  if (entry.recovers && state.openRun?.id !== entry.run) return 'FENCED'
  if (entry.data !== null && !entry.exempt && state.bytes + entry.bytes > limits.maxLogBytes - limits.reserveBytes) return 'FULL'
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
 * entries before it left it, the entries inserted into `entries` (clustered by (log, seq)), producer marks upserted,
 * each touched log's row written once. States are worked on as copies, so a batch that fails changes no cached state.
 */
export class BatchWriter {
  readonly #db: Database
  readonly #rows: LogRows
  readonly #load: (log: LogId) => LogState | undefined
  readonly #inserts = new Map<number, Statement>()
  readonly #upsertProducer: Statement

  /** @param load a log's state as committed (the backend's cache, else its row); undefined for no such log. */
  constructor(db: Database, rows: LogRows, load: (log: LogId) => LogState | undefined) {
    this.#db = db
    this.#rows = rows
    this.#load = load
    this.#upsertProducer = db.prepare(
      'INSERT INTO log_producers (log, key, value) VALUES (?, ?, ?) ON CONFLICT (log, key) DO UPDATE SET value = excluded.value',
    )
  }

  write(batch: readonly AppendEntry[], limits: BatchLimits, now: number): BatchResult {
    const states = new Map<LogId, LogState>()
    const changed = new Map<LogId, LogState>()
    const outcomes: AppendOutcome[] = []
    const rows: (string | number)[] = []
    let bytes = 0
    for (const entry of batch) {
      let state = states.get(entry.log)
      if (!state) {
        const committed = this.#load(entry.log)
        if (!committed) {
          outcomes.push('NO_LOG')
          continue
        }
        state = copyState(committed)
        states.set(entry.log, state)
      }
      const refusal = refusalOf(state, entry, limits)
      if (refusal) {
        outcomes.push(refusal)
        continue
      }
      outcomes.push(apply(state, entry, now))
      changed.set(entry.log, state)
      if (entry.data !== null) {
        rows.push(entry.log, state.head, entry.bytes, entry.data)
        bytes += entry.bytes
      }
      if (entry.producer) this.#upsertProducer.run(entry.log, entry.producer.key, entry.producer.value)
    }
    this.#insertRows(rows)
    for (const [log, state] of changed) this.#rows.updateAfterAppend(log, state)
    return { outcomes, changed, entries: rows.length / 4, bytes }
  }

  #insertRows(values: (string | number)[]): void {
    const perRow = 4
    for (let i = 0; i < values.length; i += ROWS_PER_INSERT * perRow) {
      const chunk = values.slice(i, i + ROWS_PER_INSERT * perRow)
      this.#insertStatement(chunk.length / perRow).run(...chunk)
    }
  }

  #insertStatement(rows: number): Statement {
    let statement = this.#inserts.get(rows)
    if (!statement) {
      statement = this.#db.prepare(`INSERT INTO entries (log, seq, bytes, data) VALUES ${Array(rows).fill('(?, ?, ?, ?)').join(', ')}`)
      this.#inserts.set(rows, statement)
    }
    return statement
  }
}
