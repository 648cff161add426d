import { afterEach, expect, test } from 'bun:test'
import type { NewEvent } from '../../src/events.ts'
import { exportChat } from '../../src/export/chat-export.ts'
import { chatMarkdown } from '../../src/export/chat-markdown.ts'
import { EVENTS_PAGE_BYTES, EXPORT_CHUNK_BYTES } from '../../src/limits.ts'
import { newId } from '../../src/session-id.ts'
import type { EventStore } from '../../src/log/event-store.ts'
import { MemoryStore } from '../../src/store/memory-store.ts'
import { readAll } from '../../src/store/read-all.ts'
import { testApp, testServer, url } from '../helpers/test-app.ts'
import { ECHO } from '../helpers/echo-spec.ts'
import { slowTests } from '../helpers/slow-tests.ts'

// Megabytes written, read and measured per test: seconds beside two CPU burners, past Bun's 5 s default.
slowTests()

let made: Awaited<ReturnType<typeof testApp>> | undefined
afterEach(() => made?.close())

const ts = '2026-03-04T09:05:01.000Z'

/** One run of `calls` tool calls, each with a ~150 KB input and a ~150 KB result: ~`calls` × 0.3 MB of events. */
async function oneLongRun(store: EventStore, calls: number) {
  const { id } = await store.createSession(newId(), ECHO)
  const step_id = 'the-run'
  const big = (n: number) => `call ${n} ${'x'.repeat(150_000)}`
  const events: NewEvent[] = [
    { type: 'user', step_id, ts, text: 'do it all' },
    { type: 'start', step_id, ts, step_type: 'echo' },
    { type: 'reasoning', step_id, ts, delta: 'first, many tools' },
  ]
  for (let n = 0; n < calls; n++) {
    events.push(
      { type: 'tool-call', step_id, ts, tool_call: { id: `c${n}`, name: 'fetch', input: { url: big(n) } } },
      { type: 'agent-step', step_id, ts, name: `stage ${n}`, phase: 'finished' },
      { type: 'tool-result', step_id, ts, tool_result: { id: `c${n}`, result: { pages: [big(n)] } } },
    )
  }
  // An answer longer than a piece of the JSON export, written in slices: pairs, quotes and newlines come out the same.
  events.push({ type: 'final', step_id, ts, text: `done ${'😀 "é"\n'.repeat(60_000)}` })
  for (const event of events) await store.append(id, event)
  return id
}

test('one run of many big tool calls exports, in chunks of at most EXPORT_CHUNK_BYTES, exactly the whole-chat export', async () => {
  const store = new MemoryStore()
  made = await testApp({ store })
  const id = await oneLongRun(store, 60)
  const chat = exportChat((await store.getSession(id))!, await readAll(store, id))
  const expected = { md: chatMarkdown(chat), json: `${JSON.stringify(chat, null, 2)}\n` }
  expect(Buffer.byteLength(expected.md)).toBeGreaterThan(15_000_000)
  for (const format of ['md', 'json'] as const) {
    const res = await made.app.handle(new Request(url(`/api/sessions/${id}/transcript.${format}`)))
    const chunks: Uint8Array[] = []
    const reader = res.body!.getReader()
    for (let next = await reader.read(); !next.done; next = await reader.read()) chunks.push(next.value)
    expect(Math.max(...chunks.map((c) => c.length))).toBeLessThanOrEqual(EXPORT_CHUNK_BYTES)
    expect(Buffer.concat(chunks).toString()).toBe(expected[format])
  }
})

test('while one long run is written, /healthz on the real port answers before the export ends', async () => {
  const store = new MemoryStore()
  const served = await testServer({ store })
  made = served
  const id = await oneLongRun(store, 60)
  for (const format of ['md', 'json'] as const) {
    const res = await served.app.handle(new Request(url(`/api/sessions/${id}/transcript.${format}`)))
    const reader = res.body!.getReader()
    const decoder = new TextDecoder()
    // Read until the run itself is being written: before it, only the head and the user's message.
    for (let seen = ''; !seen.includes('call 0 '); ) seen += decoder.decode((await reader.read()).value, { stream: true })
    let health: number | string | undefined
    const asked = Promise.race([
      fetch(`${served.base}/healthz`).then((r) => r.status),
      Bun.sleep(30_000).then(() => 'no answer within 30 s'),
    ]).then((answer) => {
      health = answer
    })
    // A server that wrote the run as one string has written all of it by now: the export ends before /healthz answers.
    let chunksAfterAnswer = 0
    for (let next = await reader.read(); !next.done; next = await reader.read()) if (health !== undefined) chunksAfterAnswer++
    await asked
    expect(health).toBe(200)
    expect(chunksAfterAnswer).toBeGreaterThan(0)
  }
})

test('GET …/events ends a page of big events at EVENTS_PAGE_BYTES, and paging with after= returns every event once', async () => {
  const store = new MemoryStore()
  made = await testApp({ store })
  const { id, viewer_id } = await store.createSession(newId(), ECHO)
  const step_id = 'r'
  await store.append(id, { type: 'user', step_id, ts, text: 'go' })
  for (let n = 0; n < 20; n++) await store.append(id, { type: 'partial', step_id, ts, delta: `${n} ${'y'.repeat(900_000)}` })
  // One event alone past the bound still makes a page of its own.
  const huge = Array.from({ length: 5 }, (_, i) => `${i}${'z'.repeat(990_000)}`)
  await store.append(id, { type: 'tool-call', step_id, ts, tool_call: { id: 'h', name: 'huge', input: huge } })
  await store.append(id, { type: 'final', step_id, ts, text: 'ok' })
  const all = await readAll(store, id)
  for (const base of [`/api/sessions/${id}/events`, `/api/sessions/view/${viewer_id}/events`]) {
    const seqs: number[] = []
    for (let after = 0; ; ) {
      const res = await made.app.handle(new Request(url(`${base}?after=${after}`)))
      expect(res.status).toBe(200)
      const text = await res.text()
      const page = JSON.parse(text) as { seq: number }[]
      if (page.length === 0) break
      if (page.length > 1) expect(text.length).toBeLessThanOrEqual(EVENTS_PAGE_BYTES)
      else expect(text.length).toBeGreaterThan(0)
      seqs.push(...page.map((e) => e.seq))
      after = page.at(-1)!.seq
    }
    expect(seqs).toEqual(all.map((e) => e.seq))
    // The bound, not the 1000 events of `limit`, ended the pages: 20 events of ~0.9 MB took several.
    const first = JSON.parse(await (await made.app.handle(new Request(url(`${base}?after=0`)))).text()) as unknown[]
    expect(first.length).toBeGreaterThan(1)
    expect(first.length).toBeLessThan(all.length)
  }
})
