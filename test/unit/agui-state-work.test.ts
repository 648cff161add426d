import { describe, expect, test } from 'bun:test'
import fc from 'fast-check'
import { applyPatch, type Operation } from 'fast-json-patch'
import { AguiInputError, AguiRunMapper, mappedBytes } from '../../src/agui/agui-to-events.ts'
import { applyStatePatch, STATE_BOUNDS } from '../../src/agui/state-patch.ts'
import { measureJson } from '../../src/json-shape.ts'
import { MAX_MAPPED_BATCH_BYTES } from '../../src/limits.ts'

/**
 * Issue 20, state amplification: every STATE_DELTA was mapped by cloning and measuring the whole state twice and
 * stored the whole state again, so 34 KB of empty deltas against a 200 KB state held the event loop 46 s. Work is
 * counted here (reads of the state's members, events and bytes made), never timed.
 */

/** An array of `length` zeros whose element reads are counted in `reads.count`. */
function counted(length: number, reads: { count: number }): number[] {
  return new Proxy(new Array<number>(length).fill(0), {
    get(target, key, receiver) {
      if (typeof key === 'string' && key !== 'length') reads.count++
      return Reflect.get(target, key, receiver)
    },
  })
}

const delta = (...ops: unknown[]) => ({ type: 'STATE_DELTA', delta: ops })

describe('a STATE_DELTA costs what it changes, not the whole state', () => {
  test('a delta that changes nothing makes no event and reads none of the state', () => {
    const reads = { count: 0 }
    const m = new AguiRunMapper()
    expect(m.map({ type: 'STATE_SNAPSHOT', snapshot: { a: counted(50_000, reads), n: 1 } }, 1)).toHaveLength(1)
    reads.count = 0
    const same = [delta(), delta({ op: 'replace', path: '/n', value: 1 }), delta({ op: 'test', path: '/n', value: 1 })]
    const undone = delta({ op: 'add', path: '/x', value: 2 }, { op: 'remove', path: '/x' })
    expect(m.mapAll([...same, undone, ...Array.from({ length: 1000 }, () => delta())])).toEqual([])
    expect(reads.count).toBe(0)
  })

  test('a patch copies only what it touches: a sibling it does not touch is shared, never read, and the old state stays', () => {
    const reads = { count: 0 }
    const state = { big: counted(50_000, reads), small: { n: [1, 2, 3] } }
    const size = measureJson(state, STATE_BOUNDS)
    reads.count = 0
    const next = applyStatePatch(state, [{ op: 'replace', path: '/small/n/1', value: 9 }], STATE_BOUNDS, size) as typeof state
    expect(reads.count).toBe(0)
    expect(next.big).toBe(state.big)
    expect(next.small.n).toEqual([1, 9, 3])
    expect(state.small.n).toEqual([1, 2, 3])
  })

  test('a delta that changes the state walks it once (to measure the new state), not to clone it', () => {
    const reads = { count: 0 }
    const m = new AguiRunMapper()
    m.map({ type: 'STATE_SNAPSHOT', snapshot: { a: counted(50_000, reads), n: 1 } }, 1)
    reads.count = 0
    const [event] = m.map(delta({ op: 'replace', path: '/n', value: 2 }), 2)
    expect(event).toMatchObject({ type: 'agent-state', state: { n: 2 } })
    // One measure of the new state reads each element once; a clone (structuredClone) reads them again.
    expect(reads.count).toBeLessThanOrEqual(50_000)
  })

  test('a fork shares the state: a request (an NDJSON line is one) does not copy it', () => {
    const reads = { count: 0 }
    const m = new AguiRunMapper()
    m.map({ type: 'STATE_SNAPSHOT', snapshot: { a: counted(50_000, reads) } }, 1)
    reads.count = 0
    for (let i = 0; i < 100; i++) m.fork().mapAll([delta()])
    expect(reads.count).toBe(0)
  })
})

test('a patch never changes the state it is given, taken or refused, and gives what fast-json-patch gives on a copy', () => {
  const paths = ['', '/a', '/b', '/a/0', '/a/1', '/a/-', '/b/c', '/b/c/0', '/b/d', '/x']
  const value = fc.jsonValue({ maxDepth: 2 })
  const op = fc.oneof(
    fc.record({ op: fc.constantFrom('add', 'replace', 'test'), path: fc.constantFrom(...paths), value }),
    fc.record({ op: fc.constant('remove'), path: fc.constantFrom(...paths) }),
    fc.record({ op: fc.constantFrom('copy', 'move'), from: fc.constantFrom(...paths), path: fc.constantFrom(...paths) }),
  ) as fc.Arbitrary<Operation>
  const state = fc.record({ a: fc.array(value, { maxLength: 3 }), b: fc.dictionary(fc.constantFrom('c', 'd'), value) })
  fc.assert(
    fc.property(state, fc.array(op, { maxLength: 8 }), (start, ops) => {
      const before = structuredClone(start)
      let result: unknown
      let refused = false
      try {
        result = applyStatePatch(start, structuredClone(ops))
      } catch {
        refused = true
      }
      expect(start).toEqual(before)
      if (refused) return
      let reference: unknown
      try {
        reference = applyPatch(structuredClone(start), structuredClone(ops), true, false).newDocument
      } catch {
        return
      }
      // Both through JSON, as the state is stored: -0 is 0 there (fast-json-patch keeps a -0 it was given as the root).
      expect(JSON.parse(JSON.stringify(result))).toEqual(JSON.parse(JSON.stringify(reference)))
      // Unchanged is the same object: the mapper stores nothing for it.
      if (JSON.stringify(reference) === JSON.stringify(start)) expect(result).toBe(start)
    }),
    { numRuns: 500 },
  )
})

describe('one batch maps to at most MAX_MAPPED_BATCH_BYTES of events', () => {
  const big = { a: new Array(99_000).fill(0) }
  const stateBytes = measureJson(big, STATE_BOUNDS).bytes

  test('deltas that each store the whole state are refused (413) at the limit, with no more work past it', () => {
    const m = new AguiRunMapper()
    const batch = [
      { type: 'STATE_SNAPSHOT', snapshot: big },
      ...Array.from({ length: 1000 }, (_, i) => delta({ op: 'replace', path: '/a/0', value: i + 1 })),
    ]
    let refused: unknown
    try {
      m.fork().mapAll(batch)
    } catch (error) {
      refused = error
    }
    expect(refused).toBeInstanceOf(AguiInputError)
    const { status, sentence, position } = refused as AguiInputError
    expect(status).toBe(413)
    expect(sentence).toContain(`${MAX_MAPPED_BATCH_BYTES.toLocaleString('en')} bytes`)
    // It stopped (threw) at the event that passed the limit, each mapped event carrying the whole state: the 900
    // events after it were never mapped.
    const fits = Math.floor(MAX_MAPPED_BATCH_BYTES / stateBytes)
    expect(position).toBeLessThanOrEqual(fits + 1)
    expect(position).toBeGreaterThan(fits - 2)
  })

  test('a batch under the limit is mapped whole, and a smaller limit may be asked for', () => {
    const m = new AguiRunMapper()
    const text = { type: 'TEXT_MESSAGE_CONTENT', messageId: 'm', delta: 'x'.repeat(1000) }
    const starts = [{ type: 'TEXT_MESSAGE_START', messageId: 'm', role: 'assistant' }]
    expect(m.fork().mapAll([...starts, ...Array.from({ length: 100 }, () => text)])).toHaveLength(100)
    expect(() => m.fork().mapAll([...starts, ...Array.from({ length: 100 }, () => text)], 1, mappedBytes(50_000))).toThrow(/50,000 bytes/)
  })
})
