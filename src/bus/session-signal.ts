import { abortSet } from '../abort-set.ts'
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
 * One reader: a stream that waits again and again with the same StopSignal gets the same Reader each time, so a wait
 * allocates its promise and adds it to one Set per signal. A
 * plain object rather than closures, so that a parked stream holds one small object and its promise
 * (bench/idle-heap.ts, 10,000 idle streams: the heartbeat's `setTimeout` per wait alone was 0.5 KiB of RSS a stream).
 */
class Reader {
  /** Resolves the wait under way; undefined while the reader is not waiting. */
  resolve: ((timedOut: boolean) => void) | undefined = undefined
  /** The set of its session's waiting readers it is in, while waiting. */
  parked: Set<Reader> | undefined = undefined
  sessionId = ''
  /** When the wait times out (performance.now() milliseconds), and after how long; both 0 without a timeout. */
  deadline = 0
  timeoutMs = 0
  constructor(readonly signals: readonly AbortSignal[]) {}
}

/** The waiting readers of one timeout length, oldest wait first, and the timer set for the oldest. */
interface TimeoutList {
  readers: Set<Reader>
  timer: ReturnType<typeof setTimeout> | undefined
}

/**
 * Wakes the readers of a session when its log grows. Stores call `notify` after an append is visible; readers
 * `wait` for it. Only sessions with a waiting reader take memory.
 *
 * A stream waits once per batch of events, so waiting must be cheap: each stream's StopSignal gets one Reader for its
 * whole life and each AbortSignal one listener (not a waiter and a listener added and removed per wait: a quarter of
 * the fan-out profile), a wake-up hands the session's whole set of waiting readers over at once, and timeouts (the heartbeat) share
 * one timer per distinct length instead of one each: waits of the same length end in the order they began, so each
 * length keeps its readers in a Set (insertion order, a new wait moves a reader to the end) and one timer for the
 * oldest.
 */
export class SessionSignal implements Notifier {
  /** Per session, its waiting readers. */
  readonly #waiting = new Map<string, Set<Reader>>()
  /** The Reader of each StopSignal seen (a stream's, for its life). */
  readonly #readers = new WeakMap<object, Reader>()
  /**
   * Per AbortSignal, the readers waiting on it now. A signal gets one listener, the first time it is seen, that ends
   * their waits; a reader is in the set only while it waits. A listener per reader instead would never be removed from
   * a signal that outlives its streams (the server's shutdown signal): each stream ever served would stay reachable.
   */
  readonly #watching = new WeakMap<AbortSignal, Set<Reader>>()
  /** Ends a reader's wait when one of its signals aborted. */
  readonly #aborted = (reader: Reader) => {
    this.#finish(reader, false)
    this.#dropTimeout(reader)
  }
  readonly #due = new Set<string>()
  #dueTimer: ReturnType<typeof setTimeout> | undefined
  /** Per timeout length (milliseconds): its readers, oldest wait first (and readers since woken, dropped when met). */
  readonly #timeouts = new Map<number, TimeoutList>()

  /**
   * Resolves `false` at the next `notify(sessionId)` or when a `signal` aborts (at once if it already has), and
   * `true` when `timeoutMs` milliseconds pass first (never, by default).
   */
  wait(sessionId: string, signal: StopSignal, timeoutMs = Number.POSITIVE_INFINITY): Promise<boolean> {
    if (stopped(signal)) return Promise.resolve(false)
    const reader = this.#readerOf(signal)
    return new Promise((resolve) => {
      reader.resolve = resolve
      reader.sessionId = sessionId
      let parked = this.#waiting.get(sessionId)
      if (!parked) {
        parked = new Set()
        this.#waiting.set(sessionId, parked)
      }
      parked.add(reader)
      reader.parked = parked
      for (const s of reader.signals) abortSet(this.#watching, s, this.#aborted).add(reader)
      if (Number.isFinite(timeoutMs)) this.#addTimeout(reader, timeoutMs)
      else if (reader.deadline > 0) this.#dropTimeout(reader)
    })
  }

  notify(sessionId: string): void {
    const waiting = this.#waiting.get(sessionId)
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
    for (const sessionId of [...this.#waiting.keys()]) this.#wake(sessionId)
  }

  /** Ends a reader's wait (aborted or timed out) and forgets it where it waited. */
  #finish(reader: Reader, timedOut: boolean): void {
    const resolve = reader.resolve
    if (!resolve) return
    const parked = reader.parked!
    parked.delete(reader)
    if (parked.size === 0 && this.#waiting.get(reader.sessionId) === parked) this.#waiting.delete(reader.sessionId)
    this.#settle(reader, timedOut, resolve)
  }

  #settle(reader: Reader, timedOut: boolean, resolve: (timedOut: boolean) => void): void {
    reader.resolve = undefined
    reader.parked = undefined
    for (const s of reader.signals) this.#watching.get(s)?.delete(reader)
    resolve(timedOut)
  }

  /** Wakes the session's waiting readers, all at once: the set is handed over whole, not emptied one by one. */
  #wake(sessionId: string): void {
    const waiting = this.#waiting.get(sessionId)
    if (!waiting) return
    this.#waiting.delete(sessionId)
    // A reader stays in its timeout list until met there or waiting again: dropping it here would cost every wake-up.
    for (const reader of waiting) this.#settle(reader, false, reader.resolve!)
  }

  /**
   * The stream's Reader for `signal`, made the first time the signal is seen; a one-wait Reader when that one is
   * waiting already (one StopSignal waiting on two logs at once).
   */
  #readerOf(signal: StopSignal): Reader {
    const known = this.#readers.get(signal)
    if (known && known.resolve === undefined) return known
    const reader = new Reader(Array.isArray(signal) ? signal : [signal as AbortSignal])
    if (!known) this.#readers.set(signal, reader)
    return reader
  }

  /** Takes the reader out of its timeout list, if it is in one. */
  #dropTimeout(reader: Reader): void {
    if (reader.deadline === 0) return
    this.#timeouts.get(reader.timeoutMs)?.readers.delete(reader)
    reader.deadline = 0
    reader.timeoutMs = 0
  }

  #addTimeout(reader: Reader, timeoutMs: number): void {
    if (reader.deadline > 0 && reader.timeoutMs !== timeoutMs) this.#dropTimeout(reader)
    reader.timeoutMs = timeoutMs
    reader.deadline = performance.now() + timeoutMs
    let list = this.#timeouts.get(timeoutMs)
    if (!list) {
      list = { readers: new Set(), timer: undefined }
      this.#timeouts.set(timeoutMs, list)
    }
    // Re-inserted: a Set keeps insertion order, so the reader moves to the end, behind the waits begun before it.
    list.readers.delete(reader)
    list.readers.add(reader)
    if (list.timer === undefined) this.#armTimeout(timeoutMs, list, timeoutMs)
  }

  /** Sets the timer of one timeout length to fire in `ms`, when its oldest wait is due. */
  #armTimeout(timeoutMs: number, list: TimeoutList, ms: number) {
    list.timer = setTimeout(() => {
      list.timer = undefined
      const now = performance.now()
      for (const reader of list.readers) {
        // Woken since (or gone): its place in the list is stale.
        if (reader.resolve === undefined) {
          list.readers.delete(reader)
          continue
        }
        if (reader.deadline > now) return this.#armTimeout(timeoutMs, list, reader.deadline - now)
        list.readers.delete(reader)
        this.#finish(reader, true)
      }
      this.#timeouts.delete(timeoutMs)
    }, ms)
  }

  /** How many readers are waiting, across all sessions (for metrics and tests). */
  get waiting(): number {
    let n = 0
    for (const set of this.#waiting.values()) n += set.size
    return n
  }
}
