import type { StepEvent } from '../events.ts'
import { abortSet } from '../abort-set.ts'

/** A tool call as the conversation carries it (the `tool-call` event's payload). */
export interface ToolCallMessage {
  id: string
  name: string
  input: unknown
}

/**
 * One message of the conversation a step answers: what the session's log says so far, tool calls and results
 * included, in the order they happened.
 */
export type ChatMessage =
  | { role: 'system'; content: string }
  | { role: 'user'; content: string }
  /** An answer; `tool_calls` when the step asked for tools in it (its `content` may then be empty). */
  | { role: 'assistant'; content: string; tool_calls?: ToolCallMessage[] }
  /** A tool's answer to the call with id `tool_call_id`. */
  | { role: 'tool'; tool_call_id: string; result: unknown }

export type Conversation = readonly ChatMessage[]

export interface StepContext {
  /** Aborted when the user cancels the run or the server shuts down; a step then has `--cancel-grace` to return. */
  signal: AbortSignal
  /**
   * Appends one event to the session's log; resolves once it is stored (and so visible to every viewer). Rejects,
   * storing nothing, once the run has ended: after its closing event, or after the cancel grace ran out.
   */
  emit(event: StepEvent): Promise<void>
  /** The session the run belongs to (its owner id): an AG-UI agent's thread. Absent where a test runs a step alone. */
  sessionId?: string
  /** The run's id (the `step_id` of its events): an AG-UI agent's run. Absent where a test runs a step alone. */
  runId?: string
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

/** The step a session runs: a registered name and the options it was created with. */
export interface StepSpec {
  name: string
  options?: Record<string, unknown>
}

/** The sleeps waiting on each signal: one abort listener per signal wakes them all (many-runs bench). */
const sleepers = new WeakMap<AbortSignal, Set<() => void>>()
const wake = (done: () => void) => done()

/**
 * Resolves after `ms` milliseconds, or as soon as `signal` aborts. The echo sleeps once per token: adding and removing
 * an abort listener each time cost more than the timer, so a signal gets one listener, at its first sleep.
 */
export function sleep(ms: number, signal: AbortSignal): Promise<void> {
  if (signal.aborted) return Promise.resolve()
  const waiting = abortSet(sleepers, signal, wake)
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer)
      waiting.delete(done)
      resolve()
    }
    const timer = setTimeout(done, ms)
    waiting.add(done)
  })
}
