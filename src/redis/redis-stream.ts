import type { NewEvent, StoredEvent } from '../events.ts'
import type { Kept } from './redis-tails.ts'
import { readableEvent } from '../writable-value.ts'

/** One entry as XRANGE answers it: its id (`<seq>-0`) and its fields, `['e', <event JSON>]`. */
export type StreamEntry = [string, string[]]

/** Turns stream entries into stored events: the seq is the entry id's first part, the event the `e` field. */
export function eventsOf(sessionId: string, entries: StreamEntry[]): StoredEvent[] {
  return keptOf(sessionId, entries).map((kept) => kept.event)
}

/** The same, with the length of each event's JSON (what keeping it in memory costs; redis-tails.ts). */
export function keptOf(sessionId: string, entries: StreamEntry[]): Kept[] {
  return entries.map(([id, fields]) => {
    const json = fields[fields.indexOf('e') + 1]!
    const parsed = { ...(JSON.parse(json) as NewEvent), seq: Number.parseInt(id, 10), session_id: sessionId } as StoredEvent
    return { event: readableEvent(parsed, json), chars: json.length }
  })
}
