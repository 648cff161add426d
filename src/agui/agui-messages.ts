import type { Message } from '@ag-ui/core'
import type { Conversation } from '../steps/step.ts'

/**
 * The conversation as AG-UI messages (`RunAgentInput.messages`): the user's messages, the answers, the tool calls an
 * answer made (`toolCalls`, arguments as JSON text) and their results (`role: "tool"`, content as text). The system
 * prompt is left out: an AG-UI agent brings its own instructions. Ids are the message's position in the
 * conversation, which the log rebuilds the same on every turn, so an agent that keeps its own history per thread
 * (LangGraph's checkpointer) recognises the messages it already has.
 */
export function toAguiMessages(conversation: Conversation): Message[] {
  const messages: Message[] = []
  for (const [i, message] of conversation.entries()) {
    const id = `msg-${i}`
    switch (message.role) {
      case 'system':
        break
      case 'user':
        messages.push({ id, role: 'user', content: message.content })
        break
      case 'assistant':
        messages.push({
          id,
          role: 'assistant',
          ...(message.content && { content: message.content }),
          ...(message.tool_calls?.length && {
            toolCalls: message.tool_calls.map((call) => ({
              id: call.id,
              type: 'function' as const,
              function: { name: call.name, arguments: JSON.stringify(call.input) ?? '{}' },
            })),
          }),
        })
        break
      case 'tool':
        messages.push({
          id,
          role: 'tool',
          toolCallId: message.tool_call_id,
          content: typeof message.result === 'string' ? message.result : (JSON.stringify(message.result) ?? 'null'),
        })
        break
    }
  }
  return messages
}
