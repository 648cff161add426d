import type { Database } from 'bun:sqlite'
import type { ProducerFailure, ProducerMark, ProducerState } from '../log/producer-state.ts'

/** A `producers` row as read back. */
interface ProducerRow {
  epoch: number
  seq: number
  appended: number
  closed: number
  failure: string | null
}

/** A statement that writes (inserts or replaces) a producer's state; run it inside the writer's transaction. */
export function writeProducer(db: Database): (sessionId: string, mark: ProducerMark) => void {
  const upsert = db.prepare(
    `INSERT INTO producers (session, run, producer, epoch, seq, appended, closed, failure) VALUES (?, ?, ?, ?, ?, ?, ?, ?)
     ON CONFLICT (session, run, producer) DO UPDATE SET
       epoch = excluded.epoch, seq = excluded.seq, appended = excluded.appended, closed = excluded.closed, failure = excluded.failure`,
  )
  return (sessionId, mark) => {
    const failure = mark.failure ? JSON.stringify(mark.failure) : null
    upsert.run(sessionId, mark.runId, mark.producerId, mark.epoch, mark.seq, mark.appended, mark.closed ? 1 : 0, failure)
  }
}

/** Reads of the `producers` table (sqlite-schema.ts, version 7). */
export class SqliteProducers {
  readonly #select
  readonly #count
  readonly #forget

  constructor(db: Database) {
    this.#select = db.prepare<ProducerRow, [string, string, string]>(
      'SELECT epoch, seq, appended, closed, failure FROM producers WHERE session = ? AND run = ? AND producer = ?',
    )
    this.#count = db.prepare<{ n: number }, [string]>('SELECT COUNT(*) AS n FROM producers WHERE session = ?')
    this.#forget = db.prepare<unknown, [string, string]>('DELETE FROM producers WHERE session = ? AND run <> ?')
  }

  state(sessionId: string, runId: string, producerId: string): ProducerState | undefined {
    const row = this.#select.get(sessionId, runId, producerId)
    if (!row) return undefined
    const state: ProducerState = { epoch: row.epoch, seq: row.seq, appended: row.appended, closed: row.closed === 1 }
    if (row.failure !== null) state.failure = JSON.parse(row.failure) as ProducerFailure
    return state
  }

  count(sessionId: string): number {
    return this.#count.get(sessionId)?.n ?? 0
  }

  forget(sessionId: string, keepRunId: string): void {
    this.#forget.run(sessionId, keepRunId)
  }
}
