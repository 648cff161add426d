import { describe, expect, test } from 'bun:test'
import { AguiInputError, AguiRunMapper } from '../../src/agui/agui-to-events.ts'
import { MAX_AGENT_STATE_BYTES } from '../../src/limits.ts'

const fails = (fn: () => unknown): string => {
  try {
    fn()
  } catch (error) {
    if (error instanceof AguiInputError) return error.sentence
    throw error
  }
  throw new Error('expected an AguiInputError')
}

describe('AG-UI → stepstream (the mapper the agui step and the publish API share)', () => {
  test('TOOL_CALL_CHUNKs in a row are one call, ended by the next other event; a user text message is not the answer', () => {
    const m = new AguiRunMapper()
    expect(
      m.mapAll([
        { type: 'TOOL_CALL_CHUNK', toolCallId: 'a', toolCallName: 'search', delta: '{"q":' },
        { type: 'TOOL_CALL_CHUNK', delta: '"x"}' },
        { type: 'TOOL_CALL_CHUNK', toolCallId: 'b', toolCallName: 'noop' },
        { type: 'TEXT_MESSAGE_START', messageId: 'u', role: 'user' },
        { type: 'TEXT_MESSAGE_CONTENT', messageId: 'u', delta: 'echoed question' },
        { type: 'TEXT_MESSAGE_CHUNK', messageId: 'm', delta: 'Answer' },
        { type: 'RUN_FINISHED', threadId: 't', runId: 'r' },
      ]),
    ).toEqual([
      { type: 'tool-call', tool_call: { id: 'a', name: 'search', input: { q: 'x' } } },
      { type: 'tool-call', tool_call: { id: 'b', name: 'noop', input: {} } },
      { type: 'partial', delta: 'Answer' },
      { type: 'final', text: 'Answer' },
    ])
  })

  test('nothing may follow the run’s end; a state past the event size limit is refused', () => {
    const m = new AguiRunMapper()
    m.map({ type: 'RUN_ERROR', message: '' }, 1)
    expect(fails(() => m.map({ type: 'STEP_STARTED', stepName: 's' }, 2))).toBe(
      'AG-UI event 2 (STEP_STARTED) comes after the run finished; nothing may follow RUN_FINISHED or RUN_ERROR.',
    )
    const big = { type: 'STATE_SNAPSHOT', snapshot: { a: 'x'.repeat(MAX_AGENT_STATE_BYTES / 2), b: 'x'.repeat(MAX_AGENT_STATE_BYTES / 2) } }
    expect(fails(() => new AguiRunMapper().map(big, 4))).toBe(
      'AG-UI event 4 sets an agent state that is more than 1,048,576 bytes of JSON (the limit).',
    )
  })

  test('an empty RUN_ERROR message still gives the reader a sentence', () => {
    expect(new AguiRunMapper().map({ type: 'RUN_ERROR', message: ' ' }, 1)).toEqual([
      { type: 'error', error: 'The agent reported an error without a message.' },
    ])
  })
})
