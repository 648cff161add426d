import type { StoredEvent } from '../events.ts'
import type { ChatMessage, Conversation } from './step.ts'

/** The system prompt of the original tutorial's default conversation. */
export const SYSTEM_PROMPT = 'You are a helpful assistant.'

/** The first user message `/start` sends, as in the original tutorial. */
export const DEFAULT_USER_MESSAGE = 'Hello! Please tell me a short story about a robot.'

/** Rebuilds the conversation a step answers from a session's log: user messages and finished answers, in order. */
export function conversationOf(events: Iterable<StoredEvent>): Conversation {
  const messages: ChatMessage[] = [{ role: 'system', content: SYSTEM_PROMPT }]
  for (const event of events) {
    if (event.type === 'user') messages.push({ role: 'user', content: event.text })
    else if ((event.type === 'final' || event.type === 'interrupt') && event.text) {
      messages.push({ role: 'assistant', content: event.text })
    }
  }
  return messages
}
