import { t } from 'elysia'
import { jsonSizeUpTo } from '../bounded-json.ts'
import type { StoredEvent } from '../events.ts'
import { EVENTS_PAGE_BYTES } from '../limits.ts'
import { nextTurn } from '../next-turn.ts'
import type { EventStore } from '../log/event-store.ts'

/** The most events one `GET …/events` answers. */
export const MAX_PAGE = 1000

/** `?after=&limit=` of `GET …/events`, for owners and viewers alike. */
export const EventsQuery = t.Object({
  after: t.Optional(t.Integer({ minimum: 0, error: '"after" must be a whole number of events, 0 or more.' })),
  limit: t.Optional(t.Integer({ minimum: 1, maximum: MAX_PAGE, error: `"limit" must be a whole number from 1 to ${MAX_PAGE}.` })),
})

/** What `GET …/events` answers, for the route's description (owners and viewers alike). */
export const EVENTS_ROUTE_DETAIL = {
  description:
    `The session's events after seq \`after\` (default 0), oldest first: at most \`limit\` of them (default and most ${MAX_PAGE}) ` +
    `and about ${EVENTS_PAGE_BYTES / 1024 / 1024} MiB of JSON, whichever comes first, and always at least one when there is ` +
    'one. A page may so hold fewer than `limit` events before the end: page on with `after` set to the last seq received ' +
    'until a page comes back empty.',
}

/** The first read's size in events, small while nothing is known of their size; later reads are sized from what the events read so far weighed. */
const FIRST_READ = 8

/**
 * A page of `GET …/events`: up to `limit` events after `after`, ending before the event that would take it past
 * EVENTS_PAGE_BYTES (at least one event, so that paging always moves on). The store is read in steps sized to stay
 * near the bound, with other requests served between them, so a page of big events neither loads a thousand of them
 * nor holds the event loop while it does.
 */
export async function eventsPage(store: EventStore, sessionId: string, after: number, limit: number): Promise<StoredEvent[]> {
  const page: StoredEvent[] = []
  let bytes = 0
  for (let ask = Math.min(limit, FIRST_READ); ; await nextTurn()) {
    const read = await store.read(sessionId, page.at(-1)?.seq ?? after, ask)
    for (const event of read) {
      const size = jsonSizeUpTo(event, EVENTS_PAGE_BYTES + 1)
      if (page.length > 0 && bytes + size > EVENTS_PAGE_BYTES) return page
      page.push(event)
      bytes += size
    }
    const left = limit - page.length
    if (read.length < ask || left === 0) return page
    const average = Math.max(1, bytes / page.length)
    ask = Math.max(1, Math.min(left, Math.floor((EVENTS_PAGE_BYTES - bytes) / average) + 1))
  }
}
