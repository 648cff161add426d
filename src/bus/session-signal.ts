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

/** Whether any signal of a StopSignal has aborted. */
export const stopped = (signal: StopSignal): boolean => (Array.isArray(signal) ? signal : [signal as AbortSignal]).some((s) => s.aborted)

/**
 * One parked reader: what `wait` returns a promise for. A plain object rather than closures, so that a parked stream
 * holds one small object and its promise (bench/idle-heap.ts, 10,000 idle streams: the heartbeat's `setTimeout` per
 * wait alone was 0.5 KiB of RSS a stream).
 */
class Waiter {
  /** When the wait times out (performance.now() milliseconds), and after how long; both 0 without a timeout. */
  deadline = 0
  timeoutMs = 0
  constructor(
    readonly sessionId: string,
    readonly signals: readonly AbortSignal[],
    readonly resolve: (timedOut: boolean) => void,
  ) {}
}

/**
 * Wakes the readers of a session when its log grows. Stores call `notify` after an append is visible; readers
 * `wait` for it. Only sessions with a waiting reader take memory.
 *
 * A stream waits once per batch of events, so waiting must be cheap: each stream's AbortSignal gets one listener for
 * its whole life (not one added and removed per wait — that was a third of the fan-out profile), and timeouts (the
 * heartbeat) share one timer per distinct length instead of one each: waits of the same length end in the order they
 * began, so each length keeps its waiters in a Set (insertion order) and one timer for the oldest.
 */
export class SessionSignal implements Notifier {
  readonly #waiters = new Map<string, Set<Waiter>>()
  readonly #due = new Set<string>()
  #dueTimer: ReturnType<typeof setTimeout> | undefined
  /** Per timeout length (milliseconds): its waiters, oldest first, and the timer set for the oldest. */
  readonly #timeouts = new Map<number, { waiters: Set<Waiter>; timer: ReturnType<typeof setTimeout> | undefined }>()

  /**
   * Resolves `false` at the next `notify(sessionId)` or when a `signal` aborts (at once if it already has), and
   * `true` when `timeoutMs` milliseconds pass first (never, by default).
   */
  wait(sessionId: string, signal: StopSignal, timeoutMs = Number.POSITIVE_INFINITY): Promise<boolean> {
    const signals = Array.isArray(signal) ? signal : [signal as AbortSignal]
    for (const s of signals) if (s.aborted) return Promise.resolve(false)
    return new Promise((resolve) => {
      const waiter = new Waiter(sessionId, signals, resolve)
      let waiting = this.#waiters.get(sessionId)
      if (!waiting) {
        waiting = new Set()
        this.#waiters.set(sessionId, waiting)
      }
      waiting.add(waiter)
      for (const s of signals) abortWatchersOf(s).set(waiter, this)
      if (Number.isFinite(timeoutMs)) this.#addTimeout(waiter, timeoutMs)
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

  /** Ends a waiter's wait (woken, aborted or timed out) and forgets it everywhere it was registered. */
  finish(waiter: Waiter, timedOut: boolean): void {
    const current = this.#waiters.get(waiter.sessionId)
    if (!current?.delete(waiter)) return
    if (current.size === 0) this.#waiters.delete(waiter.sessionId)
    for (const s of waiter.signals) abortWatchers.get(s)?.delete(waiter)
    if (waiter.deadline > 0) this.#timeouts.get(waiter.timeoutMs)?.waiters.delete(waiter)
    waiter.resolve(timedOut)
  }

  #wake(sessionId: string): void {
    const waiting = this.#waiters.get(sessionId)
    if (waiting) for (const waiter of [...waiting]) this.finish(waiter, false)
  }

  #addTimeout(waiter: Waiter, timeoutMs: number): void {
    waiter.timeoutMs = timeoutMs
    waiter.deadline = performance.now() + timeoutMs
    let list = this.#timeouts.get(timeoutMs)
    if (!list) {
      list = { waiters: new Set(), timer: undefined }
      this.#timeouts.set(timeoutMs, list)
    }
    list.waiters.add(waiter)
    if (list.timer === undefined) this.#armTimeout(timeoutMs, list, timeoutMs)
  }

  /** Sets the timer of one timeout length to fire in `ms`, when its oldest waiter is due. */
  #armTimeout(timeoutMs: number, list: { waiters: Set<Waiter>; timer: ReturnType<typeof setTimeout> | undefined }, ms: number) {
    list.timer = setTimeout(() => {
      list.timer = undefined
      const now = performance.now()
      for (const waiter of list.waiters) {
        if (waiter.deadline > now) return this.#armTimeout(timeoutMs, list, waiter.deadline - now)
        this.finish(waiter, true)
      }
      this.#timeouts.delete(timeoutMs)
    }, ms)
  }

  /** How many readers are waiting, across all sessions (for metrics and tests). */
  get waiting(): number {
    let n = 0
    for (const set of this.#waiters.values()) n += set.size
    return n
  }
}

/**
 * The waiters to end when a signal aborts, each with the SessionSignal it waits on; a signal gets its one listener
 * the first time it is seen, and keeps it for its life.
 */
const abortWatchers = new WeakMap<AbortSignal, Map<Waiter, SessionSignal>>()

function abortWatchersOf(signal: AbortSignal): Map<Waiter, SessionSignal> {
  let watchers = abortWatchers.get(signal)
  if (!watchers) {
    const map = new Map<Waiter, SessionSignal>()
    watchers = map
    abortWatchers.set(signal, map)
    signal.addEventListener(
      'abort',
      () => {
        for (const [waiter, bus] of [...map]) bus.finish(waiter, false)
      },
      { once: true },
    )
  }
  return watchers
}
