import { defineStep } from './define-step.ts'
import { sleep } from './step.ts'

/** What the echo's timetable reads and waits on: the real clock, or a test's that checks the timetable without waiting. */
export interface EchoClock {
  /** Now, in milliseconds (monotonic: performance.now()). */
  now(): number
  /** Resolves after `ms` milliseconds, or at once when `signal` aborts. */
  sleep(ms: number, signal: AbortSignal): Promise<void>
}

const REAL_CLOCK: EchoClock = { now: () => performance.now(), sleep }

/**
 * The demo step: echoes the last user message back one code point at a time, `delayMs` apart (the CLI's
 * `--echo-delay`, milliseconds, default 50).
 *
 * It keeps its own timetable, as a model behind a network does: token i is due `i × delayMs` after the first, and a
 * slow append delays the tokens behind it only until they are due, after which they go at once. Sleeping `delayMs`
 * after each append instead added the store's latency to every token, so a server under load offered fewer tokens
 * per second than the flag said (the many-runs benchmark measured its own echo, not the server).
 */
export const echoStep = (delayMs: number, clock: EchoClock = REAL_CLOCK) =>
  defineStep({
    name: 'echo',
    description: 'echoes your message back one character at a time (the demo)',
    async run(conversation, { signal, partial }) {
      const last = conversation.findLast((m) => m.role === 'user')
      const text = last?.role === 'user' ? last.content : ''
      let streamed = ''
      let due = clock.now()
      // `for…of` walks code points, so "😀" is one partial rather than two halves of a surrogate pair.
      for (const char of text) {
        // Behind the timetable it still yields a timer turn, as it always did: with `--echo-delay 0` it is the feeder
        // of the fan-out benchmark, whose baseline does the same.
        if (streamed) {
          due += delayMs
          await clock.sleep(Math.max(0, due - clock.now()), signal)
        }
        if (signal.aborted) break
        await partial(char)
        streamed += char
      }
      return streamed
    },
  })
