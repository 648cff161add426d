/** Something that takes one lag sample; seconds. */
export interface LagObserver {
  observe(seconds: number): void
}

/**
 * How often the sampler asks for a timer; milliseconds. A stall of L ms is seen as between L − 2 and L, so a stall
 * over 5 ms shows as one once it is over 7 ms; 500 wake-ups a second cost nothing the benchmark can see.
 */
export const LAG_SAMPLE_MS = 2

/**
 * How long after the last sign of work (a request, a scrape) the sampler goes on; milliseconds. An idle server takes
 * no samples: 500 timers a second were most of what a server with no connections spent (1.3% of a core).
 */
export const LAG_IDLE_AFTER_MS = 5000

/**
 * Measures how late the event loop runs a timer: each sample is the time between when a `setTimeout` was due and
 * when it ran. A timer-drift sampler rather than `perf_hooks.monitorEventLoopDelay`: Bun implements that one, but it
 * only gives percentiles, while the bench needs the count of stalls over 5 ms, which a bucketed histogram of every
 * sample keeps exactly (and prom-client's own loop-lag metrics read 0 under Bun). The timer is unref'd: it never
 * keeps a process alive.
 */
export class EventLoopLagSampler {
  readonly #observer: LagObserver
  readonly #intervalMs: number
  readonly #busy: () => boolean
  #timer: Timer | undefined
  #due = 0
  #max = 0
  #stopped = false

  /**
   * @param intervalMs time between samples; milliseconds, default LAG_SAMPLE_MS.
   * @param busy whether the process has work (open streams, runs, recent requests): the sampler parks when it has
   *   none, and `wake()` starts it again; default always.
   */
  constructor(observer: LagObserver, intervalMs = LAG_SAMPLE_MS, busy: () => boolean = () => true) {
    this.#observer = observer
    this.#intervalMs = intervalMs
    this.#busy = busy
    this.#schedule()
  }

  /** Whether a sample is scheduled (false while parked or stopped). */
  get sampling(): boolean {
    return this.#timer !== undefined
  }

  /** Starts sampling again after a park (work arrived); nothing when sampling or stopped. */
  wake(): void {
    if (this.#timer === undefined && !this.#stopped) this.#schedule()
  }

  /** The largest lag seen since the sampler started; seconds. */
  get maxSeconds(): number {
    return this.#max
  }

  /** Stops sampling; safe to call twice. */
  stop(): void {
    this.#stopped = true
    clearTimeout(this.#timer)
    this.#timer = undefined
  }

  #schedule(): void {
    this.#due = performance.now() + this.#intervalMs
    this.#timer = setTimeout(() => this.#sample(), this.#intervalMs)
    this.#timer.unref()
  }

  #sample(): void {
    const seconds = Math.max(0, performance.now() - this.#due) / 1000
    this.#observer.observe(seconds)
    if (seconds > this.#max) this.#max = seconds
    if (this.#busy()) this.#schedule()
    else this.#timer = undefined
  }
}
