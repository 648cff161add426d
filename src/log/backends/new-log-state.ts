import type { LogState, NewLog } from '../log-backend.ts'

/** The state every backend gives a log it creates (or forks) at `now`: empty, its meta, closed, expiry and cap as asked. */
export function newLogState(log: NewLog, now: number): LogState {
  const state: LogState = {
    head: 0,
    tail: 0,
    count: 0,
    bytes: 0,
    createdAt: now,
    activeAt: now,
    closed: log.closed === true,
    forks: 0,
    meta: log.meta,
  }
  if (log.expiresAt !== undefined) state.expiresAt = log.expiresAt
  if (log.capped === false) state.capped = false
  return state
}

/** An entry a log is created with: its seq, its bytes, its data. */
export interface FirstEntry {
  seq: number
  bytes: number
  data: string
}

/**
 * Counts a new log's first entries (NewLog `entries`) in its state, after its head (0 for a create, the fork's `at`
 * for a fork), and answers them numbered.
 */
export function firstEntries(state: LogState, entries: readonly string[] = []): FirstEntry[] {
  return entries.map((data) => {
    const bytes = Buffer.byteLength(data)
    state.head += 1
    state.count += 1
    state.bytes += bytes
    return { seq: state.head, bytes, data }
  })
}
