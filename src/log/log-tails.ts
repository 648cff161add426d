import { LOG_TAIL_CHARS, LOG_TAIL_ENTRIES, LOG_TAIL_ENTRY_CHARS, LOG_TAIL_LOGS } from '../limits.ts'
import type { LogEntry, LogId, LogState } from './log-backend.ts'

export interface LogTailsOptions {
  /** Newest entries kept per log; entries, default LOG_TAIL_ENTRIES (32). */
  perLog?: number
  /** Logs kept, the least recently touched dropped first; logs, default LOG_TAIL_LOGS (4,096). */
  logs?: number
  /** What all kept entries may hold, in characters of data; default LOG_TAIL_CHARS (32 Mi). */
  maxChars?: number
  /** An entry with more data than this is not kept (an agent's state may be a megabyte); characters, default LOG_TAIL_ENTRY_CHARS (64 Ki). */
  maxEntryChars?: number
}

/** What `track` hands out, and `heard`/`add` check: the tail as it was when the request was sent. */
export type Ticket = object

interface Tail {
  /**
   * The log's head as the backend last said it (an append's answer, a state look-up), raised by every remote change
   * since; undefined until the backend has said it, since remote changes alone cannot tell whether one was missed.
   */
  head: number | undefined
  /** The highest head seen in remote changes before the head was known. */
  floor: number
  /** Closed: it takes no more entries, so a reader at its head has read everything (Durable Streams' close). */
  closed: boolean
  /**
   * When the log expires (epoch milliseconds; infinity for never), as a state look-up last said it and this process's
   * touches changed it since; undefined until a look-up has said it (a log first met by an append).
   */
  expiresAt: number | undefined
  /** Contiguous seqs, oldest first; may end before `head` when another process appended since. */
  entries: LogEntry[]
  /** The sum of the kept entries' data lengths. */
  chars: number
}

/**
 * What this process knows of each log's newest entries and head, so that a live reader woken by an append is answered
 * from memory instead of the backend (every commit wakes every reader of the log at once: bench fan-out and
 * redis-scale), and so that a wait knows the head without asking.
 *
 * A log is tracked from before the first request that asks the backend about it (`track` hands out a ticket), so no
 * change made after the backend answered can slip past: the known head may lag behind the backend (another process's
 * change still on its way, which then raises it and wakes the reader) but is never wrong. A read is answered here only
 * when the kept entries reach from the reader's cursor to that head. Whatever could make it wrong — a deleted, trimmed
 * or compacted log, a remote change that carries no head — forgets the log, and the next request asks again.
 */
export class LogTails {
  readonly #tails = new Map<LogId, Tail>()
  readonly #perLog: number
  readonly #logs: number
  readonly #maxChars: number
  readonly #maxEntryChars: number
  /** The sum of every tail's `chars`. */
  #chars = 0

  constructor(options: LogTailsOptions = {}) {
    this.#perLog = options.perLog ?? LOG_TAIL_ENTRIES
    this.#logs = options.logs ?? LOG_TAIL_LOGS
    this.#maxChars = options.maxChars ?? LOG_TAIL_CHARS
    this.#maxEntryChars = options.maxEntryChars ?? LOG_TAIL_ENTRY_CHARS
  }

  /**
   * Starts (or keeps) tracking a log: call before sending the backend a request, and give its answer to `heard`/`add`
   * with the ticket returned. An answer is taken only if the log was tracked all along since: had it been forgotten or
   * evicted meanwhile, a change could have come and gone untracked, and the answer, older than it, would lower the head.
   */
  track(log: LogId): Ticket {
    const tail = this.#tails.get(log) ?? { head: undefined, floor: 0, closed: false, expiresAt: undefined, entries: [], chars: 0 }
    // Re-inserting moves the log to the end of the Map's order, which makes the Map an LRU list.
    this.#tails.delete(log)
    this.#tails.set(log, tail)
    this.#evict()
    return tail
  }

  /**
   * The ticket of a log already tracked, without tracking one that is not: a look-up of a log nobody follows (an
   * unknown id, a page load) must not push out the logs live readers follow.
   */
  peek(log: LogId): Ticket | undefined {
    return this.#tails.get(log)
  }

  /** Whether `ticket` still stands for the log's tail (it was not forgotten or evicted since). */
  holds(log: LogId, ticket: Ticket): boolean {
    return this.#tails.get(log) === ticket
  }

  /** The log's head as far as this process knows, or undefined when it must be asked of the backend. */
  head(log: LogId): number | undefined {
    return this.#tails.get(log)?.head
  }

  /**
   * The backend said the log's head was `head` — and, from a state look-up, whether it is closed and when it expires —
   * answering the request of `ticket`; false if the ticket lapsed.
   */
  heard(log: LogId, ticket: Ticket, head: number, state?: Pick<LogState, 'closed' | 'expiresAt'>): boolean {
    const tail = this.#tails.get(log)
    if (tail !== ticket) return false
    tail.head = Math.max(head, tail.floor, tail.head ?? 0)
    if (state) {
      // Closing is for good: a look-up sent before the close cannot reopen it.
      tail.closed ||= state.closed
      tail.expiresAt = state.expiresAt ?? Number.POSITIVE_INFINITY
    }
    return true
  }

  /** The log was closed (an append here, or another process's); ignored for a log not tracked. */
  closed(log: LogId): void {
    const tail = this.#tails.get(log)
    if (tail) tail.closed = true
  }

  /** Whether the log is known to be closed. */
  isClosed(log: LogId): boolean {
    return this.#tails.get(log)?.closed === true
  }

  /** This process set the log's expiry (null: never); ignored for a log not tracked. */
  expires(log: LogId, expiresAt: number | null): void {
    const tail = this.#tails.get(log)
    if (tail) tail.expiresAt = expiresAt ?? Number.POSITIVE_INFINITY
  }

  /** Whether the log's expiry is known here (a state look-up said it since the log was tracked). */
  knowsExpiry(log: LogId): boolean {
    return this.#tails.get(log)?.expiresAt !== undefined
  }

  /**
   * When the log expires as far as this process knows, if it knows both that and the head and the log is live at
   * `now`; otherwise undefined, and the caller asks the backend (which forgets nothing it was told).
   */
  liveUntil(log: LogId, now: number): number | undefined {
    const tail = this.#tails.get(log)
    if (tail?.head === undefined || tail.expiresAt === undefined || tail.expiresAt <= now) return undefined
    return tail.expiresAt
  }

  /** A change (another process's append) took the log to `head`; ignored for a log not tracked. */
  raised(log: LogId, head: number): void {
    const tail = this.#tails.get(log)
    if (!tail) return
    if (tail.head === undefined) tail.floor = Math.max(tail.floor, head)
    else tail.head = Math.max(tail.head, head)
  }

  /** Keeps entries of one log read from or appended to the backend, in seq order, answering the request of `ticket`. */
  add(log: LogId, ticket: Ticket, entries: readonly LogEntry[]): void {
    const tail = this.#tails.get(log)
    if (tail !== ticket) return
    for (const entry of entries) {
      const last = tail.entries.at(-1)
      if (last && entry.seq <= last.seq) continue
      this.raised(log, entry.seq)
      const tooBig = entry.data.length > this.#maxEntryChars
      // A gap (entries not read yet, or compacted), or an entry too big to keep, starts the kept run over: it must
      // stay contiguous.
      if ((last && entry.seq !== last.seq + 1) || tooBig) this.#drop(tail, tail.entries.length)
      if (tooBig) continue
      tail.entries.push(entry)
      tail.chars += entry.data.length
      this.#chars += entry.data.length
    }
    // Trim in chunks so a busy log costs one splice per `perLog` entries, not one shift per entry.
    if (tail.entries.length >= this.#perLog * 2) this.#drop(tail, tail.entries.length - this.#perLog)
    this.#evict()
  }

  /**
   * The entries after `after`, at most `limit`, when what is kept reaches from `after` to the known head (nothing
   * newer is known to exist); otherwise undefined, and the caller reads the backend.
   */
  read(log: LogId, after: number, limit: number): LogEntry[] | undefined {
    const tail = this.#tails.get(log)
    if (!tail || tail.head === undefined) return undefined
    if (after >= tail.head) return []
    const first = tail.entries[0]
    if (!first || after < first.seq - 1 || tail.entries.at(-1)!.seq !== tail.head) return undefined
    const start = after - first.seq + 1
    return tail.entries.slice(start, start + limit)
  }

  /** Forgets a log: it was deleted, trimmed or compacted, or its head is no longer known for sure. */
  forget(log: LogId): void {
    const tail = this.#tails.get(log)
    if (tail) this.#chars -= tail.chars
    this.#tails.delete(log)
  }

  /** Forgets everything: changes may have been missed (a shared backend's subscription was lost). */
  clear(): void {
    this.#tails.clear()
    this.#chars = 0
  }

  /** The characters of data kept in all. */
  get chars(): number {
    return this.#chars
  }

  /** Drops the oldest `count` kept entries of a tail. */
  #drop(tail: Tail, count: number): void {
    for (const entry of tail.entries.splice(0, count)) {
      tail.chars -= entry.data.length
      this.#chars -= entry.data.length
    }
  }

  /** Forgets the least recently used logs while there are too many, or they keep too much. */
  #evict(): void {
    while (this.#tails.size > this.#logs || (this.#chars > this.#maxChars && this.#tails.size > 1)) {
      this.forget(this.#tails.keys().next().value!)
    }
  }
}
