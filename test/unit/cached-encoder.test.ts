import { expect, test } from 'bun:test'
import type { StoredEvent } from '../../src/events.ts'
import { cachedEncoder } from '../../src/sse/cached-encoder.ts'

test('an event is rendered once however many connections encode it, and each event gets its own frame', () => {
  let renders = 0
  const encode = cachedEncoder((event) => {
    renders++
    return { id: String(event.seq), data: `seq ${event.seq}` }
  })
  const a = { type: 'partial', seq: 1, delta: 'x' } as unknown as StoredEvent
  const b = { type: 'partial', seq: 2, delta: 'y' } as unknown as StoredEvent
  for (let viewer = 0; viewer < 1000; viewer++) expect(encode(a)).toBe('id: 1\ndata: seq 1\n\n')
  expect(encode(b)).toBe('id: 2\ndata: seq 2\n\n')
  expect(renders).toBe(2)
})
