import { afterEach, expect, test } from 'bun:test'
import type { NewEvent } from '../../src/events.ts'
import { exportChat } from '../../src/export/chat-export.ts'
import { chatMarkdown } from '../../src/export/chat-markdown.ts'
import { EXPORT_PAGE_EVENTS } from '../../src/limits.ts'
import type { EventStore } from '../../src/log/event-store.ts'
import { newId } from '../../src/session-id.ts'
import { MemoryStore } from '../../src/store/memory-store.ts'
import { readAll } from '../../src/store/read-all.ts'
import { testApp, testServer, url } from '../helpers/test-app.ts'
import { ECHO } from '../helpers/echo-spec.ts'
import { within } from '../helpers/wait.ts'

let made: Awaited<ReturnType<typeof testApp>> | undefined
afterEach(() => made?.close())

/** A store that counts its reads and remembers the page sizes asked for. */
function countingStore(store: EventStore) {
  const reads: number[] = []
  const counted = new Proxy(store, {
    get(target, name) {
      if (name === 'read') {
        return (id: string, after: number, limit?: number) => {
          reads.push(limit ?? Number.POSITIVE_INFINITY)
          return target.read(id, after, limit)
        }
      }
      const value = Reflect.get(target, name)
      return typeof value === 'function' ? value.bind(target) : value
    },
  })
  return { store: counted, reads }
}

/** A chat of `runs` runs, each with 40 partials, a tool call and its result, and a ~200 KB answer: ~`runs` × 0.25 MB exported. */
async function bigChat(store: EventStore, runs: number) {
  const { id } = await store.createSession(newId(), ECHO)
  const ts = '2026-03-04T09:05:01.000Z'
  for (let r = 0; r < runs; r++) {
    const step_id = `run-${r}`
    const piece = `run ${r} says ${'é'.repeat(2500)} `
    const events: NewEvent[] = [
      { type: 'user', step_id, ts, text: `question ${r}` },
      { type: 'start', step_id, ts, step_type: 'echo' },
      { type: 'tool-call', step_id, ts, tool_call: { id: 'c', name: 'look', input: { q: piece.repeat(8) } } },
      { type: 'tool-result', step_id, ts, tool_result: { id: 'c', result: { pages: [piece, piece, piece] } } },
      ...Array.from({ length: 40 }, (): NewEvent => ({ type: 'partial', step_id, ts, delta: piece })),
      { type: 'final', step_id, ts, text: piece.repeat(40) },
    ]
    for (const event of events) await store.append(id, event)
  }
  return id
}

test('a chat of many MB exports, streamed, exactly what the whole-chat export gives, reading the store in bounded pages', async () => {
  const counting = countingStore(new MemoryStore())
  made = await testApp({ store: counting.store })
  const id = await bigChat(counting.store, 30)
  const session = (await counting.store.getSession(id))!
  const chat = exportChat(session, await readAll(counting.store, id))
  const expected = { md: chatMarkdown(chat), json: `${JSON.stringify(chat, null, 2)}\n` }
  expect(Buffer.byteLength(expected.md)).toBeGreaterThan(5_000_000)
  for (const format of ['md', 'json'] as const) {
    counting.reads.length = 0
    const res = await made.app.handle(new Request(url(`/api/sessions/${id}/transcript.${format}`)))
    expect(res.status).toBe(200)
    expect(await res.text()).toBe(expected[format])
    // Many pages, none over the bound; big events made the pages smaller than the bound.
    expect(counting.reads.length).toBeGreaterThan(10)
    expect(Math.max(...counting.reads)).toBeLessThanOrEqual(EXPORT_PAGE_EVENTS)
    expect(Math.min(...counting.reads)).toBeLessThan(EXPORT_PAGE_EVENTS)
  }
})

test('while a big export is written, the server answers other requests between its pages', async () => {
  const counting = countingStore(new MemoryStore())
  const served = await testServer({ store: counting.store })
  made = served
  const { base } = served
  const id = await bigChat(counting.store, 30)
  for (const format of ['md', 'json'] as const) {
    counting.reads.length = 0
    const res = await fetch(`${base}/api/sessions/${id}/transcript.${format}`)
    const reader = res.body!.getReader()
    let received = (await reader.read()).value!.length
    // Asked once the export has begun: a server that built the whole file first has read every page by now.
    const health = await within(
      fetch(`${base}/healthz`).then((r) => r.status),
      { what: '/healthz to answer while an export streams' },
    )
    expect(health).toBe(200)
    const readsByThen = counting.reads.length
    for (let next = await reader.read(); !next.done; next = await reader.read()) received += next.value.length
    expect(readsByThen).toBeLessThan(counting.reads.length)
    expect(received).toBeGreaterThan(5_000_000)
  }
})
