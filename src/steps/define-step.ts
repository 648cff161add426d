import { type FinalMetaOf, fitEventText } from '../events.ts'
import { ERROR_MAX_CHARS } from '../limits.ts'
import type { Conversation, Step, ToolCallMessage } from './step.ts'
import type { StepFactory } from './step-registry.ts'

/** What a step defined with `defineStep` gets besides the conversation: its signal, its options, and its voice. */
export interface StepRun {
  /** Aborted when the user cancels the run or the server shuts down: stop soon (within `--cancel-grace`) and return. */
  readonly signal: AbortSignal
  /** The session's id (its owner id, a write capability: hand it only to a service you trust, as AG-UI's thread id). */
  readonly sessionId: string
  /** This run's id, the `step_id` of its events. */
  readonly runId: string
  /** The options the session was created with (`POST /api/sessions {"step", "options"}`); `{}` when none. */
  readonly options: Readonly<Record<string, unknown>>
  /** Streams the next piece of the answer; resolves once every viewer can see it. Never the whole text again. */
  partial(delta: string): Promise<void>
  /** Streams the next piece of the step's visible reasoning (shown collapsed; never part of the next turn). */
  reasoning(delta: string): Promise<void>
  /** Records a tool call the step makes (shown as a collapsible block). */
  toolCall(call: ToolCallMessage): Promise<void>
  /** Records the result of the tool call with id `id`. */
  toolResult(id: string, result: unknown): Promise<void>
  /** Marks that a named stage of the run began or ended (shown as a small line among the tool calls). */
  agentStep(name: string, phase: 'started' | 'finished'): Promise<void>
  /** Records the agent's whole state as it is now (shown as a collapsible block; the latest one wins). */
  agentState(state: unknown): Promise<void>
}

/** A whole answer with what is known about it (model, usage, timings), shown under the answer. */
export interface StepAnswer {
  text: string
  meta?: FinalMetaOf
}

export interface StepDefinition {
  /** The name sessions and `--step` use, and the `step_type` of its `start` events. */
  name: string
  /** One line for `--help` and for the error that lists the known steps. */
  description?: string
  /** Why this step cannot run as configured, as a sentence saying how to fix it; absent when it can. */
  unavailable?: string
  /** Checks and completes a new chat's options (see StepFactory.prepare); absent: kept as given. */
  prepare?: StepFactory['prepare']
  /** The models a new chat may choose from (see StepFactory.models). */
  models?: readonly string[]
  /**
   * Answers the conversation: streams with `run.partial(…)` and returns the whole answer (text, or text and meta),
   * which becomes the run's `final`. A throw becomes the run's `error` with the error's message (write it for the
   * person reading the chat) and the text streamed so far; returning or throwing after `run.signal` aborted ends the
   * run with `interrupt` instead.
   */
  run(conversation: Conversation, run: StepRun): Promise<string | StepAnswer>
}

/**
 * Turns a definition into a step the server can run: `start` first, then whatever the definition streams, then
 * exactly one of `final` (what it returned), `error` (what it threw) or `interrupt` (it was cancelled). The
 * built-in steps are written with it, and so can anyone's.
 */
export function defineStep(definition: StepDefinition): StepFactory {
  return {
    name: definition.name,
    description: definition.description ?? `the ${definition.name} step`,
    unavailable: definition.unavailable,
    prepare: definition.prepare,
    models: definition.models,
    create: (options): Step => ({
      type: definition.name,
      async run(conversation, { signal, emit, sessionId, runId }) {
        await emit({ type: 'start', step_type: definition.name })
        let streamed = ''
        const run: StepRun = {
          signal,
          // A step run alone (in a test) has no session: it gets ids of its own.
          sessionId: sessionId ?? crypto.randomUUID(),
          runId: runId ?? crypto.randomUUID(),
          options,
          partial: async (delta) => {
            await emit({ type: 'partial', delta })
            streamed += delta
          },
          reasoning: (delta) => emit({ type: 'reasoning', delta }),
          toolCall: (call) => emit({ type: 'tool-call', tool_call: call }),
          toolResult: (id, result) => emit({ type: 'tool-result', tool_result: { id, result } }),
          agentStep: (name, phase) => emit({ type: 'agent-step', name, phase }),
          agentState: (state) => emit({ type: 'agent-state', state }),
        }
        let answer: string | StepAnswer
        try {
          answer = await definition.run(conversation, run)
        } catch (error) {
          // After a cancel the runner interrupts the run with what was streamed, whatever the step threw.
          if (signal.aborted) throw error
          // What streamed before the failure stays with the error: the reader saw it, and a reload shows it again.
          return emit({ type: 'error', error: errorMessage(error), ...(streamed && { text: fitEventText(streamed) }) })
        }
        if (signal.aborted) return emit({ type: 'interrupt', text: fitEventText(streamed) })
        const { text, meta } = typeof answer === 'string' ? { text: answer, meta: undefined } : answer
        await emit({ type: 'final', text: fitEventText(text), ...(meta && { meta }) })
      },
    }),
  }
}

function errorMessage(error: unknown): string {
  const message = (error instanceof Error ? error.message : String(error)).trim() || 'The step failed.'
  return message.length > ERROR_MAX_CHARS ? `${message.slice(0, ERROR_MAX_CHARS - 1)}…` : message
}
