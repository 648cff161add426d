import type { StoredEvent } from '../events.ts'

export interface RedisTailsOptions {
  /** Newest events kept per session; default 32. */
  perSession?: number
  /** Sessions kept, the least recently touched dropped first; default 4096. */
  sessions?: number
}

interface Tail {
  /**
   * The session's seq as Redis last said it (an append's answer, a head look-up), raised by every wake message since;
   * undefined until Redis has said it, since wake messages alone cannot tell whether an earlier one was missed.
   */
  head: number | undefined
  /** The highest seq seen in wake messages before the head was known. */
  floor: number
  /** Contiguous seqs, oldest first; may end before `head` when another instance appended since. */
  events: StoredEvent[]
}

/**
 * What this instance knows of each session's newest events, so that a live stream woken by an append is answered
 * from memory instead of Redis. Without it every token cost each instance three round trips (the append, a head
 * look-up per waiting stream, an XRANGE per woken stream), and one instance on Redis kept about half of SQLite's
 * events/s (bench/redis-scale.ts).
 *
 * A session is tracked from before the first request that asks Redis about it, so no wake message published after
 * Redis answered can slip past: the known head may lag behind Redis (another instance's message still on its way,
 * which then updates it and wakes the reader) but is never wrong. A read is answered here only when the kept events
 * reach from the reader's cursor to that head. Whatever could make it wrong — a lost subscription, a pruned or
 * trimmed session, a wake message that carries no seq — forgets it, and the next request asks Redis again.
 */
export class RedisTails {
  readonly #tails = new Map<string, Tail>()
  readonly #perSession: number
  readonly #sessions: number

  constructor(options: RedisTailsOptions = {}) {
    this.#perSession = options.perSession ?? 32
    this.#sessions = options.sessions ?? 4096
  }

  /** Starts (or keeps) tracking a session: call before sending Redis a request whose answer is given to `heard`/`add`. */
  track(sessionId: string): void {
    const tail = this.#tails.get(sessionId) ?? { head: undefined, floor: 0, events: [] }
    // Re-inserting moves the session to the end of the Map's order, which makes the Map an LRU list.
    this.#tails.delete(sessionId)
    this.#tails.set(sessionId, tail)
    if (this.#tails.size > this.#sessions) this.#tails.delete(this.#tails.keys().next().value!)
  }

  /** The session's head as far as this instance knows, or undefined when it must be asked of Redis. */
  head(sessionId: string): number | undefined {
    return this.#tails.get(sessionId)?.head
  }

  /** Redis said the session's head was `seq` (an append's seq, a look-up); ignored for a session not tracked. */
  heard(sessionId: string, seq: number): void {
    const tail = this.#tails.get(sessionId)
    if (tail) tail.head = Math.max(seq, tail.floor, tail.head ?? 0)
  }

  /** A wake message said the session reached `seq`; ignored for a session not tracked. */
  woken(sessionId: string, seq: number): void {
    const tail = this.#tails.get(sessionId)
    if (!tail) return
    if (tail.head === undefined) tail.floor = Math.max(tail.floor, seq)
    else tail.head = Math.max(tail.head, seq)
  }

  /** Keeps events of one session read from or appended to Redis, in seq order; ignored for a session not tracked. */
  add(sessionId: string, events: readonly StoredEvent[]): void {
    const tail = this.#tails.get(sessionId)
    if (!tail) return
    for (const event of events) {
      const last = tail.events.at(-1)
      if (last && event.seq <= last.seq) continue
      // A gap (another instance's events not read yet) starts the kept run over: it must stay contiguous.
      if (last && event.seq !== last.seq + 1) tail.events = []
      tail.events.push(event)
      this.woken(sessionId, event.seq)
    }
    // Trim in chunks so a busy session costs one splice per `perSession` events, not one shift per event.
    if (tail.events.length >= this.#perSession * 2) tail.events.splice(0, tail.events.length - this.#perSession)
  }

  /**
   * The events after `after`, at most `limit`, when what is kept reaches from `after` to the known head (nothing
   * newer is known to exist); otherwise undefined, and the caller reads Redis.
   */
  read(sessionId: string, after: number, limit: number): StoredEvent[] | undefined {
    const tail = this.#tails.get(sessionId)
    const first = tail?.events[0]
    if (!tail || !first || after < first.seq - 1 || tail.events.at(-1)!.seq !== tail.head) return undefined
    const start = after - first.seq + 1
    return tail.events.slice(start, start + limit)
  }

  /** Forgets a session: it was pruned or trimmed, or its head is no longer known for sure. */
  forget(sessionId: string): void {
    this.#tails.delete(sessionId)
  }

  /** Forgets everything: wake messages may have been missed (the subscription was lost). */
  clear(): void {
    this.#tails.clear()
  }
}

/**
 * A wake message: a line `<session id> <seq>` per session an append batch reached, or a bare session id (pruned,
 * trimmed, or woken without news).
 */
export function parseWake(message: string): { sessionId: string; seq?: number }[] {
  return message.split('\n').map((line) => {
    const space = line.lastIndexOf(' ')
    if (space < 0) return { sessionId: line }
    const seq = Number(line.slice(space + 1))
    const sessionId = line.slice(0, space)
    return Number.isSafeInteger(seq) && seq > 0 ? { sessionId, seq } : { sessionId }
  })
}
