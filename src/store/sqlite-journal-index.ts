import type { StoredEvent } from '../events.ts'

/** A committed event still in the journal, with its journal id. */
export interface JournalEntry {
  id: number
  stored: StoredEvent
}

/**
 * The serving thread's copy of the journal rows that are not yet in `events` (see sqlite-journal.ts): reads that go
 * past `events`, and the newest seq of a session, come from here. An entry is added once its batch committed and
 * dropped only once the write side says its merge committed, so `events` ∪ this always holds every committed event
 * (a row may briefly be in both: readers ask here only for seqs after the last one `events` gave them).
 */
export class JournalIndex {
  readonly #pending = new Map<string, JournalEntry[]>()

  /** Records entries whose transaction committed, in commit order. */
  committed(entries: readonly JournalEntry[]): void {
    for (const entry of entries) {
      const list = this.#pending.get(entry.stored.session_id)
      if (list) list.push(entry)
      else this.#pending.set(entry.stored.session_id, [entry])
    }
  }

  /** Drops the entries of `sessions` with id ≤ `upTo`: a merge moved them into `events`. */
  merged(sessions: readonly string[], upTo: number): void {
    for (const sessionId of sessions) {
      const list = this.#pending.get(sessionId)
      if (!list) continue
      let n = 0
      while (n < list.length && list[n]!.id <= upTo) n++
      list.splice(0, n)
      if (list.length === 0) this.#pending.delete(sessionId)
    }
  }

  /** Forgets sessions retention deleted. */
  forget(sessionIds: Iterable<string>): void {
    for (const id of sessionIds) this.#pending.delete(id)
  }

  /** The seq of the session's newest event still in the journal; undefined when it has none there. */
  lastSeq(sessionId: string): number | undefined {
    return this.#pending.get(sessionId)?.at(-1)?.stored.seq
  }

  /** The session's journal events after `after`, at most `limit`: all newer than any of its rows in `events`. */
  readAfter(sessionId: string, after: number, limit: number): StoredEvent[] {
    const list = this.#pending.get(sessionId)
    if (!list) return []
    const start = list.findIndex((entry) => entry.stored.seq > after)
    return start < 0 ? [] : list.slice(start, start + limit).map((entry) => entry.stored)
  }
}
