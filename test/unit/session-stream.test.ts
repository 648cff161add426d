import { afterEach, describe, expect, test } from 'bun:test'
import type { NewEvent, StoredEvent } from '../../src/events.ts'
import { encodeFrame } from '../../src/sse/encode.ts'
import { MAX_CHUNK_CHARS, STREAM_ERROR, sessionStream } from '../../src/sse/session-stream.ts'
import type { EventStore } from '../../src/log/event-store.ts'
import { MemoryStore } from '../../src/store/memory-store.ts'
import { FailingStore } from '../helpers/failing-store.ts'
import { ECHO } from '../helpers/echo-spec.ts'
import { until } from '../helpers/wait.ts'

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
  await store.createSession(id, ECHO)
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

test('a store that cannot be reached for a while (Redis lost) keeps the stream open with pings; it then resumes from its cursor', async () => {
  const store = new FailingStore()
  const id = await sessionWith(store, ['a'])
  const client = new AbortController()
  leaving.push(client)
  const chunks = sessionStream({ store, sessionId: id, after: 0, signal: client.signal, encode, heartbeatMs: 100, retryMs: 1000 })
  await chunks.next()
  expect((await chunks.next()).value).toContain('"delta":"a"')
  store.unreachable = true
  const frames: string[] = []
  const collecting = (async () => {
    for await (const frame of chunks) frames.push(frame)
  })()
  await until(() => frames.some((f) => f.startsWith(': ping')), { what: 'a ping while the store is out of reach' })
  await store.append(id, partial('b'))
  await store.append(id, partial('c'))
  store.unreachable = false
  await until(() => frames.join('').split('"delta"').length - 1 >= 2, { what: 'both events once the store is back' })
  client.abort()
  await collecting
  expect(frames.some((f) => f.startsWith(': ping'))).toBe(true)
  expect(frames.join('')).not.toContain(STREAM_ERROR)
  const seqs = [...frames.join('').matchAll(/^id: (\d+)$/gm)].map((m) => Number(m[1]))
  expect(seqs).toEqual([2, 3])
})

test("what the encoder must read first (AG-UI's priming) waits out a store out of reach, then starts over", async () => {
  const store = new FailingStore()
  const id = await sessionWith(store, ['a'])
  store.unreachable = true
  let attempts = 0
  const client = new AbortController()
  leaving.push(client)
  const prepare = async () => {
    attempts++
    await store.read(id, 0) // rejects with STORE_UNAVAILABLE while the store is out of reach
  }
  const chunks = sessionStream({ store, sessionId: id, after: 0, signal: client.signal, encode, heartbeatMs: 100, retryMs: 1000, prepare })
  await chunks.next()
  const frames: string[] = []
  const reading = (async () => {
    while (!frames.some((f) => f.includes('"delta"') || f.includes(STREAM_ERROR))) frames.push((await chunks.next()).value as string)
  })()
  // The store comes back once priming has failed and been tried again.
  await until(() => attempts > 1, { what: 'a second attempt at priming' })
  store.unreachable = false
  await reading
  expect(frames.join('')).not.toContain(STREAM_ERROR)
  expect(frames.at(-1)).toContain('"delta":"a"')
  expect(attempts).toBeGreaterThan(1)
})

describe('chunks bounded in size', () => {
  test(`no chunk passes ${MAX_CHUNK_CHARS} characters unless it is one event bigger than that, and nothing is lost`, async () => {
    const store = new MemoryStore()
    // 300 events of 20,000 characters, a few far bigger than the bound and some tiny ones between them.
    const sizes = Array.from({ length: 300 }, (_, i) => (i % 50 === 7 ? 3 * MAX_CHUNK_CHARS : i % 3 === 0 ? 5 : 20_000))
    const id = await sessionWith(
      store,
      sizes.map((n, i) => String(i % 10).repeat(n)),
    )
    const stream = open(store, id, 0)
    await stream.next()
    const seen: number[] = []
    while (seen.length < sizes.length) {
      const chunk = await stream.next()
      const inChunk = ids(chunk)
      if (chunk.length > MAX_CHUNK_CHARS) expect(inChunk).toHaveLength(1)
      seen.push(...inChunk)
    }
    expect(seen).toEqual(sizes.map((_, i) => i + 1))
  })

  test('small events still go a page of 256 per chunk', async () => {
    const store = new MemoryStore()
    const id = await sessionWith(store, Array(300).fill('x'))
    const stream = open(store, id, 0)
    await stream.next()
    expect(ids(await stream.next())).toHaveLength(256)
    expect(ids(await stream.next())).toHaveLength(44)
  })
})
