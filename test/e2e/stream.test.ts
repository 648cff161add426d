import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import type { EventSourceMessage } from 'eventsource-parser'
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { DEFAULT_USER_MESSAGE } from '../../src/steps/conversation.ts'
import { SqliteStore } from '../../src/store/sqlite-store.ts'
import { HeldStep } from '../helpers/held-step.ts'
import { SseReader, hasEnd } from '../helpers/sse-client.ts'
import { startChat } from '../helpers/start-chat.ts'
import { testServer } from '../helpers/test-app.ts'
import { slowTests } from '../helpers/slow-tests.ts'
import { until } from '../helpers/wait.ts'

slowTests()

let server: Awaited<ReturnType<typeof testServer>>
// Sessions made with `session('held')` answer with it: 5 characters, then nothing until the test releases the run.
const held = new HeldStep()
beforeAll(async () => {
  server = await testServer({ echoDelayMs: 10, moreSteps: [held] })
})
afterAll(() => server.close())

const api = (path: string, init?: RequestInit) => fetch(`${server.base}${path}`, init)
const json = (text: string) => ({ method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ text }) })

/** A new session of the server's echo step, or of `step`. */
async function session(step?: string): Promise<string> {
  const body = step === undefined ? {} : { body: JSON.stringify({ step }), headers: { 'content-type': 'application/json' } }
  return ((await (await api('/api/sessions', { method: 'POST', ...body })).json()) as { id: string }).id
}
const seqs = (messages: EventSourceMessage[]) => messages.map((m) => Number(m.id))
const events = (messages: EventSourceMessage[]) =>
  messages.map((m) => JSON.parse(m.data) as { type: string; seq: number; delta?: string; text?: string })
const consecutive = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i)

describe('streaming on a real port', () => {
  test('the /start flow streams the default conversation to final on the HTML stream', async () => {
    const id = (await startChat(server.base)).split('=')[1]!
    const stream = await SseReader.open(`${server.base}/events?client_id=${id}`)
    expect(stream.retry).toBe(1000)
    const messages = await stream.until((m) => m.some((x) => x.data.includes('data-state="idle"')))
    stream.close()
    expect(seqs(messages)).toEqual(consecutive(1, messages.length))
    const html = messages.map((m) => m.data)
    expect(html[0]).toContain(`<article class="msg user"`)
    expect(html[0]).toContain('<article class="msg assistant"')
    expect(html[1]).toContain('data-state="running"')
    const deltas = html.slice(2, -1).map((h) => h.match(/<span>(.*)<\/span>/s)![1])
    expect(deltas.join('')).toBe(DEFAULT_USER_MESSAGE)
    expect(html.at(-1)).toContain(`answer final`)
    expect(html.at(-1)).toContain(DEFAULT_USER_MESSAGE)
  })

  test('the JSON stream carries each event once, code point by code point, with a final holding the whole text', async () => {
    const id = await session()
    const stream = await SseReader.open(`${server.base}/api/sessions/${id}/stream`)
    await api(`/api/sessions/${id}/messages`, json('a😀b'))
    const messages = await stream.until((m) => hasEnd(m))
    stream.close()
    expect(messages.map((m) => m.event)).toEqual(['user', 'start', 'partial', 'partial', 'partial', 'final'])
    expect(
      events(messages)
        .filter((e) => e.type === 'partial')
        .map((e) => e.delta),
    ).toEqual(['a', '😀', 'b'])
    expect(events(messages).at(-1)!.text).toBe('a😀b')
  })

  for (const how of ['Last-Event-ID', '?after='] as const) {
    test(`resumes mid-run with ${how}: no gap, no duplicate`, async () => {
      const id = await session('held')
      const first = await SseReader.open(`${server.base}/api/sessions/${id}/stream`)
      await api(`/api/sessions/${id}/messages`, json('resume me without a gap please'))
      // user, start and the 5 characters streamed before the run holds: mid-run, whatever the load.
      await first.until((m) => m.length >= 7)
      first.close()
      held.release()
      const seen = first.messages.length
      const lastId = first.lastId!
      const url = `${server.base}/api/sessions/${id}/stream${how === '?after=' ? `?after=${lastId}` : ''}`
      const second = await SseReader.open(url, how === 'Last-Event-ID' ? { 'last-event-id': lastId } : {})
      await second.until((m) => hasEnd(m))
      second.close()
      const all = [...first.messages.slice(0, seen), ...second.messages]
      expect(seqs(all)).toEqual(consecutive(1, all.length))
      expect(events(all).at(-1)).toMatchObject({ type: 'final', text: 'resume me without a gap please' })
    })
  }

  const streams = {
    HTML: (id: string) => `/events?client_id=${id}`,
    JSON: (id: string) => `/api/sessions/${id}/stream?`,
  }
  for (const [name, path] of Object.entries(streams))
    for (const how of ['Last-Event-ID', '?after='] as const) {
      test(`${name} stream: a cursor past the log's head (${how}) gets reset to the head, then the live events`, async () => {
        const id = await session()
        await api(`/api/sessions/${id}/messages`, json('abc'))
        await server.deps.runner.settled(id)
        const head = (await (await api(`/api/sessions/${id}`)).json()) as { last_seq: number }
        const url = `${server.base}${path(id)}${how === '?after=' ? '&after=40' : ''}`
        const stream = await SseReader.open(url, how === 'Last-Event-ID' ? { 'last-event-id': '40' } : {})
        await stream.until((m) => m.length >= 1)
        expect(stream.messages[0]).toMatchObject({
          event: 'reset',
          id: String(head.last_seq),
          data: JSON.stringify({ after: head.last_seq }),
        })
        await api(`/api/sessions/${id}/messages`, json('next'))
        const messages = await stream.until((m) => m.some((x) => x.event === 'final' || x.data.includes('answer final')))
        stream.close()
        expect(seqs(messages.slice(1))).toEqual(consecutive(head.last_seq + 1, head.last_seq + messages.length - 1))
      })
    }

  test('Last-Event-ID wins over ?after=', async () => {
    const id = await session()
    await api(`/api/sessions/${id}/messages`, json('abc'))
    await server.deps.runner.settled(id)
    const stream = await SseReader.open(`${server.base}/api/sessions/${id}/stream?after=1`, { 'last-event-id': '4' })
    await stream.until((m) => hasEnd(m))
    stream.close()
    expect(Number(stream.messages[0]!.id)).toBe(5)
  })

  test('two tabs see identical logs, and closing one leaves the other running', async () => {
    const id = await session()
    const a = await SseReader.open(`${server.base}/events?client_id=${id}`)
    const b = await SseReader.open(`${server.base}/events?client_id=${id}`)
    await api(`/api/sessions/${id}/messages`, json('shared between two tabs'))
    await a.until((m) => m.length >= 6)
    a.close()
    await b.until((m) => m.some((x) => x.data.includes('answer final')))
    await api(`/api/sessions/${id}/messages`, json('second'))
    await b.until((m) => m.filter((x) => x.data.includes('answer final')).length === 2)
    b.close()
    expect(a.messages.map((m) => [m.id, m.data])).toEqual(b.messages.slice(0, a.messages.length).map((m) => [m.id, m.data]))
    expect(seqs(b.messages)).toEqual(consecutive(1, b.messages.length))
  })

  test('cancel ends the run with an interrupt holding exactly what was streamed, and the next message works', async () => {
    const id = await session('held')
    const stream = await SseReader.open(`${server.base}/api/sessions/${id}/stream`)
    await api(`/api/sessions/${id}/messages`, json('this message will be cut off somewhere in the middle'))
    await held.held()
    await stream.until((m) => m.filter((x) => x.event === 'partial').length >= 5)
    expect((await api(`/api/sessions/${id}/cancel`, { method: 'POST' })).status).toBe(202)
    await stream.until((m) => hasEnd(m))
    const all = events(stream.messages)
    const interrupt = all.at(-1)!
    expect(interrupt.type).toBe('interrupt')
    expect(interrupt.text).toBe(
      all
        .filter((e) => e.type === 'partial')
        .map((e) => e.delta)
        .join(''),
    )
    expect((await api(`/api/sessions/${id}/messages`, json('next'))).status).toBe(202)
    await stream.until((m) => hasEnd(m, 2))
    stream.close()
    expect(events(stream.messages).at(-1)).toMatchObject({ type: 'final', text: 'next' })
  })

  test('hostile text is escaped on the HTML stream and forges nothing on either stream', async () => {
    const id = await session()
    const html = await SseReader.open(`${server.base}/events?client_id=${id}`)
    const raw = await SseReader.open(`${server.base}/api/sessions/${id}/stream`)
    const hostile = '<img src=x onerror=alert(1)>\r\nid: 999\n\nevent: final\ndata: x'
    await api(`/api/sessions/${id}/messages`, json(hostile))
    await raw.until((m) => hasEnd(m))
    await html.until((m) => m.some((x) => x.data.includes('answer final')))
    html.close()
    raw.close()
    expect(raw.messages.map((m) => m.event)).toEqual(['user', 'start', ...Array([...hostile].length).fill('partial'), 'final'])
    expect(seqs(raw.messages)).toEqual(consecutive(1, raw.messages.length))
    expect(events(raw.messages).at(-1)!.text).toBe(hostile)
    expect(seqs(html.messages)).toEqual(consecutive(1, html.messages.length))
    for (const m of html.messages) {
      expect(m.event).toBeUndefined()
      expect(m.data).not.toContain('<img')
    }
    expect(html.messages[0]!.data).toContain('&lt;img src=x onerror=alert(1)&gt;')
    const page = await (await api(`/?client_id=${id}`)).text()
    expect(page).not.toContain('<img')
    expect(page).toContain('&lt;img src=x onerror=alert(1)&gt;')
  })

  test('a closed tab is released at once, with no event or heartbeat to write to it', async () => {
    const id = await session()
    const before = server.deps.connections.open
    const stream = await SseReader.open(`${server.base}/events?client_id=${id}`)
    await until(() => server.deps.connections.open === before + 1, { what: 'the stream to be counted' })
    stream.close()
    // The heartbeat is 15 s away and the session is quiet: only noticing the closed socket itself releases it.
    await until(() => server.deps.connections.open === before, { what: 'the closed stream to be released' })
  })

  test('bad inputs get clear 4xx and the server stays healthy', async () => {
    const id = await session()
    const post = (body: BodyInit, type = 'application/json') =>
      api(`/api/sessions/${id}/messages`, { method: 'POST', headers: { 'content-type': type }, body })
    const cases: [Promise<Response>, number][] = [
      [post(JSON.stringify({ text: '' })), 400],
      [post(JSON.stringify({})), 400],
      [post('{"text": '), 400],
      [post('text=hi', 'text/plain'), 400],
      [post(JSON.stringify({ text: 'x'.repeat(2 * 1024 * 1024) })), 413],
      [api('/api/sessions/not-an-id'), 400],
      [api('/events?client_id=%00%0d%0a'), 400],
      [api('/?client_id=<script>'), 400],
    ]
    for (const [response, status] of cases) {
      const res = await response
      expect(res.status).toBe(status)
      expect((await res.text()).length).toBeGreaterThan(10)
    }
    expect((await api('/healthz')).status).toBe(200)
    expect((await api(`/api/sessions/${id}/messages`, json('still fine'))).status).toBe(202)
  })

  test('a heartbeat comment keeps a quiet stream open', async () => {
    const quiet = await testServer({ heartbeatMs: 200 })
    const id = ((await (await fetch(`${quiet.base}/api/sessions`, { method: 'POST' })).json()) as { id: string }).id
    const stream = await SseReader.open(`${quiet.base}/api/sessions/${id}/stream`)
    const pings = () => stream.comments.filter((c) => c.trim() === 'ping').length
    await until(() => pings() >= 2, { what: 'two heartbeats on a quiet stream' })
    expect(stream.messages).toEqual([])
    stream.close()
    await quiet.close()
  })
})

test('shutdown ends every stream cleanly with a spread-out retry, and interrupts the running step', async () => {
  const path = join(mkdtempSync(join(tmpdir(), 'stepstream-shutdown-')), 'db.sqlite')
  const cut = new HeldStep()
  const doomed = await testServer({ step: cut, store: new SqliteStore(path) })
  const id = ((await (await fetch(`${doomed.base}/api/sessions`, { method: 'POST' })).json()) as { id: string }).id
  const stream = await SseReader.open(`${doomed.base}/api/sessions/${id}/stream`)
  await fetch(`${doomed.base}/api/sessions/${id}/messages`, json('a run cut by shutdown'))
  await cut.held()
  await stream.until((m) => m.length >= 4)
  await doomed.close()
  await stream.ended()
  expect(stream.retry).toBeGreaterThanOrEqual(1000)
  expect(stream.retry).toBeLessThanOrEqual(3000)
  const reopened = new SqliteStore(path)
  const log = await reopened.read(id, 0)
  await reopened.close()
  expect(log.at(-1)).toMatchObject({ type: 'interrupt' })
  expect(log.filter((e) => e.type === 'partial').length).toBeGreaterThan(0)
})
