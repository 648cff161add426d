import { readableEvent } from '../writable-value.ts'
import type { NewEvent, StoredEvent } from '../events.ts'

/** One `events` row as the store reads it back (the session is known from the query). */
export interface EventRow {
  seq: number
  type: string
  step_id: string
  ts: string
  payload: string
}

/** Envelope fields live in columns; everything else of an event is its JSON payload. */
export function payloadOf(event: NewEvent): string {
  const { type: _type, step_id: _step, ts: _ts, ...payload } = event
  return JSON.stringify(payload)
}

/** A row as an event, any value too deep to serialize replaced by a note (writable-value.ts). */
export function eventOf(sessionId: string, row: EventRow): StoredEvent {
  const event = { type: row.type, step_id: row.step_id, ts: row.ts, ...JSON.parse(row.payload), seq: row.seq, session_id: sessionId }
  return readableEvent(event, row.payload)
}
