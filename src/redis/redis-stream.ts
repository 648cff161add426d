import type { NewEvent, StoredEvent } from '../events.ts'

/** One entry as XRANGE answers it: its id (`<seq>-0`) and its fields, `['e', <event JSON>]`. */
export type StreamEntry = [string, string[]]

/** Turns stream entries into stored events: the seq is the entry id's first part, the event the `e` field. */
export function eventsOf(sessionId: string, entries: StreamEntry[]): StoredEvent[] {
  return entries.map(([id, fields]) => {
    const event = JSON.parse(fields[fields.indexOf('e') + 1]!) as NewEvent
    return { ...event, seq: Number.parseInt(id, 10), session_id: sessionId } as StoredEvent
  })
}
