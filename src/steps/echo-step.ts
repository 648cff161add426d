import { defineStep } from './define-step.ts'
import { sleep } from './step.ts'

/**
 * The demo step: echoes the last user message back one code point at a time, `delayMs` apart (the CLI's
 * `--echo-delay`, milliseconds, default 50).
 */
export const echoStep = (delayMs: number) =>
  defineStep({
    name: 'echo',
    description: 'echoes your message back one character at a time (the demo)',
    async run(conversation, { signal, partial }) {
      const last = conversation.findLast((m) => m.role === 'user')
      const text = last?.role === 'user' ? last.content : ''
      let streamed = ''
      // `for…of` walks code points, so "😀" is one partial rather than two halves of a surrogate pair.
      for (const char of text) {
        if (streamed) await sleep(delayMs, signal)
        if (signal.aborted) break
        await partial(char)
        streamed += char
      }
      return streamed
    },
  })
