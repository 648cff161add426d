/**
 * Misuse of the Step API fails to type-check: `bun run typecheck` reads this file, and each `@ts-expect-error` below
 * fails the check if the line under it ever stops being an error. Never executed.
 */
import { defineStep } from 'stepstream'

defineStep({
  name: 'ok',
  async run(conversation, { partial, toolCall, toolResult, signal }) {
    const last = conversation.at(-1)
    if (last?.role === 'user') await partial(last.content)
    await toolCall({ id: 'a', name: 'b', input: {} })
    await toolResult('a', 42)
    return signal.aborted ? '' : 'done'
  },
})

defineStep({
  name: 'returns a number',
  // @ts-expect-error the answer is text
  async run() {
    return 42
  },
})

defineStep({
  name: 'streams a number',
  async run(_conversation, { partial }) {
    // @ts-expect-error a delta is text
    await partial(1)
    return ''
  },
})

defineStep({
  name: 'a tool call without a name',
  async run(_conversation, { toolCall }) {
    // @ts-expect-error a tool call has an id, a name and an input
    await toolCall({ id: 'a', input: {} })
    return ''
  },
})

defineStep({
  name: 'emits raw events',
  async run(_conversation, run) {
    // @ts-expect-error a defined step has no `emit`: it returns its answer instead of emitting a closing event
    await run.emit({ type: 'final', text: 'x' })
    return ''
  },
})

// @ts-expect-error a step needs a name
defineStep({
  async run() {
    return ''
  },
})
