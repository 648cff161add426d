import { afterEach, describe, expect, test } from 'bun:test'
import type { NewEvent, StoredEvent } from '../../src/events.ts'
import { encodeFrame } from '../../src/sse/encode.ts'
import { STREAM_ERROR, sessionStream } from '../../src/sse/session-stream.ts'
import type { EventStore } from '../../src/store/event-store.ts'
import { MemoryStore } from '../../src/store/memory-store.ts'
import { FailingStore } from '../helpers/failing-store.ts'

const ts = new Date().toISOString()
const partial = (delta: string): NewEvent => ({ type: 'partial', step_id: 'r', ts, delta })
const encode = (event: StoredEvent) => encodeFrame({ id: String(event.seq), data: JSON.stringify(event) })

const leaving: AbortController[] = []
afterEach(() => {
  for (const client of leaving.splice(0)) client.abort()
})

/** A stream as a test drives it: each `next()` is one pull of the HTTP body. */
function open(store: EventStore, sessionId: string, after: number) {
  const client = new AbortController()
  leaving.push(client)
  const chunks = sessionStream({ store, sessionId, after, signal: client.signal, encode, heartbeatMs: 60_000, retryMs: 1000 })
  return { chunks, next: async () => (await chunks.next()).value as string }
}

async function sessionWith(store: EventStore, deltas: string[]): Promise<string> {
  const id = `s${Math.random()}`
  await store.createSession(id)
  for (const delta of deltas) await store.append(id, partial(delta))
  return id
}

const ids = (chunk: string) => [...chunk.matchAll(/^id: (\d+)$/gm)].map((m) => Number(m[1]))

describe('a cursor past the head of the log', () => {
  test('gets reset to the head at connect, then the events that come after it', async () => {
    const store = new MemoryStore()
    const id = await sessionWith(store, ['a', 'b', 'c'])
    const stream = open(store, id, 40)
    expect(await stream.next()).toBe('retry: 1000\n\n')
    expect(await stream.next()).toBe('event: reset\nid: 3\ndata: {"after":3}\n\n')
    const live = stream.next()
    await store.append(id, partial('d'))
    expect(ids(await live)).toEqual([4])
  })

  test('a reconnect with the reset id streams on without a second reset', async () => {
    const store = new MemoryStore()
    const id = await sessionWith(store, ['a', 'b'])
    const stream = open(store, id, 2)
    await stream.next()
    const live = stream.next()
    await store.append(id, partial('c'))
    expect(await live).not.toContain('reset')
  })
})

test(`the stream’s own failure is a "stream-error" frame, never a run's "error", and the stream then ends`, async () => {
  const store = new FailingStore()
  const id = await sessionWith(store, ['a'])
  store.failReads = true
  const stream = open(store, id, 0)
  await stream.next()
  const failure = await stream.next()
  expect(failure).toStartWith(`event: ${STREAM_ERROR}\n`)
  expect(failure).not.toMatch(/^event: error$/m)
  expect(JSON.parse(failure.match(/^data: (.*)$/m)![1]!)).toEqual({ error: 'The stream failed on the server; reconnect to resume.' })
  expect((await stream.chunks.next()).done).toBe(true)
})
