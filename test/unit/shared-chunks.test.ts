import { afterEach, expect, test } from 'bun:test'
import type { NewEvent, StoredEvent } from '../../src/events.ts'
import { encodeFrame } from '../../src/sse/encode.ts'
import { type Chunk, sessionStream } from '../../src/sse/session-stream.ts'
import { SharedChunks } from '../../src/sse/shared-chunks.ts'
import type { MemoryStore } from '../../src/store/memory-store.ts'
import { ECHO } from '../helpers/echo-spec.ts'
import { ReadCountingStore } from '../helpers/read-counting-store.ts'

const ts = new Date().toISOString()
const partial = (delta: string): NewEvent => ({ type: 'partial', step_id: 'r', ts, delta })
const encode = (event: StoredEvent) => encodeFrame({ id: String(event.seq), data: JSON.stringify(event) })

/** Counts the store's reads: a chunk shared is a read saved. */
const leaving: AbortController[] = []
afterEach(() => {
  for (const client of leaving.splice(0)) client.abort()
})

function open(store: MemoryStore, sessionId: string, shared: SharedChunks<Chunk>) {
  const client = new AbortController()
  leaving.push(client)
  const chunks = sessionStream({ store, sessionId, after: 0, signal: client.signal, encode, shared, heartbeatMs: 60_000, retryMs: 1000 })
  return { chunks, client, next: async () => (await chunks.next()).value as string }
}

test('readers of a session at the same cursor share one read and the very same chunk', async () => {
  const store = new ReadCountingStore()
  await store.createSession('s', ECHO)
  await store.append('s', partial('a'))
  const shared = new SharedChunks<Chunk>()
  const readers = Array.from({ length: 5 }, () => open(store, 's', shared))
  for (const reader of readers) await reader.next()
  const before = store.reads
  const chunks = await Promise.all(readers.map((reader) => reader.next()))
  expect(store.reads - before).toBe(1)
  for (const chunk of chunks) expect(chunk).toBe(chunks[0]!)
  expect(chunks[0]).toContain('"delta":"a"')
  // Woken by the next append, they read it once again, and each gets every event once.
  const live = readers.map((reader) => reader.next())
  await store.append('s', partial('b'))
  const next = await Promise.all(live)
  for (const chunk of next) expect(chunk).toBe(next[0]!)
  expect(next[0]).toContain('"delta":"b"')
  expect(next[0]).not.toContain('"delta":"a"')
  // One read that found nothing before they waited, one once woken: two for the five readers.
  expect(store.reads - before).toBe(3)
})

test('a lone reader keeps nothing, and the last reader to leave lets its chunk go', async () => {
  const store = new ReadCountingStore()
  await store.createSession('s', ECHO)
  await store.append('s', partial('a'))
  const shared = new SharedChunks<Chunk>()
  const one = open(store, 's', shared)
  await one.next()
  await one.next()
  expect(shared.chars).toBe(0)
  const two = open(store, 's', shared)
  await two.next()
  const three = open(store, 's', shared)
  await three.next()
  await Promise.all([two.next(), three.next()])
  expect(shared.chars).toBeGreaterThan(0)
  await two.chunks.return(undefined)
  expect(shared.chars).toBeGreaterThan(0)
  await three.chunks.return(undefined)
  expect(shared.chars).toBe(0)
})

test('the chunks kept stay within their bound, the oldest let go first', async () => {
  const store = new ReadCountingStore()
  const shared = new SharedChunks<Chunk>(1000)
  for (const id of ['s1', 's2']) {
    await store.createSession(id, ECHO)
    await store.append(id, partial('x'.repeat(600)))
    const readers = [open(store, id, shared), open(store, id, shared)]
    for (const reader of readers) await reader.next()
    await Promise.all(readers.map((reader) => reader.next()))
    expect(shared.chars).toBeGreaterThan(600)
    expect(shared.chars).toBeLessThanOrEqual(1000)
  }
})
