import type { Notifier } from './notifier.ts'

/**
 * Sessions with at least this many waiting readers have their wake-ups coalesced. Measured (bench/, fan-out): with
 * 1,000 viewers, waking all of them per token is what limits throughput, and a 2 ms window took it from 0.64× to
 * 0.9–1.0× the raw-Bun baseline at the same p99; with 200 viewers the window only delayed the stream (0.87× → 0.60×).
 */
const COALESCE_FROM = 256
/** The longest a coalesced wake-up waits; milliseconds. */
const COALESCE_MS = 2

/**
 * What ends a wait: one signal, or several (a stream stops when its client leaves or when the server shuts down;
 * watching both here spares every stream an AbortController and two listeners that would merge them).
 */
export type StopSignal = AbortSignal | readonly AbortSignal[]

/**
 * Wakes the readers of a session when its log grows. Stores call `notify` after an append is visible; readers
 * `wait` for it. Only sessions with a waiting reader take memory.
 *
 * A stream waits once per batch of events, so waiting must be cheap: each stream's AbortSignal gets one listener for
 * its whole life (not one added and removed per wait — that was a third of the fan-out profile), and the heartbeat
 * timeout is a plain timer rather than another AbortController.
 */
export class SessionSignal implements Notifier {
  readonly #waiters = new Map<string, Set<() => void>>()
  readonly #due = new Set<string>()
  #dueTimer: ReturnType<typeof setTimeout> | undefined

  /**
   * Resolves `false` at the next `notify(sessionId)` or when a `signal` aborts (at once if it already has), and
   * `true` when `timeoutMs` milliseconds pass first (never, by default).
   */
  wait(sessionId: string, signal: StopSignal, timeoutMs = Number.POSITIVE_INFINITY): Promise<boolean> {
    const signals = Array.isArray(signal) ? signal : [signal as AbortSignal]
    if (signals.some((s) => s.aborted)) return Promise.resolve(false)
    return new Promise((resolve) => {
      let waiting = this.#waiters.get(sessionId)
      if (!waiting) {
        waiting = new Set()
        this.#waiters.set(sessionId, waiting)
      }
      const onAbort = signals.map(abortWatchersOf)
      let timer: ReturnType<typeof setTimeout> | undefined
      const done = (timedOut: boolean) => {
        clearTimeout(timer)
        for (const watchers of onAbort) watchers.delete(wake)
        const current = this.#waiters.get(sessionId)
        current?.delete(wake)
        if (current?.size === 0) this.#waiters.delete(sessionId)
        resolve(timedOut)
      }
      const wake = () => done(false)
      waiting.add(wake)
      for (const watchers of onAbort) watchers.add(wake)
      if (Number.isFinite(timeoutMs)) timer = setTimeout(() => done(true), timeoutMs)
    })
  }

  notify(sessionId: string): void {
    const waiting = this.#waiters.get(sessionId)
    if (!waiting) return
    // A session watched by many readers is woken at most once per COALESCE_MS: each wake-up costs every reader a
    // read and a socket write, so a token-rate stream to a thousand viewers is cheaper sent a few tokens at a time.
    if (waiting.size < COALESCE_FROM) {
      this.#wake(sessionId)
      return
    }
    this.#due.add(sessionId)
    this.#dueTimer ??= setTimeout(() => {
      this.#dueTimer = undefined
      const due = [...this.#due]
      this.#due.clear()
      for (const id of due) this.#wake(id)
    }, COALESCE_MS)
  }

  /** Wakes every waiting reader of every session (wake-ups may have been lost: a pub/sub subscriber reconnected). */
  notifyAll(): void {
    for (const sessionId of [...this.#waiters.keys()]) this.#wake(sessionId)
  }

  #wake(sessionId: string): void {
    const waiting = this.#waiters.get(sessionId)
    if (waiting) for (const wake of [...waiting]) wake()
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
    const set = new Set<() => void>()
    watchers = set
    abortWatchers.set(signal, set)
    signal.addEventListener(
      'abort',
      () => {
        for (const wake of [...set]) wake()
      },
      { once: true },
    )
  }
  return watchers
}
