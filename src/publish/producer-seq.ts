import { AppError } from '../errors.ts'

/**
 * Idempotent producers, with the header names and rules of the Durable Streams protocol: a producer numbers its
 * append requests `Producer-Seq` 0, 1, 2… under its `Producer-Id`. A request whose number was already applied gets
 * the result it got then, and appends nothing (a retry after a lost answer); a number past the next one is a gap,
 * refused with the number expected. Kept in memory per session, for the producers seen recently.
 */
export class ProducerSeqs<Result> {
  readonly #producers = new Map<string, { next: number; results: Map<number, Promise<Result>> }>()

  /** @param maxProducers producers remembered, the least recently seen forgotten first; default 10,000. */
  constructor(private readonly maxProducers = 10_000) {}

  /**
   * Runs `apply` unless request `seq` of `producer` was already applied (then resolves with its result again).
   * Throws PRODUCER_SEQ_GAP (409) for a number past the next. A request that fails is not applied: its number may
   * be sent again.
   */
  async run(producer: string, seq: number, apply: () => Promise<Result>): Promise<{ result: Result; replayed: boolean }> {
    const known = this.#producers.get(producer) ?? { next: 0, results: new Map<number, Promise<Result>>() }
    const kept = known.results.get(seq)
    // Also a request still being applied: its retry waits for the same result instead of applying it twice.
    if (kept) return { result: await kept, replayed: true }
    if (seq < known.next) {
      throw new AppError(
        'PRODUCER_SEQ_GAP',
        `Producer-Seq ${seq} was applied long ago and its result is no longer kept; the next is ${known.next}.`,
      )
    }
    if (seq > known.next) throw new AppError('PRODUCER_SEQ_GAP', `Producer-Seq ${seq} skips ahead: the next expected is ${known.next}.`)
    const applying = apply()
    known.next = seq + 1
    known.results.set(seq, applying)
    this.#remember(producer, known)
    try {
      return { result: await applying, replayed: false }
    } catch (error) {
      // Partly applied (some events stored before it failed): a retry gets the same answer and stores nothing again.
      if (partlyApplied.has(error as object)) throw error
      // Not applied: the same number may come again.
      known.results.delete(seq)
      known.next = seq
      throw error
    }
  }

  #remember(producer: string, known: { next: number; results: Map<number, Promise<Result>> }): void {
    // A retry only ever repeats one of the last few requests.
    for (const old of known.results.keys()) {
      if (known.results.size <= 16) break
      known.results.delete(old)
    }
    this.#producers.delete(producer)
    this.#producers.set(producer, known)
    for (const oldest of this.#producers.keys()) {
      if (this.#producers.size <= this.maxProducers) break
      this.#producers.delete(oldest)
    }
  }
}

const partlyApplied = new WeakSet<object>()

/** Marks the error of a request that stored some of its events before it failed: a retry must not store them twice. */
export function markPartlyApplied(error: unknown): void {
  if (typeof error === 'object' && error !== null) partlyApplied.add(error)
}

/** Reads the `Producer-Id` and `Producer-Seq` headers: both or neither; a seq is a whole number. 400 otherwise. */
export function producerOf(headers: Headers): { id: string; seq: number } | undefined {
  const id = headers.get('producer-id')
  const seq = headers.get('producer-seq')
  if (id === null && seq === null) return undefined
  if (!id || id.length > 200 || seq === null || !/^\d{1,15}$/.test(seq)) {
    throw new AppError('BAD_REQUEST', 'Send Producer-Id (up to 200 characters) and Producer-Seq (a whole number: 0, 1, 2…) together.')
  }
  return { id, seq: Number(seq) }
}
