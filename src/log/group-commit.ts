/**
 * Group commit: items added within one turn of the event loop, or while the previous batch is on its way, are
 * committed as one batch, in the order they were added, at most `maxBatch` (and `maxWeight`) at a time. One commit per batch instead of
 * one per item is what lets a disk or a network round trip keep up with every run's tokens (bench: many-runs).
 *
 * `commit` answers each item of the batch, index for index: its result, or the Error that item is rejected with. If
 * `commit` itself throws, every item of the batch is rejected with what it threw.
 */
export class GroupCommit<T, R> {
  #queue: { item: T; resolve: (result: R) => void; reject: (error: unknown) => void }[] = []
  #scheduled: ReturnType<typeof setImmediate> | undefined
  #sending: Promise<void> | undefined

  /**
   * @param maxBatch the most items one commit takes; items, default 256.
   * @param maxWeight the most one commit takes by `weigh` (bytes, say), however few the items; at least one item goes.
   */
  constructor(
    private readonly commit: (batch: T[]) => Promise<(R | Error)[]>,
    private readonly maxBatch = 256,
    private readonly maxWeight = Number.POSITIVE_INFINITY,
    private readonly weigh: (item: T) => number = () => 0,
  ) {}

  /** Resolves with the item's result once its batch is committed; rejects with its refusal or the batch's failure. */
  add(item: T): Promise<R> {
    return new Promise<R>((resolve, reject) => {
      this.#queue.push({ item, resolve, reject })
      // While a batch is on its way the next one gathers; it is sent as soon as that batch is answered.
      if (!this.#sending) this.#scheduled ??= setImmediate(() => this.#flush())
    })
  }

  /** Resolves once every item added so far is answered. */
  async drain(): Promise<void> {
    while (this.#sending || this.#queue.length > 0) {
      if (!this.#sending) this.#flush()
      await this.#sending
    }
  }

  #flush(): void {
    if (this.#scheduled) clearImmediate(this.#scheduled)
    this.#scheduled = undefined
    if (this.#sending || this.#queue.length === 0) return
    let count = 0
    for (let weight = 0; count < Math.min(this.maxBatch, this.#queue.length); count++) {
      weight += this.weigh(this.#queue[count]!.item)
      if (count > 0 && weight > this.maxWeight) break
    }
    const batch = this.#queue.splice(0, count)
    this.#sending = this.commit(batch.map((b) => b.item)).then(
      (results) => {
        batch.forEach((b, i) => {
          const result = results[i]
          if (result instanceof Error) b.reject(result)
          else b.resolve(result as R)
        })
      },
      (error: unknown) => {
        for (const b of batch) b.reject(error)
      },
    )
    void this.#sending.finally(() => {
      this.#sending = undefined
      this.#flush()
    })
  }
}
