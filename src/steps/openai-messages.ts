import type { ChatCompletionMessageParam } from 'openai/resources/chat/completions'
import type { Conversation } from './step.ts'

const toolContent = (result: unknown) => (typeof result === 'string' ? result : (JSON.stringify(result) ?? 'null'))
const toolArguments = (input: unknown) => (typeof input === 'string' ? input : (JSON.stringify(input) ?? '{}'))

/**
 * The conversation as chat completion messages, with `systemPrompt` as its system message. Chat APIs refuse a
 * history where an assistant's tool call has no result after it (a run cancelled or failed between the two), or a
 * result answers no call: such calls and results are left out, and the rest of the turn kept.
 */
export function toChatMessages(conversation: Conversation, systemPrompt: string): ChatCompletionMessageParam[] {
  const answered = new Set(conversation.flatMap((m) => (m.role === 'tool' ? [m.tool_call_id] : [])))
  const called = new Set<string>()
  const messages: ChatCompletionMessageParam[] = []
  for (const message of conversation) {
    switch (message.role) {
      case 'system':
        messages.push({ role: 'system', content: systemPrompt })
        break
      case 'user':
        messages.push({ role: 'user', content: message.content })
        break
      case 'assistant': {
        const calls = (message.tool_calls ?? []).filter((call) => answered.has(call.id))
        for (const call of calls) called.add(call.id)
        if (calls.length === 0 && !message.content) break
        messages.push({
          role: 'assistant',
          content: message.content || null,
          ...(calls.length > 0 && {
            tool_calls: calls.map((call) => ({
              id: call.id,
              type: 'function' as const,
              function: { name: call.name, arguments: toolArguments(call.input) },
            })),
          }),
        })
        break
      }
      case 'tool':
        if (called.has(message.tool_call_id))
          messages.push({ role: 'tool', tool_call_id: message.tool_call_id, content: toolContent(message.result) })
        break
    }
  }
  return messages
}
