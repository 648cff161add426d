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
