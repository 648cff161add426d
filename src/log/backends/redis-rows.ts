import type { AppendEntry, LogEntry, LogState } from '../log-backend.ts'

/** How the Redis log backend's values are written in Redis and read back: pure functions (redis-keys.ts has the keys). */

/** One entry as XRANGE answers it: its id (`<seq>-0`) and its fields, `['d', <data>]`. */
export type StreamEntry = [string, string[]]

/** An entry's flags, one letter each, as APPEND reads them. */
export function flagsOf(entry: AppendEntry): string {
  let flags = entry.data === null ? 'n' : ''
  if (entry.exempt) flags += 'x'
  if (entry.opensRun) flags += 'o'
  if (entry.closesRun) flags += 'c'
  if (entry.fenced) flags += 'f'
  if (entry.recovers) flags += 'r'
  if (entry.closesLog) flags += 'L'
  if (entry.touch) flags += 't'
  return flags
}

/** An entry's producer marks as APPEND reads them: their number, then key, value, kind and expected value each. */
export function marksOf(entry: AppendEntry): string[] {
  const marks = entry.producers ?? []
  const args = [String(marks.length)]
  for (const { key, value, expect } of marks) {
    args.push(key, value, expect === undefined ? '-' : expect === null ? '0' : '=', expect ?? '')
  }
  return args
}

/** Epoch milliseconds in 16 digits: the activity index's members sort by them as text. */
export const padded = (ms: number) => String(Math.max(0, Math.trunc(ms))).padStart(16, '0')

export function stateOf(fields: Record<string, string>): LogState {
  const state: LogState = {
    head: Number(fields.head),
    tail: Number(fields.tail),
    count: Number(fields.count),
    bytes: Number(fields.bytes),
    createdAt: Number(fields.created_at),
    activeAt: Number(fields.active_at),
    closed: fields.closed === '1',
    // Absent in a log written before forks were counted: none known.
    forks: Number(fields.forks ?? 0),
    meta: fields.meta ?? '',
  }
  if (fields.capped === '0') state.capped = false
  if (fields.deleted_at !== undefined) state.deletedAt = Number(fields.deleted_at)
  if (fields.expires_at !== undefined) state.expiresAt = Number(fields.expires_at)
  if (fields.forked_from !== undefined) state.forkedFrom = { log: fields.forked_from, at: Number(fields.forked_at) }
  if (fields.open_run !== undefined) state.openRun = { id: fields.open_run, from: Number(fields.run_from) }
  return state
}

export const entriesOf = (entries: StreamEntry[] | null): LogEntry[] =>
  (entries ?? []).map(([id, fields]) => ({ seq: Number.parseInt(id, 10), data: fields[fields.indexOf('d') + 1]! }))
