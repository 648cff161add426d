/**
 * Wakes the readers of a session when its log grows. Stores call `notify` after an append is visible; readers
 * `wait` for it. Only sessions with a waiting reader take memory.
 */
export class SessionSignal {
  readonly #waiters = new Map<string, Set<() => void>>()

  /** Resolves at the next `notify(sessionId)`, or at once if `signal` is already aborted or aborts first. */
  wait(sessionId: string, signal: AbortSignal): Promise<void> {
    if (signal.aborted) return Promise.resolve()
    return new Promise((resolve) => {
      let set = this.#waiters.get(sessionId)
      if (!set) this.#waiters.set(sessionId, (set = new Set()))
      const done = () => {
        signal.removeEventListener('abort', done)
        const current = this.#waiters.get(sessionId)
        current?.delete(done)
        if (current?.size === 0) this.#waiters.delete(sessionId)
        resolve()
      }
      set.add(done)
      signal.addEventListener('abort', done, { once: true })
    })
  }

  notify(sessionId: string): void {
    const set = this.#waiters.get(sessionId)
    if (!set) return
    for (const wake of [...set]) wake()
  }

  /** How many readers are waiting, across all sessions (for metrics and tests). */
  get waiting(): number {
    let n = 0
    for (const set of this.#waiters.values()) n += set.size
    return n
  }
}
