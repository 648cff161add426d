/**
 * One holder at a time per key, in arrival order: the stream layer reads a producer's mark, decides and appends with
 * no other request of the same (stream, producer) in between. Keys are data (a stream's name, a producer id): a Map,
 * and an entry lives only while someone holds or waits for it.
 */
export class KeyedMutex {
  readonly #tails = new Map<string, Promise<void>>()

  /** Runs `work` once every earlier holder of `key` is done; its result or its rejection is the caller's. */
  async run<T>(key: string, work: () => Promise<T>): Promise<T> {
    const before = this.#tails.get(key) ?? Promise.resolve()
    let release!: () => void
    const mine = new Promise<void>((resolve) => {
      release = resolve
    })
    const tail = before.then(() => mine)
    this.#tails.set(key, tail)
    await before
    try {
      return await work()
    } finally {
      release()
      if (this.#tails.get(key) === tail) this.#tails.delete(key)
    }
  }

  /** Keys held or waited for (for tests: none once everyone is done). */
  get size(): number {
    return this.#tails.size
  }
}
