import { describe, expect, test } from 'bun:test'
import type { NewEvent } from '../../src/events.ts'
import { CUT_NOTE, cutToBytes, eventBytes, fitClosing } from '../../src/log/byte-budget.ts'

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

  test('a closing event is cut to fit the room left, its text ending with the note; an error keeps its sentence first', () => {
    const final: NewEvent = { type: 'final', step_id: 'r', ts, text: 'é'.repeat(5000) }
    for (const room of [200, 1000, 4000]) {
      const fitted = fitClosing(final, room)
      expect(fitted.type === 'final' && fitted.text.endsWith(CUT_NOTE)).toBe(true)
      expect(eventBytes(fitted)).toBeLessThanOrEqual(room)
    }
    const error = fitClosing({ type: 'error', step_id: 'r', ts, error: 'e'.repeat(5000), text: 't'.repeat(5000) }, 0)
    expect(error).toMatchObject({ type: 'error', error: 'e'.repeat(200) })
    expect('text' in error).toBe(false)
  })
})
