import type { StoredEvent } from '../events.ts'
import type { EventStore } from '../log/event-store.ts'

/** A session's whole retained log, read page by page. */
export async function readAll(store: EventStore, sessionId: string): Promise<StoredEvent[]> {
  const events: StoredEvent[] = []
  for (let page = await store.read(sessionId, 0); page.length > 0; page = await store.read(sessionId, page.at(-1)!.seq)) {
    events.push(...page)
  }
  return events
}
