import type { StoredEvent } from '../events.ts'

export interface RedisTailsOptions {
  /** Newest events kept per session; default 32. */
  perSession?: number
  /** Sessions kept, the least recently touched dropped first; default 4096. */
  sessions?: number
  /** What all kept events may hold at most, in characters of JSON; default 32 Mi. */
  maxChars?: number
}

/** An event kept, and the length of its JSON: what keeping it costs, roughly. */
export interface Kept {
  event: StoredEvent
  chars: number
}

/** An event bigger than this is not kept (an agent's state may be a megabyte): readers of it go to Redis. */
const MAX_KEPT_EVENT_CHARS = 64 * 1024

/** What `track` hands out, and `heard`/`add` check: the tail as it was when the request was sent. */
export type Ticket = object

interface Tail {
  /**
   * The session's seq as Redis last said it (an append's answer, a head look-up), raised by every wake message since;
   * undefined until Redis has said it, since wake messages alone cannot tell whether an earlier one was missed.
   */
  head: number | undefined
  /** The highest seq seen in wake messages before the head was known. */
  floor: number
  /** Contiguous seqs, oldest first; may end before `head` when another instance appended since. */
  events: Kept[]
  /** The sum of the kept events' `chars`. */
  chars: number
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
  readonly #maxChars: number
  /** The sum of every tail's `chars`. */
  #chars = 0

  constructor(options: RedisTailsOptions = {}) {
    this.#perSession = options.perSession ?? 32
    this.#sessions = options.sessions ?? 4096
    this.#maxChars = options.maxChars ?? 32 * 1024 * 1024
  }

  /**
   * Starts (or keeps) tracking a session: call before sending Redis a request, and give its answer to `heard`/`add`
   * with the ticket returned. An answer is taken only if the session was tracked all along since: had it been
   * forgotten or evicted meanwhile, a wake message could have come and gone untracked, and the answer, older than
   * that message, would lower the head.
   */
  track(sessionId: string): Ticket {
    const tail = this.#tails.get(sessionId) ?? { head: undefined, floor: 0, events: [], chars: 0 }
    // Re-inserting moves the session to the end of the Map's order, which makes the Map an LRU list.
    this.#tails.delete(sessionId)
    this.#tails.set(sessionId, tail)
    this.#evict()
    return tail
  }

  /** The session's head as far as this instance knows, or undefined when it must be asked of Redis. */
  head(sessionId: string): number | undefined {
    return this.#tails.get(sessionId)?.head
  }

  /** Redis said the session's head was `seq` (an append's seq, a look-up), answering the request of `ticket`. */
  heard(sessionId: string, ticket: Ticket, seq: number): void {
    const tail = this.#tails.get(sessionId)
    if (tail === ticket) tail.head = Math.max(seq, tail.floor, tail.head ?? 0)
  }

  /** A wake message said the session reached `seq`; ignored for a session not tracked. */
  woken(sessionId: string, seq: number): void {
    const tail = this.#tails.get(sessionId)
    if (!tail) return
    if (tail.head === undefined) tail.floor = Math.max(tail.floor, seq)
    else tail.head = Math.max(tail.head, seq)
  }

  /**
   * Keeps events of one session read from or appended to Redis, in seq order, with the length of each one's JSON
   * (what it costs to keep), answering the request of `ticket`.
   */
  add(sessionId: string, ticket: Ticket, events: readonly Kept[]): void {
    const tail = this.#tails.get(sessionId)
    if (tail !== ticket) return
    for (const kept of events) {
      const last = tail.events.at(-1)?.event
      if (last && kept.event.seq <= last.seq) continue
      this.woken(sessionId, kept.event.seq)
      // A gap (another instance's events not read yet), or an event too big to keep, starts the kept run over: it
      // must stay contiguous.
      if ((last && kept.event.seq !== last.seq + 1) || kept.chars > MAX_KEPT_EVENT_CHARS) this.#drop(tail, tail.events.length)
      if (kept.chars > MAX_KEPT_EVENT_CHARS) continue
      tail.events.push(kept)
      tail.chars += kept.chars
      this.#chars += kept.chars
    }
    // Trim in chunks so a busy session costs one splice per `perSession` events, not one shift per event.
    if (tail.events.length >= this.#perSession * 2) this.#drop(tail, tail.events.length - this.#perSession)
    this.#evict()
  }

  /**
   * The events after `after`, at most `limit`, when what is kept reaches from `after` to the known head (nothing
   * newer is known to exist); otherwise undefined, and the caller reads Redis.
   */
  read(sessionId: string, after: number, limit: number): StoredEvent[] | undefined {
    const tail = this.#tails.get(sessionId)
    const first = tail?.events[0]?.event
    if (!tail || !first || after < first.seq - 1 || tail.events.at(-1)!.event.seq !== tail.head) return undefined
    const start = after - first.seq + 1
    return tail.events.slice(start, start + limit).map((kept) => kept.event)
  }

  /** Forgets a session: it was pruned or trimmed, or its head is no longer known for sure. */
  forget(sessionId: string): void {
    const tail = this.#tails.get(sessionId)
    if (tail) this.#chars -= tail.chars
    this.#tails.delete(sessionId)
  }

  /** Forgets everything: wake messages may have been missed (the subscription was lost). */
  clear(): void {
    this.#tails.clear()
    this.#chars = 0
  }

  /** Drops the oldest `count` kept events of a tail. */
  #drop(tail: Tail, count: number): void {
    for (const kept of tail.events.splice(0, count)) {
      tail.chars -= kept.chars
      this.#chars -= kept.chars
    }
  }

  /** Forgets the least recently used sessions while there are too many, or they keep too much. */
  #evict(): void {
    while (this.#tails.size > this.#sessions || (this.#chars > this.#maxChars && this.#tails.size > 1)) {
      this.forget(this.#tails.keys().next().value!)
    }
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
