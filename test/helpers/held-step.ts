import type { Conversation, Step, StepContext } from '../../src/steps/step.ts'
import { Hold } from './hold.ts'

/**
 * A step for tests whose timing the test decides: it echoes the first `streamFirst` characters of the last user
 * message, then holds until the test calls `release()` (and streams the rest) or the run is cancelled (and returns,
 * so the runner closes the run with an interrupt). Cancel, reconnect and restart tests use it instead of racing the
 * echo's speed.
 */
export class HeldStep implements Step {
  readonly type = 'held'
  readonly #hold = new Hold()

  /** @param streamFirst characters streamed before the step holds; default 5. */
  constructor(private readonly streamFirst = 5) {}

  /** Resolves once a run is holding (immediately if one already is). */
  held(): Promise<void> {
    return this.#hold.held()
  }

  /** Lets every holding run stream the rest of its answer and finish. */
  release(): void {
    this.#hold.release()
  }

  async run(input: Conversation, { signal, emit }: StepContext): Promise<void> {
    const text = input.findLast((m) => m.role === 'user')?.content ?? ''
    const chars = [...text]
    await emit({ type: 'start', step_type: this.type })
    for (const char of chars.slice(0, this.streamFirst)) await emit({ type: 'partial', delta: char })
    if (chars.length > this.streamFirst) {
      await this.#hold.here(signal)
      if (signal.aborted) return
      for (const char of chars.slice(this.streamFirst)) await emit({ type: 'partial', delta: char })
    }
    await emit({ type: 'final', text })
  }
}
