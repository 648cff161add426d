import { DEFAULT_COMPACT_AFTER_MS, DEFAULT_MAX_EVENTS_PER_SESSION, DEFAULT_RETENTION_MS } from '../defaults.ts'

/** How long a durable store keeps sessions and events (the `--retention` and `--max-events-per-session` flags). */
export interface RetentionPolicy {
  /** Sessions without a new event for this long are deleted with their events; milliseconds, default 30 days. */
  idleMs: number
  /** The newest this many events of a session are kept and older ones deleted; events, default 100,000. */
  maxEventsPerSession: number
  /**
   * A session quiet for this long loses the `partial` events of its runs that ended with `final` or `interrupt`
   * (their text is in that closing event); milliseconds, default 1 hour. The delay lets a reader that was
   * streaming the run finish it before its cursor would land in a compacted range and get a `reset`.
   */
  compactAfterMs: number
}

/** What one prune pass removed. */
export interface PruneReport {
  sessionsDeleted: number
  /** Events deleted with the idle sessions. */
  eventsDeleted: number
  /** Oldest events deleted to keep sessions under the cap. */
  eventsCapped: number
  /** `partial` events deleted from finished runs. */
  partialsCompacted: number
}

export const emptyPruneReport = (): PruneReport => ({ sessionsDeleted: 0, eventsDeleted: 0, eventsCapped: 0, partialsCompacted: 0 })

const DAY = 24 * 60 * 60 * 1000

export const DEFAULT_RETENTION_POLICY: Readonly<RetentionPolicy> = {
  idleMs: DEFAULT_RETENTION_MS,
  maxEventsPerSession: DEFAULT_MAX_EVENTS_PER_SESSION,
  compactAfterMs: DEFAULT_COMPACT_AFTER_MS,
}

const UNIT_MS = new Map([
  ['s', 1000],
  ['m', 60 * 1000],
  ['h', 60 * 60 * 1000],
  ['d', DAY],
])

/**
 * Reads a duration like `30d`, `12h`, `90m` or `45s` into milliseconds; undefined when it is not one (a bare number
 * is refused: `30` could mean any unit).
 */
export function parseDuration(raw: string): number | undefined {
  const match = /^(\d{1,9})([smhd])$/.exec(raw.trim())
  if (!match) return undefined
  return Number(match[1]) * UNIT_MS.get(match[2]!)!
}
