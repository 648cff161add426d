import { type AGUIEvent, EventType } from '@ag-ui/core'
import { type NewEvent, unreachable } from '../events.ts'
import { encodeFrame } from '../sse/encode.ts'

/** A stored event as a follower reads it: the owner's stream has `session_id`, a viewer's does not; neither is used. */
export type FollowedEvent = NewEvent & { seq: number }

/**
 * stepstream → AG-UI (`@ag-ui/core` 1.0), the inverse of src/agui/agui-to-events.ts, for the AG-UI follow stream
 * (`GET /api/sessions/:id/stream?format=ag-ui`). One stored event becomes a group of AG-UI events: a `user` message
 * is RUN_STARTED and a user TEXT_MESSAGE, a `partial` the next TEXT_MESSAGE_CONTENT (after a TEXT_MESSAGE_START when
 * it opens a message), a `tool-call` TOOL_CALL_START/ARGS/END, a `tool-result` TOOL_CALL_RESULT, an `agent-step`
 * STEP_STARTED or STEP_FINISHED, an `agent-state` a STATE_SNAPSHOT, `final` RUN_FINISHED (success), `interrupt`
 * RUN_FINISHED (cancelled), `error` RUN_ERROR — each closing first whatever message is open, as a strict client
 * (the client's `verifyEvents`) expects.
 *
 * Stateful per connection (which run is open, which message), and pure. A connection that starts mid-run is first fed
 * the events before its cursor without sending them (`prime`), so it neither repeats a TEXT_MESSAGE_START the client
 * saw before the cut nor leaves one out.
 */
export class AguiFollower {
  /** The run whose RUN_STARTED was sent and whose end was not. */
  #run: string | undefined
  /** The open assistant text message, and whether the run streamed any text (else `final` sends its text whole). */
  #text: string | undefined
  #streamed = false
  /** The open reasoning message. */
  #reasoning: string | undefined

  /** @param threadId what the events name as their thread (AG-UI's word for a chat): the session id, or the viewer id on the read-only stream. */
  constructor(private readonly threadId: string) {}

  /** Feeds an event the client already has (before its cursor): the state moves on, nothing is sent. */
  prime(event: FollowedEvent): void {
    this.toAgui(event)
  }

  /** The AG-UI events one stored event stands for, in order (none for a `start` of a run already started). */
  toAgui(event: FollowedEvent): AGUIEvent[] {
    const out: AGUIEvent[] = []
    const timestamp = Date.parse(event.ts)
    const push = (e: AGUIEvent) => out.push(Number.isFinite(timestamp) ? { ...e, timestamp } : e)
    const runId = event.step_id
    if (this.#run !== runId) {
      // A run whose end retention removed (or never came, in a log cut short) is closed before the next one opens.
      if (this.#run !== undefined)
        this.#close(push, { type: EventType.RUN_FINISHED, threadId: this.threadId, runId: this.#run, outcome: { type: 'cancelled' } })
      this.#run = runId
      this.#streamed = false
      push({ type: EventType.RUN_STARTED, threadId: this.threadId, runId })
    }
    switch (event.type) {
      case 'user': {
        this.#endMessages(push)
        // A published run may hold several user messages: each its own id, or clients merge them into one.
        const messageId = `${runId}-user-${event.seq}`
        push({ type: EventType.TEXT_MESSAGE_START, messageId, role: 'user' })
        if (event.text) push({ type: EventType.TEXT_MESSAGE_CONTENT, messageId, delta: event.text })
        push({ type: EventType.TEXT_MESSAGE_END, messageId })
        break
      }
      case 'start':
        break
      case 'partial':
        this.#say(push, event.seq, event.delta)
        break
      case 'reasoning':
        this.#endText(push)
        if (!this.#reasoning) {
          this.#reasoning = `${runId}-reasoning-${event.seq}`
          push({ type: EventType.REASONING_START, messageId: this.#reasoning })
          push({ type: EventType.REASONING_MESSAGE_START, messageId: this.#reasoning, role: 'reasoning' })
        }
        if (event.delta) push({ type: EventType.REASONING_MESSAGE_CONTENT, messageId: this.#reasoning, delta: event.delta })
        break
      case 'tool-call': {
        this.#endMessages(push)
        const { id, name, input } = event.tool_call
        push({ type: EventType.TOOL_CALL_START, toolCallId: id, toolCallName: name })
        push({ type: EventType.TOOL_CALL_ARGS, toolCallId: id, delta: JSON.stringify(input) ?? '{}' })
        push({ type: EventType.TOOL_CALL_END, toolCallId: id })
        break
      }
      case 'tool-result': {
        this.#endMessages(push)
        const { id, result } = event.tool_result
        const content = typeof result === 'string' ? result : (JSON.stringify(result) ?? 'null')
        push({ type: EventType.TOOL_CALL_RESULT, messageId: `${runId}-result-${event.seq}`, toolCallId: id, content, role: 'tool' })
        break
      }
      case 'agent-step':
        this.#endMessages(push)
        push({ type: event.phase === 'started' ? EventType.STEP_STARTED : EventType.STEP_FINISHED, stepName: event.name })
        break
      case 'agent-state':
        push({ type: EventType.STATE_SNAPSHOT, snapshot: event.state })
        break
      case 'final':
      case 'interrupt':
        // A run that streamed no text (a published `final` alone, a crash's `interrupt`) sends its text whole.
        if (!this.#streamed && event.text) this.#say(push, event.seq, event.text)
        this.#close(push, {
          type: EventType.RUN_FINISHED,
          threadId: this.threadId,
          runId,
          outcome: { type: event.type === 'final' ? 'success' : 'cancelled' },
        })
        break
      case 'error':
        this.#close(push, { type: EventType.RUN_ERROR, message: event.error })
        break
      default:
        return unreachable(event)
    }
    return out
  }

  #say(push: (e: AGUIEvent) => void, seq: number, delta: string): void {
    this.#endReasoning(push)
    if (!this.#text) {
      this.#text = `${this.#run}-text-${seq}`
      push({ type: EventType.TEXT_MESSAGE_START, messageId: this.#text, role: 'assistant' })
    }
    this.#streamed = true
    if (delta) push({ type: EventType.TEXT_MESSAGE_CONTENT, messageId: this.#text, delta })
  }

  #close(push: (e: AGUIEvent) => void, closing: AGUIEvent): void {
    this.#endMessages(push)
    push(closing)
    this.#run = undefined
  }

  #endText(push: (e: AGUIEvent) => void): void {
    if (!this.#text) return
    push({ type: EventType.TEXT_MESSAGE_END, messageId: this.#text })
    this.#text = undefined
  }

  #endReasoning(push: (e: AGUIEvent) => void): void {
    if (!this.#reasoning) return
    push({ type: EventType.REASONING_MESSAGE_END, messageId: this.#reasoning })
    push({ type: EventType.REASONING_END, messageId: this.#reasoning })
    this.#reasoning = undefined
  }

  #endMessages(push: (e: AGUIEvent) => void): void {
    this.#endText(push)
    this.#endReasoning(push)
  }
}

/**
 * One stored event's group as SSE messages, AG-UI's way (`data:` the event's JSON, as `@ag-ui/encoder` writes it).
 * Only the group's last message carries `id: <seq>`: a client's Last-Event-ID then never points into the middle of a
 * group, so a resume starts at a group's first event. An event with no AG-UI counterpart sends nothing.
 */
export function encodeAguiGroup(seq: number, events: readonly AGUIEvent[]): string {
  return events
    .map((event, i) => encodeFrame({ ...(i === events.length - 1 && { id: String(seq) }), data: JSON.stringify(event) }))
    .join('')
}
