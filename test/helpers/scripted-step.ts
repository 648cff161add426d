import { sleep, type Conversation, type Step, type StepContext } from '../../src/steps/step.ts'
import { Hold } from './hold.ts'

/** Markdown the scripted step answers with when asked for "markdown". */
export const MARKDOWN_ANSWER = '## Plan\n\n- first\n- second\n\nSee [the docs](https://example.com/docs).\n\n```ts\nconst x = 1 < 2\n```'

/**
 * A message that starts with this is answered as the rest of it would be, but the answer holds after its first
 * HELD_AFTER characters until the test calls `release()` (or cancels the run).
 */
export const HOLD = 'hold: '
/** Characters a held answer streams before it holds. */
export const HELD_AFTER = 10

/**
 * A step for tests only: what it does depends on the user's message, so one server can show every event type.
 * - "tools": streams a little text, calls a tool, gets its result, then finishes;
 * - "error": streams a little, then fails with a sentence;
 * - "markdown": streams MARKDOWN_ANSWER;
 * - anything else: echoes the message, like the echo step;
 * - any of these after HOLD ("hold: markdown"): the same, held part-way (see HOLD).
 */
export class ScriptedStep implements Step {
  readonly type = 'scripted'
  readonly #hold = new Hold()

  /** @param delayMs between two characters; milliseconds, default 5 (for the look of a stream, never for a race). */
  constructor(private readonly delayMs = 5) {}

  /** Resolves once an answer is holding (at once if one already is). */
  held(): Promise<void> {
    return this.#hold.held()
  }

  /** Lets every holding answer stream the rest and finish. */
  release(): void {
    this.#hold.release()
  }

  async run(input: Conversation, { signal, emit }: StepContext): Promise<void> {
    const asked = input.findLast((m) => m.role === 'user')?.content ?? ''
    const holds = asked.startsWith(HOLD)
    const message = holds ? asked.slice(HOLD.length) : asked
    let streamed = 0
    await emit({ type: 'start', step_type: this.type })
    const stream = async (text: string) => {
      for (const char of text) {
        if (holds && streamed++ === HELD_AFTER) await this.#hold.here(signal)
        await sleep(this.delayMs, signal)
        if (signal.aborted) return false
        await emit({ type: 'partial', delta: char })
      }
      return true
    }
    // On cancel the step just returns: the runner closes the run with an interrupt holding what was streamed.
    if (message === 'tools') {
      if (!(await stream('Let me add those. '))) return
      await emit({ type: 'tool-call', tool_call: { id: 'call_1', name: 'add', input: { a: 2, b: 3, note: '<b>not bold</b>' } } })
      await emit({ type: 'tool-result', tool_result: { id: 'call_1', result: { sum: 5 } } })
      if (!(await stream('The sum is 5.'))) return
      return emit({ type: 'final', text: 'Let me add those. The sum is 5.' })
    }
    if (message === 'error') {
      if (!(await stream('Thinking'))) return
      return emit({ type: 'error', error: 'The model service answered 503: try again in a minute.' })
    }
    const text = message === 'markdown' ? MARKDOWN_ANSWER : message
    if (await stream(text)) await emit({ type: 'final', text })
  }
}
