import type { Conversation, Step, StepContext } from '../../src/steps/step.ts'

/**
 * A step for tests whose timing the test decides: it echoes the first `streamFirst` characters of the last user
 * message, then holds until the test calls `release()` (and streams the rest) or the run is cancelled (and returns,
 * so the runner closes the run with an interrupt). Cancel, reconnect and restart tests use it instead of racing the
 * echo's speed.
 */
export class HeldStep implements Step {
  readonly type = 'held'
  readonly #releases = new Set<() => void>()
  #heldWaiters: Array<() => void> = []

  /** @param streamFirst characters streamed before the step holds; default 5. */
  constructor(private readonly streamFirst = 5) {}

  /** Resolves once a run is holding (immediately if one already is). */
  held(): Promise<void> {
    if (this.#releases.size > 0) return Promise.resolve()
    return new Promise((resolve) => this.#heldWaiters.push(resolve))
  }

  /** Lets every holding run stream the rest of its answer and finish. */
  release(): void {
    for (const release of this.#releases) release()
  }

  async run(input: Conversation, { signal, emit }: StepContext): Promise<void> {
    const text = input.findLast((m) => m.role === 'user')?.content ?? ''
    const chars = [...text]
    await emit({ type: 'start', step_type: this.type })
    for (const char of chars.slice(0, this.streamFirst)) await emit({ type: 'partial', delta: char })
    if (chars.length > this.streamFirst) {
      const released = new Promise<void>((resolve) => {
        const release = () => {
          this.#releases.delete(release)
          resolve()
        }
        this.#releases.add(release)
        signal.addEventListener('abort', release, { once: true })
      })
      for (const wake of this.#heldWaiters.splice(0)) wake()
      await released
      if (signal.aborted) return
      for (const char of chars.slice(this.streamFirst)) await emit({ type: 'partial', delta: char })
    }
    await emit({ type: 'final', text })
  }
}
