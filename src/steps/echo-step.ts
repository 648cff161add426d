import type { StepFactory } from './step-registry.ts'
import { type Conversation, sleep, type Step, type StepContext } from './step.ts'

/** The demo step: echoes the last user message back one code point at a time. */
export class EchoStep implements Step {
  readonly type = 'echo'

  /** @param delayMs pause between two characters; milliseconds (the CLI's `--echo-delay`, default 50). */
  constructor(private readonly delayMs: number) {}

  async run(input: Conversation, { signal, emit }: StepContext): Promise<void> {
    const last = input.findLast((m) => m.role === 'user')
    const text = last?.role === 'user' ? last.content : ''
    await emit({ type: 'start', step_type: this.type })
    let streamed = ''
    // `for…of` walks code points, so "😀" is one partial rather than two halves of a surrogate pair.
    for (const char of text) {
      if (streamed) await sleep(this.delayMs, signal)
      if (signal.aborted) break
      await emit({ type: 'partial', delta: char })
      streamed += char
    }
    await emit(signal.aborted ? { type: 'interrupt', text: streamed } : { type: 'final', text: streamed })
  }
}

/** The echo step for the registry; every session gets the server's `--echo-delay`. */
export const echoStep = (delayMs: number): StepFactory => ({
  name: 'echo',
  description: 'echoes your message back one character at a time (the demo)',
  create: () => new EchoStep(delayMs),
})
