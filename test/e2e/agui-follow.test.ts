import { afterEach, describe, expect, test } from 'bun:test'
import { runHttpRequest, transformHttpEventStream, verifyEvents } from '@ag-ui/client'
import type { BaseEvent } from '@ag-ui/core'
import { EventSchemas } from '@ag-ui/core/schemas'
import { lastValueFrom, takeWhile, toArray } from 'rxjs'
import type { NewEvent, StoredEvent } from '../../src/events.ts'
import { redisUnavailable } from '../../src/redis/redis-errors.ts'
import { MemoryStore } from '../../src/store/memory-store.ts'
import { publishApi } from '../helpers/publish-api.ts'
import { slowTests } from '../helpers/slow-tests.ts'
import { SseReader } from '../helpers/sse-client.ts'
import { testServer } from '../helpers/test-app.ts'

slowTests()

let server: Awaited<ReturnType<typeof testServer>> | undefined
afterEach(() => server?.close())

async function start(store?: MemoryStore) {
  server = await testServer(store ? { store } : {})
  return publishApi(server.base)
}

/**
 * Reads an AG-UI stream with the official client (`runHttpRequest` + `transformHttpEventStream`, as `HttpAgent` does)
 * and its strict `verifyEvents`, until the `runs`-th RUN_FINISHED or RUN_ERROR; checks each event against the schemas.
 */
async function follow(url: string, headers: Record<string, string> = {}, runs = 1): Promise<BaseEvent[]> {
  const controller = new AbortController()
  let ended = 0
  const events$ = transformHttpEventStream(runHttpRequest(() => fetch(url, { headers, signal: controller.signal })))
  try {
    return await lastValueFrom(
      events$.pipe(
        takeWhile((e) => {
          if (e.type === 'RUN_FINISHED' || e.type === 'RUN_ERROR') ended++
          return ended < runs
        }, true),
        toArray(),
      ),
    )
  } finally {
    controller.abort()
  }
}

function checkSchemas(events: readonly unknown[]): void {
  for (const event of events) {
    const parsed = EventSchemas.safeParse(event)
    if (!parsed.success) throw new Error(`${JSON.stringify(event)} does not validate: ${parsed.error.message}`)
  }
}

const verified = (events: BaseEvent[]) => lastValueFrom(verifyEvents()(toObservable(events)).pipe(toArray()))
const toObservable = (events: BaseEvent[]) => transformHttpEventStream(runHttpRequest(async () => sseOf(events)))
/** A response holding `events` as AG-UI SSE, for checking a sequence through the client's own pipeline. */
const sseOf = (events: BaseEvent[]) =>
  new Response(events.map((e) => `data: ${JSON.stringify(e)}\n\n`).join(''), { headers: { 'content-type': 'text/event-stream' } })

describe('follow a session in AG-UI (GET /api/sessions/:id/stream?format=ag-ui)', () => {
  test('read by @ag-ui/client, resumed mid-run with Last-Event-ID: no gap, no duplicate, every event valid', async () => {
    const api = await start()
    const p = await api.publisher()
    const run = await api.openRun(p)
    expect(
      (
        await api.append(p, run, [
          { type: 'user', text: 'Hi' },
          { type: 'partial', delta: 'Once ' },
        ])
      ).status,
    ).toBe(200)
    const url = `${api.base}/api/sessions/${p.id}/stream?format=ag-ui`

    // The first connection sees the run open and a message under way, then drops.
    const first = await SseReader.open(url)
    const before = await first.until((m) => m.some((x) => x.data.includes('"Once "')))
    first.close()
    expect(first.response.headers.get('content-type')).toContain('text/event-stream')
    const lastId = before.findLast((m) => m.id)!.id!
    // Only a group's last message carries an id: the content of the partial ends its group.
    expect(before.at(-1)!.id).toBe(lastId)
    expect(before.filter((m) => m.id).length).toBeLessThan(before.length)

    await api.append(p, run, [
      { type: 'partial', delta: 'upon ' },
      { type: 'reasoning', delta: 'Thinking.' },
      { type: 'tool-call', tool_call: { id: 't1', name: 'search', input: { q: 'robots' } } },
      { type: 'tool-result', tool_result: { id: 't1', result: ['R2-D2'] } },
      { type: 'agent-step', name: 'write', phase: 'started' },
      { type: 'agent-state', state: { hits: 1 } },
      { type: 'agent-step', name: 'write', phase: 'finished' },
      { type: 'partial', delta: 'a time.' },
      { type: 'final', text: 'Once upon a time.' },
    ])
    // The official client, resuming after the last id it was given: the rest of the run, and nothing twice.
    const after = await follow(url, { 'last-event-id': lastId })
    checkSchemas(after)
    expect(after[0]).toMatchObject({ type: 'TEXT_MESSAGE_CONTENT', delta: 'upon ' })

    const joined = [...before.map((m) => JSON.parse(m.data) as BaseEvent), ...after]
    checkSchemas(joined)
    expect((await verified(joined)).length).toBe(joined.length)
    // The same as one reader from the start sees.
    const whole = await follow(url)
    expect(joined).toEqual(whole)
    expect(whole.map((e) => e.type as string)).toEqual([
      'RUN_STARTED',
      'TEXT_MESSAGE_START',
      'TEXT_MESSAGE_CONTENT',
      'TEXT_MESSAGE_END',
      'TEXT_MESSAGE_START',
      'TEXT_MESSAGE_CONTENT',
      'TEXT_MESSAGE_CONTENT',
      'TEXT_MESSAGE_END',
      'REASONING_START',
      'REASONING_MESSAGE_START',
      'REASONING_MESSAGE_CONTENT',
      'REASONING_MESSAGE_END',
      'REASONING_END',
      'TOOL_CALL_START',
      'TOOL_CALL_ARGS',
      'TOOL_CALL_END',
      'TOOL_CALL_RESULT',
      'STEP_STARTED',
      'STATE_SNAPSHOT',
      'STEP_FINISHED',
      'TEXT_MESSAGE_START',
      'TEXT_MESSAGE_CONTENT',
      'TEXT_MESSAGE_END',
      'RUN_FINISHED',
    ])
    expect(whole[0]).toMatchObject({ threadId: p.id, runId: run })
  })

  test('a viewer follows under its own id as the thread: the owner id is in no event', async () => {
    const api = await start()
    const p = await api.publisher()
    const run = await api.openRun(p)
    await api.append(p, run, [
      { type: 'user', text: 'Hi' },
      { type: 'partial', delta: 'Hello' },
      { type: 'final', text: 'Hello' },
    ])
    const events = await follow(`${api.base}/api/sessions/view/${p.viewer_id}/stream?format=ag-ui`)
    checkSchemas(events)
    expect(events[0]).toMatchObject({ type: 'RUN_STARTED', threadId: p.viewer_id, runId: run })
    expect(JSON.stringify(events)).not.toContain(p.id)
    expect(events.at(-1)).toMatchObject({ type: 'RUN_FINISHED', threadId: p.viewer_id })
  })

  test('an event bigger than a chunk, after streamed text: one valid sequence, nothing twice', async () => {
    const api = await start()
    const p = await api.publisher()
    const run = await api.openRun(p)
    const big = 'x'.repeat(70_000) // over a chunk's 64 Ki characters: it is encoded, set aside, and sent in the next
    await api.append(p, run, [
      { type: 'user', text: 'Hi' },
      { type: 'partial', delta: 'Let me look. ' },
      { type: 'tool-call', tool_call: { id: 't1', name: 'search', input: { q: big } } },
      { type: 'final', text: 'Let me look. ' },
    ])
    const events = await follow(`${api.base}/api/sessions/${p.id}/stream?format=ag-ui`)
    checkSchemas(events)
    expect((await verified(events)).length).toBe(events.length)
    expect(events.filter((e) => e.type === 'RUN_STARTED')).toHaveLength(1)
    expect(events.filter((e) => e.type === 'TOOL_CALL_ARGS')).toEqual([expect.objectContaining({ delta: JSON.stringify({ q: big }) })])
  })

  test('resumed in a later run, it reads back only to that run: the same events as one reader from the start', async () => {
    const api = await start()
    const p = await api.publisher()
    const first = await api.openRun(p)
    await api.append(p, first, [
      { type: 'user', text: 'One' },
      { type: 'partial', delta: 'First.' },
      { type: 'final', text: 'First.' },
    ])
    const second = await api.openRun(p)
    await api.append(p, second, [
      { type: 'user', text: 'Two' },
      { type: 'partial', delta: 'Sec' },
      { type: 'partial', delta: 'ond.' },
      { type: 'final', text: 'Second.' },
    ])
    const url = `${api.base}/api/sessions/${p.id}/stream?format=ag-ui`
    const whole = await follow(url, {}, 2)
    const log = await api.events(p.id)
    const cut = log.find((e) => e.type === 'partial' && e.delta === 'Sec')!.seq
    const after = await follow(url, { 'last-event-id': String(cut) })
    checkSchemas(after)
    expect(after[0]).toMatchObject({ type: 'TEXT_MESSAGE_CONTENT', delta: 'ond.' })
    expect(whole.slice(-after.length)).toEqual(after)
  })

  test("the stream's own notices are AG-UI CUSTOM events: a cursor past the head gets stepstream.reset", async () => {
    const api = await start()
    const p = await api.publisher()
    const run = await api.openRun(p)
    await api.append(p, run, [
      { type: 'user', text: 'Hi' },
      { type: 'final', text: 'Hello' },
    ])
    const reader = await SseReader.open(`${api.base}/api/sessions/${p.id}/stream?format=ag-ui&after=99999999999999`)
    const [reset] = await reader.until((m) => m.some((x) => x.data.includes('reset')))
    reader.close()
    const head = (await api.events(p.id)).at(-1)!.seq
    checkSchemas([JSON.parse(reset!.data)])
    expect(JSON.parse(reset!.data)).toEqual({ type: 'CUSTOM', name: 'stepstream.reset', value: { after: head } })
    expect(reset!.id).toBe(String(head))
  })

  test('an unknown format is a 400 with a sentence', async () => {
    const api = await start()
    const p = await api.publisher()
    const res = await fetch(`${api.base}/api/sessions/${p.id}/stream?format=xml`)
    expect(res.status).toBe(400)
    expect(((await res.json()) as { error: { message: string } }).error.message).toContain('use format=json (the default) or format=ag-ui')
  })
})

describe('publish in AG-UI (POST …/runs/:run_id/events?format=ag-ui)', () => {
  test('a Python program streams AG-UI events as NDJSON: mapped as the agui step maps them', async () => {
    const api = await start()
    const p = await api.publisher()
    const proc = api.python(p, 'agui')
    const said = (await new Response(proc.stdout).text())
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as { status: number; body: Record<string, unknown> })
    expect(await proc.exited).toBe(0)
    expect(said[1]).toMatchObject({ status: 200, body: { closed: true } })
    const log = (await api.events(p.id)).map(({ seq, session_id, step_id, ts, ...rest }) => rest)
    expect(log).toEqual([
      { type: 'start', step_type: 'published' },
      { type: 'agent-step', name: 'search', phase: 'started' },
      { type: 'agent-state', state: { query: 'robots', hits: [] } },
      { type: 'tool-call', tool_call: { id: 't1', name: 'search', input: { q: 'robots' } } },
      { type: 'tool-result', tool_result: { id: 't1', result: ['R2-D2'] } },
      { type: 'agent-state', state: { query: 'robots', hits: ['R2-D2'] } },
      { type: 'agent-step', name: 'search', phase: 'finished' },
      { type: 'partial', delta: 'Found ' },
      { type: 'partial', delta: 'R2-D2.' },
      { type: 'final', text: 'Found R2-D2.' },
    ])
  })

  test('a request refused whole (the store unreachable) is mapped the same when the producer sends it again', async () => {
    class FlakyStore extends MemoryStore {
      down = false
      override append(sessionId: string, event: NewEvent): Promise<StoredEvent> {
        return this.down ? Promise.reject(redisUnavailable()) : super.append(sessionId, event)
      }
    }
    const store = new FlakyStore()
    const api = await start(store)
    const p = await api.publisher()
    const run = await api.openRun(p)
    const send = (events: unknown[]) => api.append(p, run, events, { query: '?format=ag-ui' })
    await send([
      { type: 'RUN_STARTED', threadId: p.id, runId: run },
      { type: 'TEXT_MESSAGE_START', messageId: 'm', role: 'assistant' },
      { type: 'TEXT_MESSAGE_CONTENT', messageId: 'm', delta: 'Hi' },
    ])
    store.down = true
    expect((await send([{ type: 'TEXT_MESSAGE_CONTENT', messageId: 'm', delta: ' there' }])).status).toBe(503)
    store.down = false
    expect((await send([{ type: 'TEXT_MESSAGE_CONTENT', messageId: 'm', delta: ' there' }])).status).toBe(200)
    expect(
      (
        await send([
          { type: 'TEXT_MESSAGE_END', messageId: 'm' },
          { type: 'RUN_FINISHED', threadId: p.id, runId: run },
        ])
      ).status,
    ).toBe(200)
    expect((await api.events(p.id)).at(-1)).toMatchObject({ type: 'final', text: 'Hi there' })
  })

  test('an invalid AG-UI event is a 422 naming its position, and nothing of the request is stored', async () => {
    const api = await start()
    const p = await api.publisher()
    const run = await api.openRun(p)
    const bad = [
      { type: 'TEXT_MESSAGE_START', messageId: 'm', role: 'assistant' },
      { type: 'TEXT_MESSAGE_CONTENT', messageId: 'm', delta: 'Hi' },
      { type: 'TOOL_CALL_ARGS', toolCallId: 'nope', delta: '{}' },
    ]
    const res = await api.append(p, run, bad, { query: '?format=ag-ui' })
    expect(res.status).toBe(422)
    const body = (await res.json()) as { error: { code: string; message: string } }
    expect(body.error).toEqual({
      code: 'INVALID_EVENT',
      message: 'AG-UI event 3 (TOOL_CALL_ARGS) names tool call "nope", which no TOOL_CALL_START opened.',
    })
    expect(await api.events(p.id)).toEqual([])
    // The mapper forgot the refused batch: the same good events again, then the end, make one answer.
    const ok = await api.append(
      p,
      run,
      [...bad.slice(0, 2), { type: 'TEXT_MESSAGE_END', messageId: 'm' }, { type: 'RUN_FINISHED', threadId: p.id, runId: run }],
      { query: '?format=ag-ui' },
    )
    expect(ok.status).toBe(200)
    expect((await api.events(p.id)).map((e) => e.type)).toEqual(['start', 'partial', 'final'])
    expect((await api.events(p.id)).at(-1)).toMatchObject({ text: 'Hi' })
    const unknown = await api.append(p, run, [], { query: '?format=yaml' })
    expect(unknown.status).toBe(400)
  })
})
