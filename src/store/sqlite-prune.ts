import type { Database } from 'bun:sqlite'
import { emptyPruneReport, type PruneReport, type RetentionPolicy } from '../log/retention-policy.ts'
import { capSession, compactSession, deleteSessions, idleSessions, sessionsActiveSince, sessionsToCompact } from './sqlite-retention.ts'

export interface PruneHooks {
  /** Awaited before each chunk; the store merges its journal in small steps, leaving `beforeChunk` little to do. */
  catchUp: () => Promise<void>
  /**
   * Runs right before each chunk; the store commits pending appends and merges the rest of its journal, so that
   * the chunk sees every event and none is left to reach a session it deletes.
   */
  beforeChunk: () => void
  /** Called with the ids of sessions just deleted. */
  deleted: (ids: readonly string[]) => void
  /** Called with the ids of sessions that just lost some of their events (compaction, the cap). */
  changed: (ids: readonly string[]) => void
  /** False once the store is closing: the pass stops at the next chunk. */
  stillOpen: () => boolean
}

/** Sessions handled per chunk: small enough that one chunk holds the event loop for milliseconds, not seconds. */
const CHUNK = 20

/** Lets appends, commits and readers run between two chunks. */
const nextTurn = () => new Promise<void>((resolve) => setImmediate(resolve))

/**
 * One retention pass over the database: idle sessions, then compaction, then the per-session cap (for sessions
 * active since `capSince`, ISO 8601, or all of them when it is empty). Compaction goes first so that the cap
 * counts what is left and never drops old messages for the sake of partials that were about to go anyway.
 */
export async function pruneDatabase(
  db: Database,
  policy: RetentionPolicy,
  now: Date,
  capSince: string,
  hooks: PruneHooks,
): Promise<PruneReport> {
  const report = emptyPruneReport()
  const idleCutoff = new Date(now.getTime() - policy.idleMs).toISOString()
  const compactCutoff = new Date(now.getTime() - policy.compactAfterMs).toISOString()

  /** Runs `step` chunk after chunk until it reports that nothing was left to do. */
  const chunks = async (step: () => boolean) => {
    for (let more = true; more && hooks.stillOpen(); ) {
      await hooks.catchUp()
      if (!hooks.stillOpen()) break
      hooks.beforeChunk()
      more = step()
      await nextTurn()
    }
  }

  await chunks(() => {
    const ids = idleSessions(db, idleCutoff, CHUNK)
    if (ids.length === 0) return false
    report.eventsDeleted += deleteSessions(db, ids)
    report.sessionsDeleted += ids.length
    hooks.deleted(ids)
    return true
  })

  await chunks(() => {
    const ids = sessionsToCompact(db, compactCutoff, CHUNK)
    for (const id of ids) report.partialsCompacted += compactSession(db, id)
    hooks.changed(ids)
    return ids.length > 0
  })

  const candidates = sessionsActiveSince(db, capSince)
  await chunks(() => {
    const capped: string[] = []
    // Most sessions are settled by two index probes each (see capSession): take more of them per chunk.
    for (const id of candidates.splice(0, CHUNK * 5)) {
      const deleted = capSession(db, id, policy.maxEventsPerSession)
      if (deleted > 0) capped.push(id)
      report.eventsCapped += deleted
    }
    hooks.changed(capped)
    return candidates.length > 0
  })
  return report
}
