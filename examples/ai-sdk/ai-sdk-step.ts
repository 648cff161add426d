import { type LanguageModel, type ModelMessage, stepCountIs, streamText, type ToolSet } from 'ai'
import { type Conversation, defineStep } from 'stepstream'

export interface AiSdkStepOptions {
  /** The step's name, for `--step` and `POST /api/sessions {"step"}`. */
  name: string
  description?: string
  /** Any AI SDK model: `openai.chat('gpt-4o-mini')` (Chat Completions, which OpenAI-compatible servers have), or a test's mock. */
  model: LanguageModel
  /** AI SDK tools with an `execute`: the SDK runs them, and their calls and results stream into the chat. */
  tools?: ToolSet
  /** Model calls a run may make (tool rounds + the answer); default 5. */
  maxSteps?: number
}

/**
 * A stepstream step from the Vercel AI SDK's `streamText(…).fullStream`: text deltas stream as `partial`, reasoning
 * as `reasoning`, tool calls and their results as `tool-call` and `tool-result`; the answer is the run's `final`.
 * Cancel aborts the model request; an error becomes the run's `error`.
 */
export const aiSdkStep = (options: AiSdkStepOptions) =>
  defineStep({
    name: options.name,
    description: options.description,
    async run(conversation, { signal, partial, reasoning, toolCall, toolResult }) {
      const result = streamText({
        model: options.model,
        ...toModelPrompt(conversation),
        tools: options.tools,
        stopWhen: stepCountIs(options.maxSteps ?? 5),
        abortSignal: signal,
        // The error part of fullStream ends the run with it (below): no second report on the server's console.
        onError: () => {},
      })
      let text = ''
      for await (const part of result.fullStream) {
        switch (part.type) {
          case 'text-delta':
            text += part.text
            await partial(part.text)
            break
          case 'reasoning-delta':
            await reasoning(part.text)
            break
          case 'tool-call':
            await toolCall({ id: part.toolCallId, name: part.toolName, input: part.input })
            break
          case 'tool-result':
            await toolResult(part.toolCallId, part.output)
            break
          case 'tool-error':
            // The model sees the error as the tool's answer; the reader does too.
            await toolResult(part.toolCallId, { error: part.error instanceof Error ? part.error.message : String(part.error) })
            break
          case 'error':
            throw new Error(`The model failed: ${part.error instanceof Error ? part.error.message : String(part.error)}`)
        }
      }
      return text
    },
  })

/**
 * The conversation as the AI SDK's prompt: system messages as its `instructions` (it refuses them among the
 * messages), tool calls as assistant parts, and each result named after its tool.
 */
export function toModelPrompt(conversation: Conversation): { instructions?: string; messages: ModelMessage[] } {
  const toolNames = new Map<string, string>()
  const system: string[] = []
  const messages: ModelMessage[] = []
  for (const message of conversation) {
    if (message.role === 'system') system.push(message.content)
    else if (message.role === 'user') messages.push({ role: 'user', content: message.content })
    else if (message.role === 'tool') {
      const toolName = toolNames.get(message.tool_call_id) ?? 'unknown'
      const output = { type: 'json' as const, value: (message.result ?? null) as never }
      messages.push({ role: 'tool', content: [{ type: 'tool-result', toolCallId: message.tool_call_id, toolName, output }] })
    } else if (!message.tool_calls) messages.push({ role: 'assistant', content: message.content })
    else {
      for (const call of message.tool_calls) toolNames.set(call.id, call.name)
      const text = message.content ? [{ type: 'text' as const, text: message.content }] : []
      const calls = message.tool_calls.map((call) => ({
        type: 'tool-call' as const,
        toolCallId: call.id,
        toolName: call.name,
        input: call.input,
      }))
      messages.push({ role: 'assistant', content: [...text, ...calls] })
    }
  }
  return { ...(system.length > 0 && { instructions: system.join('\n\n') }), messages }
}
