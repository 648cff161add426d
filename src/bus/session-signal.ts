/**
 * Wakes the readers of a session when its log grows. Stores call `notify` after an append is visible; readers
 * `wait` for it. Only sessions with a waiting reader take memory.
 *
 * A stream waits once per batch of events, so waiting must be cheap: each stream's AbortSignal gets one listener for
 * its whole life (not one added and removed per wait — that was a third of the fan-out profile), and the heartbeat
 * timeout is a plain timer rather than another AbortController.
 */
export class SessionSignal {
  readonly #waiters = new Map<string, Set<() => void>>()

  /**
   * Resolves `false` at the next `notify(sessionId)` or when `signal` aborts (at once if it already has), and
   * `true` when `timeoutMs` milliseconds pass first (never, by default).
   */
  wait(sessionId: string, signal: AbortSignal, timeoutMs = Number.POSITIVE_INFINITY): Promise<boolean> {
    if (signal.aborted) return Promise.resolve(false)
    return new Promise((resolve) => {
      let waiting = this.#waiters.get(sessionId)
      if (!waiting) this.#waiters.set(sessionId, (waiting = new Set()))
      const onAbort = abortWatchersOf(signal)
      let timer: ReturnType<typeof setTimeout> | undefined
      const done = (timedOut: boolean) => {
        clearTimeout(timer)
        onAbort.delete(wake)
        const current = this.#waiters.get(sessionId)
        current?.delete(wake)
        if (current?.size === 0) this.#waiters.delete(sessionId)
        resolve(timedOut)
      }
      const wake = () => done(false)
      waiting.add(wake)
      onAbort.add(wake)
      if (Number.isFinite(timeoutMs)) timer = setTimeout(() => done(true), timeoutMs)
    })
  }

  notify(sessionId: string): void {
    const waiting = this.#waiters.get(sessionId)
    if (!waiting) return
    for (const wake of [...waiting]) wake()
  }

  /** How many readers are waiting, across all sessions (for metrics and tests). */
  get waiting(): number {
    let n = 0
    for (const set of this.#waiters.values()) n += set.size
    return n
  }
}

/** The wake-ups to run when a signal aborts; the signal gets its one listener the first time it is seen. */
const abortWatchers = new WeakMap<AbortSignal, Set<() => void>>()

function abortWatchersOf(signal: AbortSignal): Set<() => void> {
  let watchers = abortWatchers.get(signal)
  if (!watchers) {
    const set = (watchers = new Set<() => void>())
    abortWatchers.set(signal, set)
    signal.addEventListener('abort', () => [...set].forEach((wake) => wake()), { once: true })
  }
  return watchers
}
