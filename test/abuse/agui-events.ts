import fc from 'fast-check'
import { HOSTILE_IDS, jsonArb, LIMITS, textArb } from './arbitraries.ts'
import type { BodyRecipe } from './requests.ts'

/**
 * Hostile AG-UI event streams, as a program publishes them (`?format=ag-ui`) or an agent streams them to the agui
 * step: ids that are object keys of every plain object, tool arguments and states nested deep, STATE_DELTA patches
 * that copy the state into itself (each operation doubles it), giant single deltas.
 */

/** Ids a mapper might keep in a plain object: the prototype's own keys first. */
export const aguiIdArb = fc.oneof(
  { arbitrary: fc.constantFrom('__proto__', 'constructor', 'toString', 'hasOwnProperty', 'valueOf', 'prototype'), weight: 4 },
  { arbitrary: fc.constantFrom(...HOSTILE_IDS), weight: 1 },
  { arbitrary: fc.constantFrom('call-1', 'call-2', 'm1'), weight: 2 },
)

/** One tool call opened, fed and closed under `id`, its arguments in pieces (which may not be JSON). */
const toolCallArb = fc
  .record({
    id: aguiIdArb,
    name: fc.oneof(aguiIdArb, textArb),
    args: fc.array(fc.oneof(fc.constantFrom('{"a":', '1}', '[', '"x"'), textArb), { maxLength: 4 }),
  })
  .map(({ id, name, args }) => [
    { type: 'TOOL_CALL_START', toolCallId: id, toolCallName: name || 'tool' },
    ...args.map((delta) => ({ type: 'TOOL_CALL_ARGS', toolCallId: id, delta })),
    { type: 'TOOL_CALL_END', toolCallId: id },
  ])

/** Events of any kind an agent may send, some out of order (ARGS before START, END twice). */
const aguiEventArb: fc.Arbitrary<unknown[]> = fc.oneof(
  toolCallArb,
  aguiIdArb.map((id) => [{ type: 'TOOL_CALL_ARGS', toolCallId: id, delta: 'x' }]),
  aguiIdArb.map((id) => [{ type: 'TOOL_CALL_END', toolCallId: id }]),
  fc
    .record({ id: aguiIdArb, name: fc.option(aguiIdArb, { nil: undefined }), delta: fc.option(textArb, { nil: undefined }) })
    .map(({ id, name, delta }) => [{ type: 'TOOL_CALL_CHUNK', toolCallId: id, toolCallName: name, delta }]),
  fc.record({ id: aguiIdArb, delta: textArb }).map(({ id, delta }) => [
    { type: 'TEXT_MESSAGE_START', messageId: id, role: 'assistant' },
    { type: 'TEXT_MESSAGE_CONTENT', messageId: id, delta: delta || '.' },
    { type: 'TEXT_MESSAGE_END', messageId: id },
  ]),
  fc
    .record({ id: aguiIdArb, role: fc.constantFrom('user', 'assistant', 'developer') })
    .map(({ id, role }) => [{ type: 'TEXT_MESSAGE_CHUNK', messageId: id, role, delta: 'x' }]),
  fc
    .record({
      id: aguiIdArb,
      content: fc.oneof(
        textArb,
        jsonArb.map((j) => JSON.stringify(j)),
      ),
    })
    .map(({ id, content }) => [{ type: 'TOOL_CALL_RESULT', messageId: 'r', toolCallId: id, content, role: 'tool' }]),
  fc.oneof(aguiIdArb, textArb).map((name) => [{ type: 'STEP_STARTED', stepName: name }]),
  jsonArb.map((snapshot) => [{ type: 'STATE_SNAPSHOT', snapshot }]),
  fc
    .constantFrom('/__proto__/x', '/constructor/prototype/x', '/a', '', '/-')
    .map((path) => [{ type: 'STATE_DELTA', delta: [{ op: 'add', path, value: 1 }] }]),
  fc.constantFrom<unknown[][]>(
    [{ type: 'RUN_FINISHED', threadId: 't', runId: 'r' }],
    [{ type: 'RUN_ERROR', message: 'the agent failed' }],
    [{ type: 'RUN_ERROR', message: '' }],
    [{ type: 'NOT_A_TYPE' }],
    [{}],
    [null],
    ['text'],
    [{ type: 'CUSTOM', name: '__proto__', value: { __proto__: 1 } }],
  ),
)

/** A request's worth of AG-UI events: a few groups, as JSON. */
export const aguiEventsArb: fc.Arbitrary<unknown[]> = fc.array(aguiEventArb, { minLength: 1, maxLength: 5 }).map((groups) => groups.flat())

/** `n` STATE_DELTA operations that each copy the whole state into a new member: the state doubles with each. */
export function copyDoubling(n: number, perEvent: boolean): unknown[] {
  const ops = Array.from({ length: n }, (_, i) => ({ op: 'copy', from: '', path: `/c${i}` }))
  const seed = { type: 'STATE_SNAPSHOT', snapshot: { s: 'x'.repeat(64) } }
  return perEvent ? [seed, ...ops.map((op) => ({ type: 'STATE_DELTA', delta: [op] }))] : [seed, { type: 'STATE_DELTA', delta: ops }]
}

/** Bodies of an AG-UI publish that are large or deep rather than many: built as text, never as objects here. */
export const aguiHeavyBodyArb: fc.Arbitrary<BodyRecipe> = fc.oneof(
  fc
    .record({ n: fc.integer({ min: 10, max: 30 }), perEvent: fc.boolean() })
    .map(({ n, perEvent }) => ({ json: copyDoubling(n, perEvent) })),
  fc.constantFrom(...LIMITS.filter((l) => l <= 200_000), 10_000, 60_000).map((depth) => ({
    deep: 'array' as const,
    depth,
    prefix: '[{"type":"TOOL_CALL_START","toolCallId":"d","toolCallName":"deep"},{"type":"TOOL_CALL_ARGS","toolCallId":"d","delta":"',
    suffix: '"},{"type":"TOOL_CALL_END","toolCallId":"d"}]',
  })),
  fc.constantFrom(64, 1000, 10_000, 60_000).map((depth) => ({
    deep: 'object' as const,
    depth,
    prefix: '[{"type":"STATE_SNAPSHOT","snapshot":',
    suffix: '}]',
  })),
  fc.constantFrom(...LIMITS.filter((l) => l <= 1_100_000)).map((n) => ({
    repeat: 'x',
    times: n,
    prefix: '[{"type":"TEXT_MESSAGE_CONTENT","messageId":"m","delta":"',
    suffix: '"}]',
  })),
)
