import { expect, test } from 'bun:test'
import type { StoredEvent } from '../../src/events.ts'
import { cachedEncoder } from '../../src/sse/cached-encoder.ts'

const partial = (session_id: string, seq: number, delta = 'x') => ({ type: 'partial', session_id, seq, delta }) as unknown as StoredEvent

test('an event is rendered once however many connections encode it, and each event gets its own frame', () => {
  let renders = 0
  const encode = cachedEncoder((event) => {
    renders++
    return { id: String(event.seq), data: `seq ${event.seq}` }
  })
  const a = partial('s', 1)
  const b = partial('s', 2)
  for (let viewer = 0; viewer < 1000; viewer++) expect(encode(a)).toBe('id: 1\ndata: seq 1\n\n')
  expect(encode(b)).toBe('id: 2\ndata: seq 2\n\n')
  expect(renders).toBe(2)
})

test('the key is (session, seq), not the object: a fresh copy of an event read again is not rendered again', () => {
  let renders = 0
  const encode = cachedEncoder((event) => {
    renders++
    return { id: String(event.seq), data: event.session_id }
  })
  for (let viewer = 0; viewer < 100; viewer++) encode(partial('s', 7))
  expect(renders).toBe(1)
  // The same seq of another session is another event.
  expect(encode(partial('t', 7))).toBe('id: 7\ndata: t\n\n')
  expect(renders).toBe(2)
})

test('the cache is bounded in characters: the oldest frames go first, and a frame larger than the bound is still served', () => {
  let renders = 0
  const encode = cachedEncoder(
    (event) => {
      renders++
      return { data: (event as { delta: string }).delta }
    },
    { maxChars: 100 },
  )
  for (let seq = 1; seq <= 10; seq++) encode(partial('s', seq, 'y'.repeat(20)))
  encode(partial('s', 10, 'ignored: cached'))
  expect(renders).toBe(10)
  encode(partial('s', 1, 'y'.repeat(20)))
  expect(renders).toBe(11)
  expect(encode(partial('s', 11, 'z'.repeat(500)))).toBe(`data: ${'z'.repeat(500)}\n\n`)
})
