import { describe, expect, test } from 'bun:test'
import type { NewEvent } from '../../src/events.ts'
import { CLOSING_RESERVE_BYTES } from '../../src/limits.ts'
import { admit, CUT_NOTE, cutToBytes, eventBytes, sessionFull } from '../../src/store/byte-budget.ts'

const utf8 = (text: string) => Buffer.byteLength(text, 'utf8')
const ts = '2026-01-01T00:00:00.000Z'

describe('byte budgets', () => {
  test("an event's bytes are the UTF-8 length of its JSON", () => {
    const events: NewEvent[] = [
      { type: 'user', step_id: 'r', ts, text: 'héllo 👋' },
      { type: 'final', step_id: 'run-1', ts, text: 'a "quoted"\nanswer', meta: { model: 'm', usage: { total_tokens: 3 } } },
      { type: 'tool-call', step_id: 'r', ts, tool_call: { id: 'c', name: 'n', input: { deep: [1, { x: 'ü' }] } } },
    ]
    for (const event of events) expect(eventBytes(event)).toBe(utf8(JSON.stringify(event)))
  })

  test('a text is cut to a byte bound of its JSON, never inside a surrogate pair', () => {
    const text = '😀a\u0001é'.repeat(1000)
    for (const max of [0, 1, 5, 6, 7, 100, 1001, 5000]) {
      const cut = cutToBytes(text, max)
      expect(text.startsWith(cut)).toBe(true)
      expect(utf8(JSON.stringify(cut)) - 2).toBeLessThanOrEqual(max)
      expect(/[\uD800-\uDBFF]$/.test(cut)).toBe(false)
    }
    expect(cutToBytes('short', 100)).toBe('short')
  })

  test('other events leave the reserve free; a closing event is never refused, and cut to fit what is left', () => {
    const max = 4 * CLOSING_RESERVE_BYTES
    const partial: NewEvent = { type: 'partial', step_id: 'r', ts, delta: 'x' }
    const used = max - CLOSING_RESERVE_BYTES - eventBytes(partial)
    expect(admit(partial, [{ used, max }], (b) => sessionFull(b.max))).toBe(partial)
    expect(() => admit(partial, [{ used: used + 1, max }], (b) => sessionFull(b.max))).toThrow('This chat is full')
    const final: NewEvent = { type: 'final', step_id: 'r', ts, text: 'é'.repeat(CLOSING_RESERVE_BYTES) }
    const fitted = admit(final, [{ used: used + 1, max }], (b) => sessionFull(b.max))
    expect(fitted.type === 'final' && fitted.text.endsWith(CUT_NOTE)).toBe(true)
    expect(used + 1 + eventBytes(fitted)).toBeLessThanOrEqual(max)
    const error = admit({ type: 'error', step_id: 'r', ts, error: 'e'.repeat(5000), text: 't'.repeat(5000) }, [{ used: max, max }], () =>
      sessionFull(max),
    )
    expect(error).toMatchObject({ type: 'error', error: 'e'.repeat(200) })
    expect('text' in error).toBe(false)
  })
})
