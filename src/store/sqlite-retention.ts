import type { Database } from 'bun:sqlite'
import { CLOSING_WITH_TEXT } from '../events.ts'
import { SessionBytesColumn } from './sqlite-budget.ts'
import { RUN_BOUNDARY_TYPES } from '../log/backends/sqlite-schema.ts'

/**
 * The three ways a SQLite store forgets, each a small query step; SqliteStore.prune runs them in chunks so that
 * appends and readers get the event loop between two chunks. All cut-offs are ISO 8601 strings from the store's
 * clock (`sessions.last_activity`), which compare correctly as text.
 */

/** Up to `limit` sessions with no event since before `cutoff`, oldest first. */
export function idleSessions(db: Database, cutoff: string, limit: number): string[] {
  return db
    .query<{ id: string }, [string, number]>('SELECT id FROM sessions WHERE last_activity < ? ORDER BY last_activity LIMIT ?')
    .all(cutoff, limit)
    .map((row) => row.id)
}

/**
 * Deletes sessions with their events and producer state in one transaction; returns the events deleted. Both are
 * deleted explicitly: the schema's ON DELETE CASCADE needs `PRAGMA foreign_keys`, which would cost every insert a
 * lookup.
 */
export function deleteSessions(db: Database, ids: readonly string[]): number {
  const events = db.query('DELETE FROM events WHERE session = ?')
  const producers = db.query('DELETE FROM producers WHERE session = ?')
  const session = db.query('DELETE FROM sessions WHERE id = ?')
  return db.transaction(() => {
    let deleted = 0
    for (const id of ids) {
      deleted += events.run(id).changes
      producers.run(id)
      session.run(id)
    }
    return deleted
  })()
}

/** Every session active at or after `since` (all of them when it is empty): the candidates for the cap. */
export function sessionsActiveSince(db: Database, since: string): string[] {
  return db
    .query<{ id: string }, [string]>('SELECT id FROM sessions WHERE last_activity >= ?')
    .all(since)
    .map((row) => row.id)
}

/** Deletes the session's oldest events so that at most `max` remain; returns how many it deleted. */
export function capSession(db: Database, sessionId: string, max: number): number {
  const span = db
    .query<{ lo: number | null; hi: number | null }, [string]>(
      `SELECT (SELECT MIN(seq) FROM events WHERE session = ?1) AS lo, (SELECT MAX(seq) FROM events WHERE session = ?1) AS hi`,
    )
    .get(sessionId)
  // Seqs are unique, so a span no wider than `max` cannot hold more than `max` events: two index probes settle
  // most sessions. Compaction leaves holes, so a wider span still has to count.
  if (!span || span.lo === null || span.hi === null || span.hi - span.lo + 1 <= max) return 0
  const newestDropped = db
    .query<{ seq: number }, [string, number]>('SELECT seq FROM events WHERE session = ? ORDER BY seq DESC LIMIT 1 OFFSET ?')
    .get(sessionId, max)
  if (!newestDropped) return 0
  return db.transaction(() => {
    new SessionBytesColumn(db).subtract(sessionId, 'session = ? AND seq <= ?', sessionId, newestDropped.seq)
    return db.query('DELETE FROM events WHERE session = ? AND seq <= ?').run(sessionId, newestDropped.seq).changes
  })()
}

/** Up to `limit` sessions with events compaction has not seen yet and no event since before `cutoff`. */
export function sessionsToCompact(db: Database, cutoff: string, limit: number): string[] {
  return db
    .query<{ id: string }, [string, number]>("SELECT id FROM sessions WHERE state = 'active' AND last_activity < ? LIMIT ?")
    .all(cutoff, limit)
    .map((row) => row.id)
}

/**
 * Deletes the `partial` events of the session's runs that ended with `final` or `interrupt`, whose text holds the
 * whole answer, and marks the session compacted; returns how many events it deleted. Runs that ended with `error`
 * keep their partials: an `error` carries no text, and the transcript shows what was streamed before it failed.
 * Open runs keep theirs too, for crash recovery.
 */
export function compactSession(db: Database, sessionId: string): number {
  const bounds = db
    .query<{ step_id: string; type: string; seq: number }, [string]>(
      `SELECT step_id, type, seq FROM events INDEXED BY events_run_bounds WHERE session = ? AND type IN ${RUN_BOUNDARY_TYPES} ORDER BY seq`,
    )
    .all(sessionId)
  const runs = new Map<string, { from: number; end?: number }>()
  for (const { step_id, type, seq } of bounds) {
    const run = runs.get(step_id) ?? runs.set(step_id, { from: 0 }).get(step_id)!
    // The run's first `user`/`start` bounds the range from below; without them (the cap dropped them) scan from 0.
    if ((type === 'user' || type === 'start') && run.from === 0) run.from = seq
    if ((CLOSING_WITH_TEXT as readonly string[]).includes(type)) run.end = seq
  }
  const partials = "session = ? AND seq > ? AND seq < ? AND step_id = ? AND type = 'partial'"
  const deletePartials = db.query(`DELETE FROM events WHERE ${partials}`)
  const bytes = new SessionBytesColumn(db)
  return db.transaction(() => {
    let deleted = 0
    for (const [stepId, run] of runs) {
      if (run.end === undefined) continue
      bytes.subtract(sessionId, partials, sessionId, run.from, run.end, stepId)
      deleted += deletePartials.run(sessionId, run.from, run.end, stepId).changes
    }
    db.query("UPDATE sessions SET state = 'compacted' WHERE id = ?").run(sessionId)
    return deleted
  })()
}
