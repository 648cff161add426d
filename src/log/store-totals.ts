import type { BackendTotals } from './log-backend.ts'

/** What one change did to the store's totals: what it added, negative for what it removed. */
export type TotalsChange = BackendTotals

/** A new log's place, and the bytes a fork will copy into it, held from its admission until its creation answers. */
export interface Slot {
  logs: number
  bytes: number
}

const NOTHING: TotalsChange = { logs: 0, entries: 0, bytes: 0 }

const add = (to: BackendTotals, change: TotalsChange) => {
  to.logs += change.logs
  to.entries += change.entries
  to.bytes += change.bytes
}

/**
 * The store's totals as the core counts them (issue 21, H1): the backend's answer to `totals()`, plus exactly what
 * each change made since said it added or removed (the backend counts it atomically with the change), plus the new
 * logs admitted and not yet created (H3: slots are held synchronously, so concurrent creates never pass the cap).
 *
 * The totals are asked again now and then (`recount`, each retention pass): another instance's changes are counted
 * from then on. Each change carries the number of the last asking before it began: one that began before an answer
 * was asked for is in that answer, and is not added again; one that began after is added to it. That is exact where
 * the backend changes as it is called (memory, SQLite); on a shared backend a change that sends its command late (a
 * delete reads its aliases first) may be counted wrong once, until the next recount.
 */
export class StoreTotals {
  #totals: BackendTotals | undefined
  /** The asking in flight; cleared with its answer, or its failure (the next caller asks again). */
  #asking: Promise<void> | undefined
  /** Numbers the askings: #asked the last one sent, #answered the one `#totals` rests on. */
  #asked = 0
  #answered = 0
  /** What changes that began after the asking in flight added; added to its answer. */
  #since: BackendTotals = { ...NOTHING }
  readonly #held: Slot = { logs: 0, bytes: 0 }

  constructor(private readonly askBackend: () => Promise<BackendTotals>) {
    void this.#ask().catch(() => {})
  }

  /** The totals, once the backend has told them. A failure to tell is met by this caller and retried by the next. */
  async loaded(): Promise<BackendTotals> {
    while (!this.#totals) await (this.#asking ?? this.#ask())
    return this.#totals
  }

  /** What admitted new logs hold until their creation answers. */
  get held(): Readonly<Slot> {
    return this.#held
  }

  /** Asks the backend again; resolves once the answer counts. An asking in flight is joined, not repeated. */
  recount(): Promise<void> {
    return this.#asking ?? this.#ask()
  }

  /** Holds `slot` (a log, and a fork's bytes) until `change` answers; call with no await since the check of the room. */
  hold(slot: Slot): Slot {
    this.#held.logs += slot.logs
    this.#held.bytes += slot.bytes
    return slot
  }

  /**
   * Runs a change of the backend and counts what `counted` says it did, releasing `slot` at the same moment (or when
   * the change fails, counting nothing).
   */
  async change<T>(call: () => Promise<T>, counted: (result: T) => TotalsChange | undefined, slot?: Slot): Promise<T> {
    const began = this.#asked
    let result: T
    try {
      result = await call()
    } finally {
      if (slot) this.hold({ logs: -slot.logs, bytes: -slot.bytes })
    }
    const change = counted(result)
    if (change) this.#count(began, change)
    return result
  }

  #count(began: number, change: TotalsChange): void {
    // Asked for after this change began: the answer holds it already.
    if (began < this.#answered) return
    if (this.#totals) add(this.#totals, change)
    if (this.#asking && began === this.#asked) add(this.#since, change)
  }

  #ask(): Promise<void> {
    const number = ++this.#asked
    this.#since = { ...NOTHING }
    const asking = this.askBackend().then(
      (answer) => {
        if (this.#asked !== number) return
        const totals = { ...answer }
        add(totals, this.#since)
        this.#totals = totals
        this.#answered = number
        this.#asking = undefined
      },
      (error: unknown) => {
        // A failure must not stay: the medium may be back for the next write (a lost Redis, a full disk freed).
        if (this.#asking === asking) this.#asking = undefined
        throw error
      },
    )
    this.#asking = asking
    return asking
  }
}
