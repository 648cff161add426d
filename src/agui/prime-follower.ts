import type { EventStore } from '../log/event-store.ts'
import type { AguiFollower } from './events-to-agui.ts'

/** Events read per round trip while a follower is primed. */
const PAGE = 256

/**
 * Feeds a follower that resumes at `after` the events it needs to continue as the client left off: those of the run
 * open at the cursor, from that run's first event (earlier runs are closed, and the follower keeps nothing of them).
 * Reads back from the cursor a page at a time until an event of another run, so a resume costs the length of one
 * run, not of the whole log.
 */
export async function primeFollower(store: EventStore, sessionId: string, after: number, follower: AguiFollower): Promise<void> {
  // A cursor past the head (a stale or made-up Last-Event-ID) has nothing before it that the log does not end at.
  const head = (await store.getSession(sessionId))?.last_seq ?? 0
  const until = Math.min(after, head)
  let from = until
  let runId: string | undefined
  backwards: for (let to = until; to > 0; to -= PAGE) {
    const page = (await store.read(sessionId, Math.max(0, to - PAGE), PAGE)).filter((e) => e.seq <= to)
    // Retention removes from the front: nothing is left further back.
    if (page.length === 0) break
    for (let i = page.length - 1; i >= 0; i--) {
      const event = page[i]!
      runId ??= event.step_id
      if (event.step_id !== runId) break backwards
      from = event.seq - 1
    }
  }
  for (let cursor = from; cursor < until; ) {
    const page = await store.read(sessionId, cursor, PAGE)
    for (const event of page) if (event.seq <= until) follower.prime(event)
    if (page.length === 0 || page.at(-1)!.seq >= until) break
    cursor = page.at(-1)!.seq
  }
}
