import type { Database } from 'bun:sqlite'
import { fitEventText } from '../events.ts'
import { CLOSING_TYPES_SQL, RUN_BOUNDARY_TYPES } from '../log/backends/sqlite-schema.ts'

/** A run that a crash left without its closing event, and the text it had streamed. */
export interface OpenRun {
  sessionId: string
  stepId: string
  /** Its `partial` deltas joined in seq order. */
  text: string
}

/**
 * Every run (a step id within a session) that has a `user` or `start` event but no `final`, `interrupt` or
 * `error`, oldest first within a session. A run with a `user` but no `start` counts: the crash came after the
 * message was stored and before the step began, and the reader deserves an ended run rather than a message that
 * is never answered. Reads the run-boundary index, not every `partial`.
 */
export function findOpenRuns(db: Database): OpenRun[] {
  const runs = db
    .query(
      `SELECT session, step_id, MIN(seq) AS first_seq FROM events
       WHERE type IN ${RUN_BOUNDARY_TYPES}
       GROUP BY session, step_id
       HAVING SUM(type IN ${CLOSING_TYPES_SQL}) = 0
       ORDER BY session, first_seq`,
    )
    .all() as { session: string; step_id: string; first_seq: number }[]
  const deltas = db.prepare<{ delta: string }, [string, number, string]>(
    `SELECT json_extract(payload, '$.delta') AS delta FROM events
     WHERE session = ? AND seq > ? AND step_id = ? AND type = 'partial' ORDER BY seq`,
  )
  return runs.map((run) => ({
    sessionId: run.session,
    stepId: run.step_id,
    text: fitEventText(
      deltas
        .all(run.session, run.first_seq, run.step_id)
        .map((row) => row.delta)
        .join(''),
    ),
  }))
}
