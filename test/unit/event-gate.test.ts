import { describe, expect, test } from 'bun:test'
import fc from 'fast-check'
import { applyOperation, applyPatch, getValueByPointer, type Operation } from 'fast-json-patch'
import { AguiInputError, AguiRunMapper } from '../../src/agui/agui-to-events.ts'
import { applyStatePatch, PatchRefusal, STATE_BOUNDS } from '../../src/agui/state-patch.ts'
import { validateNewEvent } from '../../src/events.ts'
import { type JsonBounds, jsonProblem, measureJson, measuredJson } from '../../src/json-shape.ts'
import {
  ERROR_MAX_CHARS,
  EVENT_TEXT_MAX_CHARS,
  MAX_AGENT_STATE_BYTES,
  MAX_AGUI_OPEN,
  MAX_EVENT_BYTES,
  MAX_EVENT_DEPTH,
  MAX_EVENT_NODES,
  MAX_PATCH_OPERATIONS,
} from '../../src/limits.ts'
import { parseToolArguments, ToolArgumentsError } from '../../src/tool-arguments.ts'

/** `[[[…]]]` or `{"a":{"a":…}}` nested `levels` deep, made by JSON.parse as a request body would be. */
const deepArray = (levels: number) => JSON.parse('['.repeat(levels) + ']'.repeat(levels))
const deepObject = (levels: number) => JSON.parse(`${'{"a":'.repeat(levels)}1${'}'.repeat(levels)}`)
const envelope = { step_id: 'r1', ts: '2026-01-01T00:00:00.000Z' }
const toolCall = (input: unknown) => ({ type: 'tool-call', ...envelope, tool_call: { id: 'c', name: 'n', input } })

describe('the shape of a JSON value (json-shape.ts)', () => {
  test('counts the bytes of the value’s JSON in UTF-8 exactly', () => {
    fc.assert(
      fc.property(fc.jsonValue(), (value) => {
        expect(measureJson(value).bytes).toBe(Buffer.byteLength(JSON.stringify(value)))
      }),
      { numRuns: 300 },
    )
    const strings = ['', 'é', '😀', '\u0000\n"\\', '\ud800', '\u2028']
    expect(measureJson({ [strings.join('')]: strings }).bytes).toBe(Buffer.byteLength(JSON.stringify({ [strings.join('')]: strings })))
  })

  test('measuredJson answers as jsonProblem does, at every bound, and its JSON is the value’s', () => {
    const text = fc.oneof(fc.string(), fc.string({ unit: 'binary' }), fc.constantFrom('\ud800', '\u0000\n"\\', '😀é', 'x'.repeat(40)))
    const flat = fc.dictionary(text, fc.oneof(text, fc.double(), fc.integer(), fc.boolean(), fc.constant(null), fc.constant(undefined)), {
      maxKeys: 20,
    })
    const bounds = fc.record<JsonBounds>({
      depth: fc.integer({ min: 0, max: 3 }),
      nodes: fc.integer({ min: 1, max: 12 }),
      stringChars: fc.integer({ min: 0, max: 50 }),
      bytes: fc.integer({ min: 0, max: 400 }),
    })
    fc.assert(
      fc.property(fc.oneof(flat, fc.jsonValue()), bounds, (value, bounds) => {
        const measured = measuredJson(value, bounds)
        expect(measured.problem).toEqual(jsonProblem(value, bounds))
        if (measured.json !== undefined) expect(measured.json).toBe(JSON.stringify(value))
      }),
      { numRuns: 3000 },
    )
    // A token, as a step emits it: its JSON comes from the measure, not from a second stringify.
    expect(measuredJson({ type: 'partial', delta: 'x', ...envelope }).json).toBe(
      JSON.stringify({ type: 'partial', delta: 'x', ...envelope }),
    )
  })

  test('walks 60,000 levels without overflowing the stack, and names the depth limit', () => {
    expect(jsonProblem(deepArray(60_000))).toEqual({
      bound: 'depth',
      status: 422,
      detail: 'is nested more than 64 levels deep (the limit)',
    })
    expect(jsonProblem(deepObject(60_000))?.bound).toBe('depth')
    expect(jsonProblem(deepArray(MAX_EVENT_DEPTH))).toBeUndefined()
    expect(jsonProblem(deepArray(MAX_EVENT_DEPTH + 1))?.bound).toBe('depth')
  })

  test('refuses too many values (422), a string too long or too many bytes (413)', () => {
    expect(jsonProblem(new Array(MAX_EVENT_NODES - 1).fill(0))).toBeUndefined()
    expect(jsonProblem(new Array(MAX_EVENT_NODES).fill(0))).toMatchObject({ bound: 'nodes', status: 422 })
    expect(jsonProblem({ s: 'x'.repeat(EVENT_TEXT_MAX_CHARS + 1) })).toMatchObject({ bound: 'stringChars', status: 413 })
    expect(jsonProblem({ ['k'.repeat(EVENT_TEXT_MAX_CHARS + 1)]: 1 })).toMatchObject({ bound: 'stringChars', status: 413 })
    const heavy = new Array(7).fill('x'.repeat(EVENT_TEXT_MAX_CHARS))
    expect(jsonProblem(heavy)).toEqual({ bound: 'bytes', status: 413, detail: 'is more than 6,291,456 bytes of JSON (the limit)' })
  })
})

describe('the event gate (validateNewEvent), whatever made the event', () => {
  test('a tool input nested past the limit is refused with a 422 naming it; one level less is taken', () => {
    expect(validateNewEvent(toolCall(deepArray(60_000)))).toEqual({
      code: 'INVALID_EVENT',
      detail: 'tool-call event is nested more than 64 levels deep (the limit)',
    })
    expect(validateNewEvent(toolCall(deepArray(MAX_EVENT_DEPTH - 2)))).toBeUndefined()
    expect(validateNewEvent(toolCall(deepArray(MAX_EVENT_DEPTH - 1)))?.code).toBe('INVALID_EVENT')
  })

  test('an event past MAX_EVENT_BYTES is refused with a 413', () => {
    const state = { a: 'x'.repeat(EVENT_TEXT_MAX_CHARS), b: 'x'.repeat(EVENT_TEXT_MAX_CHARS) }
    const big = { type: 'agent-state', ...envelope, state: { ...state, c: { ...state }, d: { ...state }, e: state.a } }
    expect(validateNewEvent(big)).toEqual({
      code: 'EVENT_TOO_LARGE',
      detail: `agent-state event is more than ${MAX_EVENT_BYTES.toLocaleString('en')} bytes of JSON (the limit)`,
    })
  })

  test('the longest closing event the text limits admit fits, even of characters JSON escapes six bytes each', () => {
    const worst = '\u0001'.repeat(EVENT_TEXT_MAX_CHARS)
    const error = { type: 'error', ...envelope, error: '\u0001'.repeat(ERROR_MAX_CHARS), text: worst }
    expect(Buffer.byteLength(JSON.stringify(error))).toBeGreaterThan(6_000_000)
    expect(validateNewEvent(error)).toBeUndefined()
    expect(validateNewEvent({ type: 'final', ...envelope, text: worst })).toBeUndefined()
  })
})

describe('a model’s or an agent’s tool arguments (tool-arguments.ts)', () => {
  test('arguments nested past the limit are refused where they are parsed, with a sentence naming it', () => {
    const raw = `${'{"a":'.repeat(60_000)}1${'}'.repeat(60_000)}`
    const error = (() => {
      try {
        parseToolArguments(raw)
      } catch (e) {
        return e
      }
    })()
    expect(error).toBeInstanceOf(ToolArgumentsError)
    expect(error).toMatchObject({ status: 422, detail: 'are nested more than 62 levels deep (the limit)' })
    expect(parseToolArguments('{"city": "Paris"}')).toEqual({ city: 'Paris' })
    expect(parseToolArguments('not json')).toBe('not json')
  })
})

const refusal = (f: () => unknown): PatchRefusal => {
  try {
    f()
  } catch (error) {
    if (error instanceof PatchRefusal) return error
    throw error
  }
  throw new Error('expected a PatchRefusal')
}

describe('STATE_DELTA patches, applied one operation at a time (state-patch.ts)', () => {
  test('copies of the root are refused at the operation that takes the state past the limit, not after the patch', () => {
    const ops = Array.from({ length: 22 }, (_, i) => ({ op: 'copy' as const, from: '', path: `/c${i}` }))
    // Where a reference patcher crosses the limit: the first operation after which the state's JSON is too big.
    let state: Record<string, unknown> = { seed: 'x'.repeat(20) }
    let crossing = 0
    for (const [i, op] of ops.entries()) {
      state = { ...state, [op.path.slice(1)]: structuredClone(state) }
      if (Buffer.byteLength(JSON.stringify(state)) > MAX_AGENT_STATE_BYTES) {
        crossing = i + 1
        break
      }
    }
    expect(crossing).toBeGreaterThan(10)
    expect(crossing).toBeLessThan(22)
    const refused = refusal(() => applyStatePatch({ seed: 'x'.repeat(20) }, ops))
    expect(refused.status).toBe(413)
    expect(refused.detail).toBe(
      `operation ${crossing} (copy "/c${crossing - 1}") makes the agent's state more than 1,048,576 bytes of JSON, the limit`,
    )
  })

  test('a copy that would nest the state too deep is refused at that operation', () => {
    const ops = Array.from({ length: 80 }, () => ({ op: 'copy' as const, from: '', path: '/c' }))
    expect(refusal(() => applyStatePatch({}, ops)).detail).toBe(
      `operation ${MAX_EVENT_DEPTH - 1} (copy "/c") makes the agent's state nest more than ${MAX_EVENT_DEPTH - 1} levels deep, the limit`,
    )
  })

  test('what an operation removes counts: a state near its limit may be rewritten', () => {
    const half = 'x'.repeat(MAX_AGENT_STATE_BYTES / 2)
    const ops = [
      { op: 'remove' as const, path: '/a' },
      { op: 'add' as const, path: '/b', value: half },
      { op: 'replace' as const, path: '/b', value: 'short' },
      { op: 'add' as const, path: '/c', value: half },
    ]
    expect(applyStatePatch({ a: half }, ops)).toEqual({ b: 'short', c: half })
    expect(refusal(() => applyStatePatch({ a: half }, ops.slice(1))).detail).toMatch(/^operation 1 \(add "\/b"\) makes/)
  })

  test('a patch gives what fast-json-patch gives when it is taken, moves and copies in arrays included', () => {
    const state = { list: [1, { a: 'x' }, [2, 3]], map: { k: 'v', deep: { n: null } } }
    const ops = [
      { op: 'move' as const, from: '/list/0', path: '/list/2' },
      { op: 'copy' as const, from: '/map/deep', path: '/list/-' },
      { op: 'move' as const, from: '/map/k', path: '/map/deep/k' },
      { op: 'add' as const, path: '/list/1', value: { b: [true, false] } },
      { op: 'replace' as const, path: '/map/deep', value: 'flat' },
      { op: 'test' as const, path: '/list/0', value: { a: 'x' } },
      { op: 'remove' as const, path: '/list/3' },
    ]
    expect(applyStatePatch(state, ops)).toEqual(applyPatch(structuredClone(state), ops, true, false).newDocument)
  })

  test('a patch is refused at the first operation past the bound, to within a byte an operation, or gives what fast-json-patch gives', () => {
    const paths = ['', '/a', '/b', '/a/0', '/a/-', '/b/c', '/x']
    const value = fc.jsonValue({ maxDepth: 2 })
    const op = fc.oneof(
      fc.record({ op: fc.constantFrom('add', 'replace'), path: fc.constantFrom(...paths), value }),
      fc.record({ op: fc.constant('remove'), path: fc.constantFrom(...paths) }),
      fc.record({ op: fc.constantFrom('copy', 'move'), from: fc.constantFrom(...paths), path: fc.constantFrom(...paths) }),
    ) as fc.Arbitrary<Operation>
    const state = fc.record({ a: fc.array(value, { maxLength: 3 }), b: fc.dictionary(fc.constantFrom('c', 'd'), value) })
    fc.assert(
      fc.property(state, fc.array(op, { maxLength: 8 }), fc.integer({ min: 30, max: 300 }), (start, ops, bytes) => {
        fc.pre(measureJson(start).bytes <= bytes)
        // The reference: fast-json-patch, one operation at a time, and the exact size after each.
        const sizes: number[] = []
        let doc: unknown = structuredClone(start)
        // Each gets its own copy: an added value goes into the document as it is, and later operations change it.
        for (const [i, o] of structuredClone(ops).entries()) {
          try {
            // RFC 6902: a copy or a move from nothing fails, and a move into itself (fast-json-patch lets both through).
            if ((o.op === 'copy' || o.op === 'move') && getValueByPointer(doc, o.from) === undefined) break
            if (o.op === 'move' && o.path.startsWith(`${o.from}/`)) break
            doc = applyOperation(doc, o, true, true, true, i).newDocument
          } catch {
            break
          }
          sizes.push(Buffer.byteLength(JSON.stringify(doc)))
        }
        let refused: PatchRefusal | undefined
        let result: unknown
        try {
          result = applyStatePatch(start, structuredClone(ops), { ...STATE_BOUNDS, bytes })
        } catch (error) {
          if (!(error instanceof PatchRefusal)) throw error
          refused = error
        }
        const at = refused ? Number(/^operation (\d+)/.exec(refused.detail)?.[1]) : ops.length + 1
        // Every operation before the refusal (or all of them) leaves the state within the bound.
        for (const size of sizes.slice(0, at - 1)) expect(size).toBeLessThanOrEqual(bytes + ops.length)
        // A refusal for size comes at an operation that does take the state past it (when that operation applies at all).
        const sized = refused?.status === 413 && refused.detail.includes('state more than') && sizes.length >= at
        if (sized) expect(sizes[at - 1]).toBeGreaterThan(bytes - ops.length)
        if (!refused) expect(result).toEqual(doc)
      }),
      { numRuns: 500 },
    )
  })

  test(`a patch holds at most ${MAX_PATCH_OPERATIONS} operations; a bad one leaves the state as it was`, () => {
    const ops = Array.from({ length: MAX_PATCH_OPERATIONS + 1 }, () => ({ op: 'test' as const, path: '', value: {} }))
    expect(refusal(() => applyStatePatch({}, ops))).toMatchObject({
      status: 422,
      detail: 'holds 1,001 operations, more than the 1,000 a patch may hold',
    })
    const state = { a: [1] }
    expect(
      refusal(() =>
        applyStatePatch(state, [
          { op: 'add', path: '/a/-', value: 2 },
          { op: 'remove', path: '/zz' },
        ]),
      ).status,
    ).toBe(422)
    expect(state).toEqual({ a: [1] })
  })

  test('the mapper refuses the doubling patch with a 413 and keeps its state', () => {
    const m = new AguiRunMapper()
    m.map({ type: 'STATE_SNAPSHOT', snapshot: { seed: 1 } }, 1)
    const delta = Array.from({ length: 22 }, (_, i) => ({ op: 'copy', from: '', path: `/c${i}` }))
    let error: unknown
    try {
      m.map({ type: 'STATE_DELTA', delta }, 2)
    } catch (e) {
      error = e
    }
    expect(error).toBeInstanceOf(AguiInputError)
    expect(error).toMatchObject({ status: 413, sentence: expect.stringMatching(/^AG-UI event 2 \(STATE_DELTA\): operation \d+ \(copy/) })
    expect(m.map({ type: 'STATE_DELTA', delta: [{ op: 'add', path: '/x', value: 2 }] }, 3)).toEqual([
      { type: 'agent-state', state: { seed: 1, x: 2 } },
    ])
  })
})

describe('what the AG-UI mapper keeps for a run is bounded', () => {
  const failure = (f: () => unknown): AguiInputError => {
    try {
      f()
    } catch (error) {
      if (error instanceof AguiInputError) return error
      throw error
    }
    throw new Error('expected an AguiInputError')
  }

  test(`at most ${MAX_AGUI_OPEN} messages and tool calls open at once`, () => {
    const m = new AguiRunMapper()
    const starts = Array.from({ length: MAX_AGUI_OPEN }, (_, i) => ({ type: 'TOOL_CALL_START', toolCallId: `c${i}`, toolCallName: 't' }))
    m.mapAll(starts)
    const refused = failure(() => m.map({ type: 'TOOL_CALL_START', toolCallId: 'one more', toolCallName: 't' }, 1001))
    expect(refused).toMatchObject({ status: 422, sentence: expect.stringContaining('more than 1,000 messages or tool calls at once') })
    m.map({ type: 'TOOL_CALL_END', toolCallId: 'c0' }, 1002)
    expect(m.map({ type: 'TOOL_CALL_START', toolCallId: 'one more', toolCallName: 't' }, 1003)).toEqual([])
  })

  test('the open calls’ arguments and the answer stop at the longest text an event may carry (413)', () => {
    const m = new AguiRunMapper()
    const half = 'x'.repeat(EVENT_TEXT_MAX_CHARS / 2)
    m.mapAll([
      { type: 'TOOL_CALL_START', toolCallId: 'a', toolCallName: 't' },
      { type: 'TOOL_CALL_START', toolCallId: 'b', toolCallName: 't' },
      { type: 'TOOL_CALL_ARGS', toolCallId: 'a', delta: half },
      { type: 'TOOL_CALL_ARGS', toolCallId: 'b', delta: half },
    ])
    expect(failure(() => m.map({ type: 'TOOL_CALL_ARGS', toolCallId: 'b', delta: 'x' }, 5)).status).toBe(413)
    m.map({ type: 'TOOL_CALL_END', toolCallId: 'a' }, 6)
    expect(m.map({ type: 'TOOL_CALL_ARGS', toolCallId: 'b', delta: 'x' }, 7)).toEqual([])
    const text = { type: 'TEXT_MESSAGE_CONTENT', messageId: 'm', delta: half }
    m.mapAll([text, text], 8)
    expect(failure(() => m.map({ ...text, delta: 'x' }, 10))).toMatchObject({
      status: 413,
      sentence: 'AG-UI event 10 makes the answer longer than 1,000,000 characters, the longest an answer may be.',
    })
  })
})
