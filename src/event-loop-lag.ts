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
 * Measures how late the event loop runs a timer: each sample is the time between when a `setTimeout` was due and
 * when it ran. A timer-drift sampler rather than `perf_hooks.monitorEventLoopDelay`: Bun implements that one, but it
 * only gives percentiles, while the bench needs the count of stalls over 5 ms, which a bucketed histogram of every
 * sample keeps exactly (and prom-client's own loop-lag metrics read 0 under Bun). The timer is unref'd: it never
 * keeps a process alive.
 */
export class EventLoopLagSampler {
  readonly #observer: LagObserver
  readonly #intervalMs: number
  #timer: Timer | undefined
  #due = 0
  #max = 0

  /** @param intervalMs time between samples; milliseconds, default LAG_SAMPLE_MS. */
  constructor(observer: LagObserver, intervalMs = LAG_SAMPLE_MS) {
    this.#observer = observer
    this.#intervalMs = intervalMs
    this.#schedule()
  }

  /** The largest lag seen since the sampler started; seconds. */
  get maxSeconds(): number {
    return this.#max
  }

  /** Stops sampling; safe to call twice. */
  stop(): void {
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
    this.#schedule()
  }
}
