import type { Database, Statement } from 'bun:sqlite'
import { ENVELOPE_BYTES } from './byte-budget.ts'

/**
 * A row's bytes as byte-budget.ts's `eventBytes` counts the event: its payload and envelope, in UTF-8. `octet_length`
 * reads the length from the record header, not the value, so summing it does not load large payloads.
 */
export const ROW_BYTES_SQL = `(octet_length(payload) + octet_length(type) + octet_length(step_id) + octet_length(ts) + ${ENVELOPE_BYTES})`

/**
 * `sessions.bytes` counts the bytes of a session's rows in `events` (not the journal's): the journal's merge adds
 * what it moves in the same transaction, and retention subtracts what it deletes. So a chat's budget survives a
 * restart with one primary-key read, never a scan of its events.
 */
export class SessionBytesColumn {
  readonly #select: Statement<{ bytes: number }, [string]>
  readonly #add: Statement<unknown, [number, string]>

  constructor(private readonly db: Database) {
    this.#select = db.prepare('SELECT bytes FROM sessions WHERE id = ?')
    this.#add = db.prepare('UPDATE sessions SET bytes = bytes + ? WHERE id = ?')
  }

  /** The bytes of the session's merged events; 0 for an unknown session. */
  merged(sessionId: string): number {
    return this.#select.get(sessionId)?.bytes ?? 0
  }

  /** Adds (or, negative, subtracts) bytes; call inside the transaction that moves or deletes the rows. */
  add(sessionId: string, bytes: number): void {
    if (bytes !== 0) this.#add.run(bytes, sessionId)
  }

  /** Subtracts the bytes of the session's rows that `where` (over `events`) selects; call before deleting them. */
  subtract(sessionId: string, where: string, ...params: (string | number)[]): void {
    const row = this.db
      .query<{ bytes: number | null }, (string | number)[]>(`SELECT SUM(${ROW_BYTES_SQL}) AS bytes FROM events WHERE ${where}`)
      .get(...params)
    this.add(sessionId, -(row?.bytes ?? 0))
  }
}

/** Counts the journal rows that a replay is about to move into `events` (those not there already, after a crash mid-merge). */
export const REPLAY_BYTES_SQL = `UPDATE sessions SET bytes = bytes + (
  SELECT COALESCE(SUM(${ROW_BYTES_SQL}), 0) FROM journal AS j
  WHERE j.session = sessions.id AND NOT EXISTS (SELECT 1 FROM events AS e WHERE e.session = j.session AND e.seq = j.seq)
) WHERE id IN (SELECT DISTINCT session FROM journal)`
