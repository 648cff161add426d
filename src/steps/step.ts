import type { StepEvent } from '../events.ts'

/** One message of the conversation a step answers. */
export interface ChatMessage {
  role: 'system' | 'user' | 'assistant'
  content: string
}

export type Conversation = readonly ChatMessage[]

export interface StepContext {
  /** Aborted when the user cancels the run or the server shuts down. */
  signal: AbortSignal
  /** Appends one event to the session's log; resolves once it is stored (and so visible to every viewer). */
  emit(event: StepEvent): Promise<void>
}

/**
 * A unit of work that answers a conversation by emitting events: `start`, then `partial`s (and tool events), then
 * exactly one of `final`, `interrupt` or `error`. Steps know nothing of HTTP or HTML.
 */
export interface Step {
  /** Recorded in the `start` event (`echo`, `openai`, …). */
  readonly type: string
  run(input: Conversation, ctx: StepContext): Promise<void>
}

/** Resolves after `ms` milliseconds, or as soon as `signal` aborts. */
export function sleep(ms: number, signal: AbortSignal): Promise<void> {
  if (signal.aborted) return Promise.resolve()
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer)
      signal.removeEventListener('abort', done)
      resolve()
    }
    const timer = setTimeout(done, ms)
    signal.addEventListener('abort', done, { once: true })
  })
}
