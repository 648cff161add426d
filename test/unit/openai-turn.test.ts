import { expect, test } from 'bun:test'
import type { ChatCompletionChunk } from 'openai/resources/chat/completions'
import { AppError } from '../../src/errors.ts'
import { EVENT_TEXT_MAX_CHARS, MAX_TOOL_CALLS_PER_TURN, NAME_MAX_CHARS } from '../../src/limits.ts'
import { readTurn } from '../../src/steps/openai-turn.ts'
import { ToolArgumentsError } from '../../src/tool-arguments.ts'

const handlers = { token: () => {}, content: async () => {}, reasoning: async () => {} }

/** A model's stream of tool call fragments, as many as `fragments` gives, then (if it ever gets there) the end. */
async function* stream(fragments: Iterable<ChatCompletionChunk.Choice.Delta.ToolCall>): AsyncGenerator<ChatCompletionChunk> {
  for (const call of fragments)
    yield {
      id: 'c',
      object: 'chat.completion.chunk',
      created: 0,
      model: 'm',
      choices: [{ index: 0, delta: { tool_calls: [call] }, finish_reason: null }],
    }
}

/** What readTurn threw, and how many fragments it had read by then. */
async function refusal(fragments: (i: number) => ChatCompletionChunk.Choice.Delta.ToolCall, most: number) {
  let read = 0
  const counted = function* () {
    for (; read < most; read++) yield fragments(read)
  }
  const error = await readTurn(stream(counted()), handlers).then(
    () => undefined,
    (e: unknown) => e,
  )
  return { error, read }
}

test('a model asking for ever new tool calls is stopped at the most one answer may hold', async () => {
  const { error, read } = await refusal((i) => ({ index: i, id: `call_${i}`, function: { name: 'add', arguments: '{}' } }), 100_000)
  expect(error).toBeInstanceOf(AppError)
  expect((error as AppError).message).toBe(
    `The model sent more than ${MAX_TOOL_CALLS_PER_TURN} tool calls in one answer (the limit), so the run stopped.`,
  )
  expect(read).toBe(MAX_TOOL_CALLS_PER_TURN)
})

test('arguments spread over many calls are bounded in all, not only call by call', async () => {
  const piece = 'x'.repeat(100_000)
  const { error, read } = await refusal((i) => ({ index: i % 100, function: { name: 'add', arguments: piece } }), 100_000)
  expect(error).toBeInstanceOf(ToolArgumentsError)
  expect(read).toBe(Math.floor(EVENT_TEXT_MAX_CHARS / piece.length))
})

test('a tool name that keeps growing is refused past the longest name', async () => {
  const { error, read } = await refusal((i) => ({ index: 0, function: { name: `n${i}` } }), 100_000)
  expect((error as AppError).message).toBe(
    `The model sent a tool name longer than ${NAME_MAX_CHARS} characters (the limit), so the run stopped.`,
  )
  expect(read).toBeLessThan(NAME_MAX_CHARS)
})
