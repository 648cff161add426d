import { type StoredEvent, unreachable } from '../events.ts'
import { SYSTEM_PROMPT } from '../defaults.ts'
import type { ChatMessage, Conversation } from './step.ts'

/** The system prompt of the original tutorial's default conversation (written in defaults.ts, the openai step's too). */
export { SYSTEM_PROMPT }

/** The first user message `/start` sends, as in the original tutorial. */
export const DEFAULT_USER_MESSAGE = 'Hello! Please tell me a short story about a robot.'

/**
 * Rebuilds the conversation a step answers from a session's log, in order: user messages, the tool calls an answer
 * made (one assistant message per round of calls) and their results, and finished or interrupted answers. Partial
 * text and errors are not part of it: a closing event carries the whole answer, and an error produced none. Reasoning
 * is not either: it is shown to people, and chat APIs ask that a model's earlier reasoning not be sent back to it.
 */
export function conversationOf(events: Iterable<StoredEvent>): Conversation {
  const messages: ChatMessage[] = [{ role: 'system', content: SYSTEM_PROMPT }]
  for (const event of events) {
    switch (event.type) {
      case 'user':
        messages.push({ role: 'user', content: event.text })
        break
      case 'tool-call': {
        const last = messages.at(-1)
        // Calls made together (no result in between) are one assistant turn, as chat APIs expect them.
        if (last?.role === 'assistant' && last.tool_calls) last.tool_calls.push({ ...event.tool_call })
        else messages.push({ role: 'assistant', content: '', tool_calls: [{ ...event.tool_call }] })
        break
      }
      case 'tool-result':
        messages.push({ role: 'tool', tool_call_id: event.tool_result.id, result: event.tool_result.result })
        break
      case 'final':
      case 'interrupt':
        if (event.text) messages.push({ role: 'assistant', content: event.text })
        break
      case 'start':
      case 'partial':
      case 'reasoning':
      case 'error':
      // What an agent shows of its stages and state is for people; an AG-UI agent keeps its own state per thread.
      case 'agent-step':
      case 'agent-state':
        break
      default:
        return unreachable(event)
    }
  }
  return messages
}
