import { describe, expect, test } from 'bun:test'
import type { NewEvent, StoredEvent } from '../../src/events.ts'
import { compactable, streamedText } from '../../src/log/folds.ts'
import { EVENT_TEXT_MAX_CHARS } from '../../src/limits.ts'

const ts = '2026-01-01T00:00:00.000Z'
const at = (seq: number, event: NewEvent): StoredEvent => ({ ...event, seq, session_id: 's' }) as StoredEvent
const partial = (step_id: string, delta: string): NewEvent => ({ type: 'partial', step_id, ts, delta })

describe('the folds over events', () => {
  test("the text a run streamed is its own partials' deltas in order, cut to what an event may carry", () => {
    const events = [
      partial('r1', 'he'),
      partial('r0', 'OTHER'),
      { type: 'start', step_id: 'r1', ts, step_type: 'echo' } as NewEvent,
      partial('r1', 'llo'),
    ]
    expect(streamedText(events, 'r1')).toBe('hello')
    expect(streamedText([partial('r', 'x'.repeat(EVENT_TEXT_MAX_CHARS + 5))], 'r')).toHaveLength(EVENT_TEXT_MAX_CHARS)
  })

  test('compaction drops the partials of runs that ended with final or interrupt, and keeps those of a failed run', () => {
    const events = [
      at(1, { type: 'user', step_id: 'a', ts, text: 'q' }),
      at(2, partial('a', 'x')),
      at(3, { type: 'final', step_id: 'a', ts, text: 'x' }),
      at(4, partial('b', 'y')),
      at(5, { type: 'error', step_id: 'b', ts, error: 'It failed.' }),
      at(6, partial('c', 'z')),
      at(7, { type: 'interrupt', step_id: 'c', ts, text: 'z' }),
      at(8, partial('d', 'still going')),
    ]
    expect(compactable(events)).toEqual([2, 6])
  })
})
