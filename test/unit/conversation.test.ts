import { expect, test } from 'bun:test'
import type { StepEvent, StoredEvent } from '../../src/events.ts'
import { conversationOf, SYSTEM_PROMPT } from '../../src/steps/conversation.ts'

const ts = '2026-11-25T10:00:00.000Z'
const log = (events: (StepEvent & { step_id: string })[]): StoredEvent[] =>
  events.map((event, i) => ({ ...event, ts, seq: i + 1, session_id: 's' }) as StoredEvent)

test('a step sees the whole conversation: messages, tool calls grouped per round, their results, and answers', () => {
  const conversation = conversationOf(
    log([
      { type: 'user', step_id: 'r1', text: 'add 2 and 3, and 4 and 5' },
      { type: 'start', step_id: 'r1', step_type: 'openai' },
      { type: 'partial', step_id: 'r1', delta: 'Let me add.' },
      { type: 'tool-call', step_id: 'r1', tool_call: { id: 'c1', name: 'add', input: { a: 2, b: 3 } } },
      { type: 'tool-call', step_id: 'r1', tool_call: { id: 'c2', name: 'add', input: { a: 4, b: 5 } } },
      { type: 'tool-result', step_id: 'r1', tool_result: { id: 'c1', result: 5 } },
      { type: 'tool-result', step_id: 'r1', tool_result: { id: 'c2', result: { sum: 9 } } },
      { type: 'tool-call', step_id: 'r1', tool_call: { id: 'c3', name: 'check', input: {} } },
      { type: 'tool-result', step_id: 'r1', tool_result: { id: 'c3', result: 'ok' } },
      { type: 'final', step_id: 'r1', text: 'Let me add. 5 and 9.' },
      { type: 'user', step_id: 'r2', text: 'again' },
      { type: 'error', step_id: 'r2', error: 'The model is unavailable.' },
      { type: 'user', step_id: 'r3', text: 'once more' },
      { type: 'partial', step_id: 'r3', delta: 'Half' },
      { type: 'interrupt', step_id: 'r3', text: 'Half' },
      { type: 'user', step_id: 'r4', text: 'last' },
    ]),
  )
  expect(conversation).toEqual([
    { role: 'system', content: SYSTEM_PROMPT },
    { role: 'user', content: 'add 2 and 3, and 4 and 5' },
    {
      role: 'assistant',
      content: '',
      tool_calls: [
        { id: 'c1', name: 'add', input: { a: 2, b: 3 } },
        { id: 'c2', name: 'add', input: { a: 4, b: 5 } },
      ],
    },
    { role: 'tool', tool_call_id: 'c1', result: 5 },
    { role: 'tool', tool_call_id: 'c2', result: { sum: 9 } },
    { role: 'assistant', content: '', tool_calls: [{ id: 'c3', name: 'check', input: {} }] },
    { role: 'tool', tool_call_id: 'c3', result: 'ok' },
    { role: 'assistant', content: 'Let me add. 5 and 9.' },
    { role: 'user', content: 'again' },
    { role: 'user', content: 'once more' },
    { role: 'assistant', content: 'Half' },
    { role: 'user', content: 'last' },
  ])
})
