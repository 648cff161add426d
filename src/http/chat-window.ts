import type { StoredEvent } from '../events.ts'
import { PAGE_EVENT_BYTES } from '../limits.ts'
import type { EventStore } from '../log/event-store.ts'

/** The part of a chat a page shows at once. */
export interface ChatWindow {
  /** Whole turns, ascending. */
  events: StoredEvent[]
  /** Where the earlier part ends (its events have smaller seqs); undefined when the window reaches the log's start. */
  earlierBefore?: number
}

/**
 * Whether `events[i]` begins a turn: a user's message (its run shares its step id), or the `start` of a run no
 * message began (a published run), which only the event before it can tell.
 */
function beginsTurn(events: readonly StoredEvent[], i: number): boolean {
  const event = events[i]!
  if (event.type === 'user') return true
  return event.type === 'start' && i > 0 && events[i - 1]!.step_id !== event.step_id
}

/**
 * The newest events before `before`, at most `maxBytes` of them (src/limits.ts), starting at the first entry that
 * begins within them, so no run is shown in part; the events cut off come with the earlier part. A single run
 * larger than the bound is the exception: it is shown from where the bound falls.
 */
export async function chatWindow(
  store: EventStore,
  sessionId: string,
  before = Number.MAX_SAFE_INTEGER,
  maxBytes = PAGE_EVENT_BYTES,
): Promise<ChatWindow> {
  const events = await store.readBefore(sessionId, before, maxBytes)
  if (events.length === 0) return { events }
  const oldest = (await store.read(sessionId, 0, 1))[0]
  if (oldest === undefined || events[0]!.seq <= oldest.seq) return { events }
  const cut = Math.max(
    0,
    events.findIndex((_, i) => beginsTurn(events, i)),
  )
  return { events: events.slice(cut), earlierBefore: events[cut]!.seq }
}
