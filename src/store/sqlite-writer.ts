import type { NewEvent, StoredEvent } from '../events.ts'
import { AppError, sessionNotFound } from '../errors.ts'
import type { JournalEntry, JournalIndex } from './sqlite-journal-index.ts'
import { payloadOf } from './sqlite-rows.ts'
import type { WriteChannel } from './sqlite-write-channel.ts'
import { encodeRow, ROW_SEPARATOR } from './sqlite-write-protocol.ts'
import { storeClosed, storeUnavailable } from './store-errors.ts'

interface Pending {
  sessionId: string
  stored: StoredEvent
  payload: string
  resolve: (event: StoredEvent) => void
  reject: (error: unknown) => void
}

/** Appends waiting for the next commit, and the seq each of their sessions has reached within them. */
class Batch {
  readonly items: Pending[] = []
  readonly lastSeq = new Map<string, number>()
}

export interface GroupCommitOptions {
  /**
   * How long the first append of a batch waits for others to join it; milliseconds, default 0: the batch commits on
   * the next turn of the event loop, after every append queued in this turn. A fixed window made a single busy
   * session wait for it on every token (the fan-out benchmark: 0.32× the baseline with 2 ms, 0.87× with 0).
   */
  windowMs?: number
  /**
   * A batch that reaches this many events goes to the write side at once, without waiting out the window, and no
   * transaction holds more; default 1000.
   */
  maxBatch?: number
  /** Told how long each commit's transaction took; seconds. */
  onCommitTimed?: (seconds: number) => void
}

/**
 * Past this many sessions the cache of each session's committed seq is dropped and refilled from the database on
 * demand (a primary key lookup each), so it never grows with every session the server has ever seen.
 */
const MAX_CACHED_SESSIONS = 100_000

/**
 * Group commit, on the serving thread: appends that arrive within `windowMs` of each other share one transaction,
 * so a token-rate stream does not pay one commit per token. Each session's next `seq` is assigned when the append
 * arrives (this process is the only writer, see sqlite-lock.ts, so the seqs it has committed are the truth and are
 * cached); the batch goes to the write side as rows already serialized, one call per batch.
 *
 * One batch is in flight at a time: the next one gathers while the write side commits, and goes as soon as that is
 * answered, so a slower commit makes bigger batches rather than a queue. An append's promise settles only once its
 * batch has committed (or failed), and `onCommit` runs only after that: readers only ever see committed events,
 * and an acknowledged append is in the WAL.
 */
export class GroupCommitWriter {
  readonly #channel: WriteChannel
  readonly #index: JournalIndex
  readonly #onCommit: (events: StoredEvent[]) => void
  readonly #lookup: (sessionId: string) => number | undefined
  readonly #windowMs: number
  readonly #maxBatch: number
  readonly #timed: ((seconds: number) => void) | undefined
  readonly #committed = new Map<string, number>()
  #batch = new Batch()
  #inFlight: Batch | undefined
  /** Resolves when the batch in flight is answered. */
  #answered: Promise<void> = Promise.resolve()
  /** Cancels the scheduled send of the pending batch, if one is scheduled. */
  #cancelScheduled: (() => void) | undefined
  /** The journal id of the last row sent: ids only grow, which the merge relies on. */
  #lastId = 0
  #closed = false

  /**
   * @param index where committed events are kept until the journal merge moves them into `events`.
   * @param lookup the newest seq of a session in `events` (0 for none), undefined for an unknown session.
   * @param onCommit called with each batch's events, in commit order, once they are committed and readable.
   */
  constructor(
    channel: WriteChannel,
    index: JournalIndex,
    lookup: (sessionId: string) => number | undefined,
    onCommit: (events: StoredEvent[]) => void,
    options: GroupCommitOptions = {},
  ) {
    this.#channel = channel
    this.#index = index
    this.#lookup = lookup
    this.#onCommit = onCommit
    this.#windowMs = options.windowMs ?? 0
    this.#maxBatch = options.maxBatch ?? 1000
    this.#timed = options.onCommitTimed
  }

  /** The seq of the session's newest committed event (0 for an empty log); undefined for an unknown session. */
  committedSeq(sessionId: string): number | undefined {
    const known = this.#committed.get(sessionId)
    if (known !== undefined) return known
    // Events still in the journal are newer than any in `events`.
    const seq = this.#index.lastSeq(sessionId) ?? this.#lookup(sessionId)
    if (seq !== undefined) this.#committed.set(sessionId, seq)
    return seq
  }

  /** Notes a session just created with an empty log, sparing its first append a lookup. */
  created(sessionId: string): void {
    this.#committed.set(sessionId, 0)
  }

  /**
   * Forgets sessions that retention deleted: appends to them are refused as unknown from now on, those waiting
   * for the next batch at once (the write side refuses those of the batch in flight).
   */
  forget(sessionIds: readonly string[]): void {
    const gone = new Set(sessionIds)
    for (const id of gone) this.#committed.delete(id)
    if (!this.#batch.items.some((item) => gone.has(item.sessionId))) return
    // The other sessions' appends keep their seqs: each session is numbered on its own.
    const batch = new Batch()
    for (const item of this.#batch.items) {
      if (gone.has(item.sessionId)) {
        item.reject(sessionNotFound())
        continue
      }
      batch.items.push(item)
      batch.lastSeq.set(item.sessionId, item.stored.seq)
    }
    this.#batch = batch
  }

  /** Queues the event with the session's next seq; resolves once it is committed, rejects with a 503 if not. */
  append(sessionId: string, event: NewEvent): Promise<StoredEvent> {
    if (this.#closed) return Promise.reject(storeClosed())
    const last = this.#batch.lastSeq.get(sessionId) ?? this.#inFlight?.lastSeq.get(sessionId) ?? this.committedSeq(sessionId)
    if (last === undefined) return Promise.reject(sessionNotFound())
    const stored = { ...event, seq: last + 1, session_id: sessionId } as StoredEvent
    const payload = payloadOf(event)
    return new Promise((resolve, reject) => {
      this.#batch.items.push({ sessionId, stored, payload, resolve, reject })
      this.#batch.lastSeq.set(sessionId, stored.seq)
      if (this.#batch.items.length >= this.#maxBatch) this.flush()
      else this.#cancelScheduled ??= this.#scheduleFlush()
    })
  }

  /** Sends what is pending now, unless a batch is in flight: that one's answer sends it. */
  flush(): void {
    this.#cancelScheduled?.()
    this.#cancelScheduled = undefined
    if (this.#inFlight || this.#batch.items.length === 0) return
    const batch = this.#take()
    this.#inFlight = batch
    this.#answered = this.#send(batch).finally(() => {
      this.#inFlight = undefined
      // What gathered meanwhile has waited a whole commit already: it goes now, window or not.
      this.flush()
    })
  }

  /** Resolves once every append made so far has been answered. */
  async drain(): Promise<void> {
    this.flush()
    while (this.#inFlight || this.#batch.items.length > 0) {
      await this.#answered
      this.flush()
    }
  }

  /** Refuses further appends, then resolves once those made before are answered. */
  async close(): Promise<void> {
    this.#closed = true
    await this.drain()
  }

  async #send(batch: Batch): Promise<void> {
    const entries: JournalEntry[] = []
    const rows: string[] = []
    for (const { stored, payload } of batch.items) {
      const id = ++this.#lastId
      entries.push({ id, stored })
      rows.push(encodeRow(id, stored.session_id, stored.seq, stored.type, stored.step_id, stored.ts, payload))
    }
    let refused: Set<string>
    try {
      const answer = await this.#channel.call({ type: 'commit', rows: rows.join(ROW_SEPARATOR), now: Date.now() })
      this.#timed?.(answer.seconds)
      refused = new Set(answer.refused)
    } catch (error) {
      // The transaction rolled back, so none of the batch is visible. Its seqs were never returned or read: the
      // appends that gathered meanwhile are numbered again from the committed seqs, which leaves no hole and
      // reuses no seq that anyone has seen.
      const failure = error instanceof AppError ? error : storeUnavailable(error)
      for (const item of batch.items) item.reject(failure)
      this.#renumber(this.#batch.items)
      return
    }
    const committed = refused.size > 0 ? batch.items.filter((item) => !refused.has(item.sessionId)) : batch.items
    this.#index.committed(refused.size > 0 ? entries.filter((entry) => !refused.has(entry.stored.session_id)) : entries)
    if (this.#committed.size > MAX_CACHED_SESSIONS) this.#committed.clear()
    for (const [sessionId, seq] of batch.lastSeq) if (!refused.has(sessionId)) this.#committed.set(sessionId, seq)
    for (const item of batch.items) {
      if (refused.has(item.sessionId)) item.reject(sessionNotFound())
      else item.resolve(item.stored)
    }
    this.#onCommit(committed.map((item) => item.stored))
  }

  /** The pending batch, or its first `maxBatch` appends when it grew past that while one was in flight. */
  #take(): Batch {
    const all = this.#batch
    if (all.items.length <= this.#maxBatch) {
      this.#batch = new Batch()
      return all
    }
    const [taken, rest] = [new Batch(), new Batch()]
    all.items.forEach((item, i) => {
      const batch = i < this.#maxBatch ? taken : rest
      batch.items.push(item)
      batch.lastSeq.set(item.sessionId, item.stored.seq)
    })
    this.#batch = rest
    return taken
  }

  /** Makes `items` the pending batch, each session's seqs following its committed seq again. */
  #renumber(items: Pending[]): void {
    const batch = new Batch()
    for (const item of items) {
      const last = batch.lastSeq.get(item.sessionId) ?? this.committedSeq(item.sessionId)
      if (last === undefined) {
        item.reject(sessionNotFound())
        continue
      }
      item.stored = { ...item.stored, seq: last + 1 }
      batch.items.push(item)
      batch.lastSeq.set(item.sessionId, last + 1)
    }
    this.#batch = batch
  }

  #scheduleFlush(): () => void {
    if (this.#windowMs > 0) {
      const timer = setTimeout(() => this.flush(), this.#windowMs)
      return () => clearTimeout(timer)
    }
    const immediate = setImmediate(() => this.flush())
    return () => clearImmediate(immediate)
  }
}
