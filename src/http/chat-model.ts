import type { SessionRecord } from '../log/event-store.ts'

/** The model a chat chose at New Chat, as its step spec records it (the openai step's); undefined for other chats. */
export function chatModel(session: Pick<SessionRecord, 'step'>): string | undefined {
  const model = session.step.options?.model
  return typeof model === 'string' ? model : undefined
}
