import { Database } from 'bun:sqlite'
import { afterAll, afterEach, expect, test } from 'bun:test'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { NewEvent, StoredEvent } from '../../src/events.ts'
import { RENDERED_JSON_MAX_BYTES, RENDERED_JSON_MAX_DEPTH } from '../../src/limits.ts'
import { newId } from '../../src/session-id.ts'
import { SqliteStore } from '../../src/store/sqlite-store.ts'
import { renderEventFragment } from '../../templates/event-fragments.tsx'
import { nested, nestedText } from '../helpers/deep-json.ts'
import { hasEnd, SseReader } from '../helpers/sse-client.ts'
import { testApp, testServer, url } from '../helpers/test-app.ts'
import { ECHO } from '../helpers/echo-spec.ts'

const dir = mkdtempSync(join(tmpdir(), 'stepstream-deep-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))
let made: Awaited<ReturnType<typeof testApp>> | undefined
afterEach(() => made?.close())

const ts = '2026-03-04T09:05:01.000Z'
/** A run whose tool input, tool result and agent state are `{}`, to be made deep on disk. */
const RUN: NewEvent[] = [
  { type: 'user', step_id: 'r1', ts, text: 'go deep' },
  { type: 'start', step_id: 'r1', ts, step_type: 'echo' },
  { type: 'tool-call', step_id: 'r1', ts, tool_call: { id: 'c1', name: 'dig', input: {} } },
  { type: 'tool-result', step_id: 'r1', ts, tool_result: { id: 'c1', result: {} } },
  { type: 'agent-state', step_id: 'r1', ts, state: {} },
  { type: 'final', step_id: 'r1', ts, text: 'done' },
]

/**
 * A SQLite chat whose JSON values are `depth` levels deep, written into its rows behind the store's back, as data
 * stored before the validation gate existed would be; then opened again as a server would open it.
 */
async function deepChat(depth: number) {
  const path = join(dir, `deep-${depth}.db`)
  const first = new SqliteStore(path)
  const { id } = await first.createSession(newId(), ECHO)
  for (const event of RUN) await first.append(id, event)
  await first.close()
  const deep = nestedText(depth)
  const db = new Database(path)
  const payload = (seq: number, json: string) =>
    db.query('UPDATE events SET payload = ? WHERE session = ? AND seq = ?').run(json, id, seq).changes
  expect(payload(3, `{"tool_call":{"id":"c1","name":"dig","input":${deep}}}`)).toBe(1)
  expect(payload(4, `{"tool_result":{"id":"c1","result":${deep}}}`)).toBe(1)
  expect(payload(5, `{"state":${deep}}`)).toBe(1)
  db.close()
  return { id, store: new SqliteStore(path) }
}

for (const depth of [10_000, 60_000]) {
  test(`a chat holding values ${depth.toLocaleString('en')} levels deep: its pages and exports answer 200 in bounded bytes`, async () => {
    const { id, store } = await deepChat(depth)
    made = await testApp({ store })
    const { viewer_id } = (await (await made.app.handle(new Request(url(`/api/sessions/${id}`)))).json()) as { viewer_id: string }
    // Three values, each printed within the page's budget; the rest of the page is small.
    const bound = 3 * RENDERED_JSON_MAX_BYTES + 64 * 1024
    for (const path of [`/?client_id=${id}`, `/?view=${viewer_id}`, `/api/sessions/${id}/transcript.md`]) {
      const res = await made.app.handle(new Request(url(path)))
      expect(res.status).toBe(200)
      const text = await res.text()
      expect(Buffer.byteLength(text)).toBeLessThan(bound)
      expect(text).toContain(`[… 1 item nested deeper than ${RENDERED_JSON_MAX_DEPTH} levels]`)
    }
    const res = await made.app.handle(new Request(url(`/api/sessions/${id}/transcript.json`)))
    expect(res.status).toBe(200)
    const text = await res.text()
    expect(Buffer.byteLength(text)).toBeLessThan(bound)
    // Still JSON: each value too deep to write is replaced by a note saying so, with what a page shows of it.
    const run = (JSON.parse(text) as { entries: Record<string, never>[] }).entries[1]!
    const omitted = expect.objectContaining({ 'stepstream.omitted': expect.stringContaining('deeper than 64 levels') })
    expect(run).toMatchObject({ tool_calls: [{ input: omitted, result: { value: omitted } }], agent_state: omitted, text: 'done' })
  })
}

test('the live fragments of deep values are bounded too', () => {
  const deep = nested(60_000)
  const envelope = { seq: 1, session_id: 's', step_id: 'r1', ts }
  const events: StoredEvent[] = [
    { ...envelope, type: 'tool-call', tool_call: { id: 'c1', name: 'dig', input: deep } },
    { ...envelope, type: 'tool-result', tool_result: { id: 'c1', result: deep } },
    { ...envelope, type: 'agent-state', state: deep },
  ]
  for (const event of events) {
    const html = renderEventFragment(event)
    expect(Buffer.byteLength(html)).toBeLessThan(RENDERED_JSON_MAX_BYTES + 4096)
    expect(html).toContain('nested deeper than 64 levels')
  }
})

test('a chat holding values 60,000 levels deep: its JSON events, JSON stream and AG-UI stream serve them as omitted notes', async () => {
  const { id, store } = await deepChat(60_000)
  const server = await testServer({ store })
  made = server
  const omitted = expect.objectContaining({ 'stepstream.omitted': expect.stringContaining('deeper than 64 levels') })
  const res = await fetch(`${server.base}/api/sessions/${id}/events`)
  expect(res.status).toBe(200)
  const events = (await res.json()) as StoredEvent[]
  expect(events.map((e) => e.type)).toEqual(RUN.map((e) => e.type))
  expect(events[2]).toMatchObject({ tool_call: { input: omitted } })
  expect(events[3]).toMatchObject({ tool_result: { result: omitted } })
  expect(events[4]).toMatchObject({ state: omitted })
  const json = await SseReader.open(`${server.base}/api/sessions/${id}/stream`)
  try {
    const messages = await json.until((m) => hasEnd(m))
    expect(messages.filter((m) => m.id !== undefined).map((m) => m.event)).toEqual(RUN.map((e) => e.type))
  } finally {
    json.close()
  }
  const agui = await SseReader.open(`${server.base}/api/sessions/${id}/stream?format=ag-ui`)
  try {
    await agui.until((m) => m.some((message) => message.data.includes('"RUN_FINISHED"')))
  } finally {
    agui.close()
  }
})
