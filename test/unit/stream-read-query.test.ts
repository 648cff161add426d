import { describe, expect, test } from 'bun:test'
import fc from 'fast-check'
import { CURSOR_EPOCH_MS, CURSOR_INTERVAL_S, currentCursor, responseCursor } from '../../src/streams/cursor.ts'
import { encodeOffset } from '../../src/streams/offsets.ts'
import { parseReadQuery } from '../../src/streams/read-query.ts'

const at = (intervals: number) => CURSOR_EPOCH_MS + intervals * CURSOR_INTERVAL_S * 1000
const query = (search: string) => parseReadQuery(new URLSearchParams(search))

describe('Stream-Cursor', () => {
  test('the interval number since the protocol’s epoch, as decimal digits', () => {
    expect(currentCursor(CURSOR_EPOCH_MS)).toBe(0)
    expect(responseCursor(null, at(1000) + 19_999)).toBe('1000')
    expect(/^\d+$/.test(responseCursor(null, Date.now()))).toBe(true)
  })
  test('a client behind the current interval gets the current one', () => {
    expect(responseCursor('999', at(1000))).toBe('1000')
  })
  test('a client at or past it gets strictly more: 1 to 180 intervals of jitter', () => {
    expect(responseCursor('1000', at(1000), () => 0)).toBe('1001')
    expect(responseCursor('1000', at(1000), () => 0.999_999)).toBe('1180')
    expect(responseCursor('5000', at(1000), () => 0)).toBe('5001')
  })
  test('cursors never go back, whatever the client echoes', () => {
    fc.assert(
      fc.property(
        fc.nat({ max: 10_000_000 }),
        fc.nat({ max: 10_000_000 }),
        fc.double({ min: 0, max: 0.999_999, noNaN: true }),
        (now, client, r) => {
          const answer = Number(responseCursor(String(client), at(now), () => r))
          expect(answer).toBeGreaterThanOrEqual(now)
          if (client >= now) expect(answer).toBeGreaterThan(client)
        },
      ),
    )
  })
  test('a malformed or overlarge cursor is ignored, not added to', () => {
    for (const bad of ['', 'abc', '-5', '1e3', '01', '9007199254740991', 'x'.repeat(10_000)]) expect(responseCursor(bad, at(7))).toBe('7')
  })
})

describe('the read query', () => {
  test('catch-up by default, from the start', () => {
    expect(query('')).toEqual({ ok: true, value: { from: { kind: 'start' }, live: 'catch-up', cursor: null } })
  })
  test('long-poll and SSE need an offset', () => {
    for (const live of ['long-poll', 'sse'] as const) {
      expect(query(`live=${live}`).ok).toBe(false)
      expect(query(`live=${live}&offset=now`)).toEqual({ ok: true, value: { from: { kind: 'now' }, live, cursor: null } })
    }
  })
  test('the cursor is passed on as sent', () => {
    const parsed = query(`offset=${encodeOffset(3)}&live=long-poll&cursor=42`)
    expect(parsed).toEqual({ ok: true, value: { from: { kind: 'after', seq: 3 }, live: 'long-poll', cursor: '42' } })
  })
  test('an unknown or repeated live mode is refused', () => {
    for (const bad of ['live=', 'live=poll', 'live=SSE', 'live=sse&live=sse', 'live=long-poll&live=sse']) {
      const parsed = query(`offset=-1&${bad}`)
      expect(parsed.ok ? undefined : parsed.error.status).toBe(400)
    }
  })
})
