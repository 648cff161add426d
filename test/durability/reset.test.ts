import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import type { EventSourceMessage } from 'eventsource-parser'
import type { StoredEvent } from '../../src/events.ts'
import { DEFAULT_RETENTION_POLICY } from '../../src/log/retention-policy.ts'
import { SqliteStore } from '../../src/store/sqlite-store.ts'
import { foldTranscript } from '../../src/transcript.ts'
import { SseReader } from '../helpers/sse-client.ts'
import { testServer } from '../helpers/test-app.ts'
import { tempDir } from './helpers.ts'

const tmp = tempDir()
let store: SqliteStore
let server: Awaited<ReturnType<typeof testServer>>
beforeAll(async () => {
  store = new SqliteStore(tmp.file())
  server = await testServer({ store, echoDelayMs: 1 })
})
afterAll(async () => {
  await server.close()
  tmp.remove()
})

const api = (path: string, init?: RequestInit) => fetch(`${server.base}${path}`, init)
const post = (text: string): RequestInit => ({
  method: 'POST',
  headers: { 'content-type': 'application/json' },
  body: JSON.stringify({ text }),
})
const events = async (id: string) => (await (await api(`/api/sessions/${id}/events`)).json()) as StoredEvent[]
const inAnHour = () => new Date(Date.now() + 60 * 60 * 1000 + 1000)

/** A session whose one run has ended; resolves with its log. */
async function sessionWithRun(text: string) {
  const { id } = (await (await api('/api/sessions', { method: 'POST' })).json()) as { id: string }
  expect((await api(`/api/sessions/${id}/messages`, post(text))).status).toBe(202)
  await server.deps.runner.settled(id)
  return { id, log: await events(id) }
}

const streamEvents = (messages: EventSourceMessage[]) =>
  messages.filter((m) => m.event !== 'reset').map((m) => JSON.parse(m.data) as StoredEvent)

describe('a cursor inside a compacted run', () => {
  test('the JSON stream sends reset with an id, then the rest; the re-read log folds to the same answer', async () => {
    const { id, log } = await sessionWithRun('compact me please')
    const final = log.at(-1)!
    const cursor = log.find((e) => e.type === 'start')!.seq + 3
    expect((await store.prune(DEFAULT_RETENTION_POLICY, inAnHour())).partialsCompacted).toBeGreaterThan(0)

    const stream = await SseReader.open(`${server.base}/api/sessions/${id}/stream?after=${cursor}`)
    const messages = await stream.until((m) => m.some((x) => x.event === 'final'))
    stream.close()
    expect(messages[0]).toMatchObject({ event: 'reset', id: String(final.seq - 1), data: JSON.stringify({ after: final.seq - 1 }) })
    expect(streamEvents(messages)).toEqual([final])

    // What a client does on reset: read the log again. It tells the same story as before compaction.
    const reread = foldTranscript(await events(id))
    expect(reread).toEqual(foldTranscript(log))
    expect(reread.entries.at(-1)).toMatchObject({ kind: 'run', state: 'final', text: 'compact me please' })
  })

  test('reconnecting with the reset id resumes after the gap: no second reset, no loop', async () => {
    const { id, log } = await sessionWithRun('no loops')
    const final = log.at(-1)!
    await store.prune(DEFAULT_RETENTION_POLICY, inAnHour())
    const stream = await SseReader.open(`${server.base}/api/sessions/${id}/stream`, { 'last-event-id': String(final.seq - 1) })
    const messages = await stream.until((m) => m.length >= 1)
    stream.close()
    expect(messages[0]).toMatchObject({ event: 'final', id: String(final.seq) })
  })

  test('the HTML stream sends reset; the reloaded page shows the whole answer and streams on after it without a reset', async () => {
    const { id, log } = await sessionWithRun('reload me')
    const cursor = log.find((e) => e.type === 'start')!.seq + 2
    await store.prune(DEFAULT_RETENTION_POLICY, inAnHour())

    const pruned = await SseReader.open(`${server.base}/events?client_id=${id}&after=${cursor}`)
    const first = await pruned.until((m) => m.length >= 1)
    pruned.close()
    expect(first[0]).toMatchObject({ event: 'reset', id: String(log.at(-1)!.seq - 1) })

    const page = await (await api(`/?client_id=${id}`)).text()
    expect(page).toContain('reload me')
    expect(page).toMatch(new RegExp(`after=${log.at(-1)!.seq}"`))
    const live = await SseReader.open(`${server.base}/events?client_id=${id}&after=${log.at(-1)!.seq}`)
    await api(`/api/sessions/${id}/messages`, post('and more'))
    const messages = await live.until((m) => m.some((x) => x.data.includes('answer final')))
    live.close()
    expect(messages.some((m) => m.event === 'reset')).toBe(false)
    expect(messages.map((m) => Number(m.id))).toEqual(messages.map((_, i) => log.at(-1)!.seq + 1 + i))
  })
})

test('a cursor before what the cap kept gets reset, then the retained log in order', async () => {
  const { id } = await sessionWithRun('a long answer that the cap will cut')
  await store.prune({ ...DEFAULT_RETENTION_POLICY, maxEventsPerSession: 10 })
  const kept = await events(id)
  expect(kept).toHaveLength(10)
  const stream = await SseReader.open(`${server.base}/api/sessions/${id}/stream?after=0`)
  const messages = await stream.until((m) => m.some((x) => x.event === 'final'))
  stream.close()
  expect(messages[0]).toMatchObject({ event: 'reset', id: String(kept[0]!.seq - 1) })
  expect(streamEvents(messages)).toEqual(kept)
})
