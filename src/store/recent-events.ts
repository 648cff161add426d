import type { StoredEvent } from '../events.ts'

export interface RecentEventsOptions {
  /** Newest committed events kept per session; events, default 32. */
  perSession?: number
  /** Sessions kept, the least recently written dropped first; default 4096. */
  sessions?: number
}

/**
 * The newest committed events of recently written sessions. Live streams read right behind the head of their
 * log, and every commit wakes all of them at once: answering those reads from memory spares SQLite a query and
 * a JSON parse per reader per commit. A read that reaches further back than what is kept goes to the database.
 *
 * Each session's entry is a contiguous run of seqs ending at its newest committed event, because it only ever
 * receives events in commit order from this process, the only writer.
 */
export class RecentEvents {
  readonly #tails = new Map<string, StoredEvent[]>()
  readonly #perSession: number
  readonly #sessions: number

  constructor(options: RecentEventsOptions = {}) {
    this.#perSession = options.perSession ?? 32
    this.#sessions = options.sessions ?? 4096
  }

  /** Records committed events, in commit order. */
  add(events: readonly StoredEvent[]): void {
    for (const event of events) {
      const tail = this.#tails.get(event.session_id) ?? []
      // Re-inserting moves the session to the end of the Map's order, which makes the Map an LRU list.
      this.#tails.delete(event.session_id)
      tail.push(event)
      // Trim in chunks so a busy session costs one splice per `perSession` events, not one shift per event.
      if (tail.length >= this.#perSession * 2) tail.splice(0, tail.length - this.#perSession)
      this.#tails.set(event.session_id, tail)
    }
    for (const oldest of this.#tails.keys()) {
      if (this.#tails.size <= this.#sessions) break
      this.#tails.delete(oldest)
    }
  }

  /** The events after `after`, at most `limit`, if what is kept reaches back to `after`; otherwise undefined. */
  read(sessionId: string, after: number, limit: number): StoredEvent[] | undefined {
    const tail = this.#tails.get(sessionId)
    if (!tail || after < tail[0]!.seq - 1) return undefined
    const start = after - tail[0]!.seq + 1
    return tail.slice(start, start + limit)
  }

  /** Drops sessions whose stored log changed under it (retention deleted or compacted events). */
  forget(sessionIds: Iterable<string>): void {
    for (const id of sessionIds) this.#tails.delete(id)
  }
}
