/** Resolves on a later turn of the event loop, after pending I/O: other requests run in between. */
export const nextTurn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve))

/**
 * For a loop fed by microtasks (a fast upstream whose data is always ready, a long read): `pause()` lets the event
 * loop serve others once the loop has held it for `sliceMs`, so no one source keeps /healthz waiting.
 */
export class TurnSlicer {
  #since = performance.now()

  /** @param sliceMs how long the loop may run between two pauses; milliseconds, default 4. */
  constructor(private readonly sliceMs = 4) {}

  /** Resolves at once while the slice lasts; otherwise on the next turn of the event loop. */
  async pause(): Promise<void> {
    if (performance.now() - this.#since < this.sliceMs) return
    await nextTurn()
    this.#since = performance.now()
  }
}
