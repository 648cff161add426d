import type { StoredEvent } from '../events.ts'

export interface RecentEventsOptions {
  /** Newest committed events kept per session; events, default 32. */
  perSession?: number
  /** Sessions kept, the least recently written dropped first; default 4096. */
  sessions?: number
  /** Bytes of events kept in all, as stored; the least recently written sessions dropped first; default 32 MiB. */
  maxBytes?: number
}

interface Tail {
  events: StoredEvent[]
  /** The bytes of each of `events`, index for index. */
  sizes: number[]
  bytes: number
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
  readonly #tails = new Map<string, Tail>()
  readonly #perSession: number
  readonly #sessions: number
  readonly #maxBytes: number
  #bytes = 0

  constructor(options: RecentEventsOptions = {}) {
    this.#perSession = options.perSession ?? 32
    this.#sessions = options.sessions ?? 4096
    this.#maxBytes = options.maxBytes ?? 32 * 1024 * 1024
  }

  /**
   * Records committed events, in commit order.
   * @param sizes the bytes each event takes as stored, index for index (an event of 6 MiB is as legal as one of 60).
   */
  add(events: readonly StoredEvent[], sizes: readonly number[]): void {
    events.forEach((event, i) => {
      const tail = this.#tails.get(event.session_id) ?? { events: [], sizes: [], bytes: 0 }
      // Re-inserting moves the session to the end of the Map's order, which makes the Map an LRU list.
      this.#tails.delete(event.session_id)
      const size = sizes[i]!
      tail.events.push(event)
      tail.sizes.push(size)
      tail.bytes += size
      this.#bytes += size
      // Trim in chunks so a busy session costs one splice per `perSession` events, not one shift per event.
      if (tail.events.length >= this.#perSession * 2) this.#trim(tail, tail.events.length - this.#perSession)
      this.#tails.set(event.session_id, tail)
    })
    for (const [oldest, tail] of this.#tails) {
      if (this.#tails.size <= this.#sessions && this.#bytes <= this.#maxBytes) break
      this.#drop(oldest, tail)
    }
  }

  /** The events after `after`, at most `limit`, if what is kept reaches back to `after`; otherwise undefined. */
  read(sessionId: string, after: number, limit: number): StoredEvent[] | undefined {
    const tail = this.#tails.get(sessionId)?.events
    if (!tail || after < tail[0]!.seq - 1) return undefined
    const start = after - tail[0]!.seq + 1
    return tail.slice(start, start + limit)
  }

  /** Drops sessions whose stored log changed under it (retention deleted or compacted events). */
  forget(sessionIds: Iterable<string>): void {
    for (const id of sessionIds) {
      const tail = this.#tails.get(id)
      if (tail) this.#drop(id, tail)
    }
  }

  /** The bytes of all events kept. */
  get bytes(): number {
    return this.#bytes
  }

  #trim(tail: Tail, count: number): void {
    tail.events.splice(0, count)
    const freed = tail.sizes.splice(0, count).reduce((sum, size) => sum + size, 0)
    tail.bytes -= freed
    this.#bytes -= freed
  }

  #drop(sessionId: string, tail: Tail): void {
    this.#tails.delete(sessionId)
    this.#bytes -= tail.bytes
  }
}
