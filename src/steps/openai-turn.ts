import { TurnSlicer } from '../next-turn.ts'
import type { ChatCompletionChunk } from 'openai/resources/chat/completions'
import type { FinalMetaOf } from '../events.ts'
import { AppError } from '../errors.ts'
import { EVENT_TEXT_MAX_CHARS, MAX_TOOL_CALLS_PER_TURN, NAME_MAX_CHARS } from '../limits.ts'
import { argumentsTooLong } from '../tool-arguments.ts'

type Usage = NonNullable<FinalMetaOf['usage']>

/** A new call of a turn that holds `count` already: a model may not ask for more than MAX_TOOL_CALLS_PER_TURN. */
function newCall(count: number): StreamedToolCall {
  if (count >= MAX_TOOL_CALLS_PER_TURN) throw turnRefused(`more than ${MAX_TOOL_CALLS_PER_TURN} tool calls in one answer (the limit)`)
  return { id: '', name: '', arguments: '' }
}

/** A model's answer that breaks a bound: the run ends with an error saying which. */
const turnRefused = (what: string) => new AppError('INVALID_EVENT', `The model sent ${what}, so the run stopped.`)

/** A tool call put together from its streamed fragments. */
export interface StreamedToolCall {
  id: string
  name: string
  /** The arguments' JSON text, as the model wrote it. */
  arguments: string
}

/** What one streamed chat completion said. */
export interface Turn {
  content: string
  toolCalls: StreamedToolCall[]
  /** `stop`, `tool_calls`, `length`…; undefined when the stream ended without one (it was cut). */
  finishReason?: string
  usage?: Usage
  model?: string
}

export interface TurnHandlers {
  /** Called for every delta that carries content, reasoning or a piece of a tool call (time to first token). */
  token(): void
  content(delta: string): Promise<void>
  reasoning(delta: string): Promise<void>
}

/**
 * Many servers (DeepSeek, vLLM, llama.cpp, LM Studio) stream a model's reasoning beside its answer, as
 * `reasoning_content`; OpenRouter and Ollama call it `reasoning`. Neither is in OpenAI's own types.
 */
type ReasoningDelta = { reasoning_content?: string | null; reasoning?: string | null }

/**
 * Reads one streamed completion: content and reasoning deltas go to `on` as they arrive; tool calls are put
 * together by their `index` (the id and name come first, the arguments in fragments, several calls interleaved) and
 * returned whole with the finish reason, the model and the usage chunk (the one with empty `choices`). Arguments longer
 * than an event may carry throw a ToolArgumentsError.
 */
export async function readTurn(chunks: AsyncIterable<ChatCompletionChunk>, on: TurnHandlers): Promise<Turn> {
  const turn: Turn = { content: '', toolCalls: [] }
  const calls = new Map<number, StreamedToolCall>()
  const slicer = new TurnSlicer()
  let argumentChars = 0
  for await (const chunk of chunks) {
    // A server streaming faster than we read is read in microtasks alone: let other requests in now and then.
    await slicer.pause()
    turn.model ??= chunk.model || undefined
    if (chunk.usage) turn.usage = usageOf(chunk.usage)
    const choice = chunk.choices?.[0]
    if (!choice) continue
    const delta = (choice.delta ?? {}) as ChatCompletionChunk.Choice.Delta & ReasoningDelta
    const reasoning = delta.reasoning_content ?? delta.reasoning
    if (reasoning || delta.content || delta.tool_calls?.length) on.token()
    if (reasoning) await on.reasoning(reasoning)
    if (delta.content) {
      turn.content += delta.content
      await on.content(delta.content)
    }
    for (const fragment of delta.tool_calls ?? []) {
      const call = calls.get(fragment.index) ?? newCall(calls.size)
      calls.set(fragment.index, call)
      if (fragment.id && !call.id) call.id = fragment.id
      const name = fragment.function?.name
      // OpenAI sends the name once; some servers repeat it in every fragment, which must not double it.
      if (name && name !== call.name) call.name += name
      if (call.name.length > NAME_MAX_CHARS) throw turnRefused(`a tool name longer than ${NAME_MAX_CHARS} characters (the limit)`)
      const more = fragment.function?.arguments ?? ''
      call.arguments += more
      argumentChars += more.length
      // A model can stream arguments without end, or spread them over ever new calls: they stop at the longest an
      // event may carry, one call's and all of a turn's.
      if (call.arguments.length > EVENT_TEXT_MAX_CHARS || argumentChars > EVENT_TEXT_MAX_CHARS) {
        throw argumentsTooLong(call.name.slice(0, NAME_MAX_CHARS))
      }
    }
    if (choice.finish_reason) turn.finishReason = choice.finish_reason
  }
  turn.toolCalls = [...calls.entries()]
    .sort(([a], [b]) => a - b)
    // A server that sends no id (some local ones) still needs one per call to pair results with calls.
    .map(([index, call]) => ({ ...call, id: call.id || `call_${index}_${crypto.randomUUID().slice(0, 8)}` }))
  return turn
}

function usageOf(usage: NonNullable<ChatCompletionChunk['usage']>): Usage {
  const counts: Usage = {}
  for (const key of ['prompt_tokens', 'completion_tokens', 'total_tokens'] as const) {
    const value = usage[key]
    if (Number.isInteger(value) && value >= 0) counts[key] = value
  }
  return counts
}

/** Usage summed over the requests of a run (a tool loop makes several). */
export function addUsage(a: Usage | undefined, b: Usage | undefined): Usage | undefined {
  if (!a || !b) return a ?? b
  const sum: Usage = {}
  for (const key of ['prompt_tokens', 'completion_tokens', 'total_tokens'] as const) {
    if (a[key] !== undefined || b[key] !== undefined) sum[key] = (a[key] ?? 0) + (b[key] ?? 0)
  }
  return sum
}
