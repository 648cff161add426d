import { afterEach, describe, expect, test } from 'bun:test'
import { chatTag, createLogger } from '../../src/log.ts'
import { testApp, url } from '../helpers/test-app.ts'
import { eventually } from '../helpers/wait.ts'

let made: Awaited<ReturnType<typeof testApp>>
let lines: Record<string, unknown>[]
afterEach(() => made?.close())

async function app(options: { trustProxy?: boolean } = {}) {
  lines = []
  made = await testApp({ ...options, log: createLogger('info', { write: (line) => lines.push(JSON.parse(line)) }) })
}
const call = (path: string, init: RequestInit = {}) => made.app.handle(new Request(url(path), init))

/** The log line of the request with this id, once it is written (after the response is sent). */
function lineOf(requestId: string): Promise<Record<string, unknown>> {
  return eventually(() => lines.find((l) => l.msg === 'request' && l.request_id === requestId), {
    what: `the log line of request ${requestId}`,
    describe: () => lines,
  })
}

describe('request logs', () => {
  test('one JSON line per request: id (also X-Request-Id), method, route template, status, duration, the chat’s tag', async () => {
    await app()
    const created = await call('/api/sessions', { method: 'POST' })
    const { id } = (await created.json()) as { id: string }
    const res = await call(`/api/sessions/${id}`)
    const requestId = res.headers.get('x-request-id')!
    expect(requestId).toMatch(/^[\w-]{22}$/)
    const line = await lineOf(requestId)
    expect(line).toMatchObject({ level: 'info', method: 'GET', route: '/api/sessions/:id', status: 200, chat: chatTag(id), ip: 'unknown' })
    expect(typeof line.duration_ms).toBe('number')
    expect(created.headers.get('x-request-id')).not.toBe(requestId)
  })

  test('errors carry their id and status too; an unknown path is "unmatched"', async () => {
    await app()
    const res = await call('/no/such/thing')
    expect(res.status).toBe(404)
    expect(await lineOf(res.headers.get('x-request-id')!)).toMatchObject({ route: 'unmatched', status: 404 })
    const bad = await call('/api/sessions/AAAAAAAAAAAAAAAAAAAAAA/messages', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{"text":"hi"}',
    })
    expect(await lineOf(bad.headers.get('x-request-id')!)).toMatchObject({ route: '/api/sessions/:id/messages', status: 404 })
  })

  test('every stream, and a refused one, carries its id in X-Request-Id and its log line', async () => {
    await app()
    const { id, viewer_id } = (await (await call('/api/sessions', { method: 'POST' })).json()) as { id: string; viewer_id: string }
    for (const [path, route] of [
      [`/events?client_id=${id}`, '/events'],
      [`/api/sessions/${id}/stream`, '/api/sessions/:id/stream'],
      [`/api/sessions/view/${viewer_id}/stream`, '/api/sessions/view/:viewer_id/stream'],
    ] as const) {
      const res = await call(path)
      const requestId = res.headers.get('x-request-id')
      expect(requestId).toMatch(/^[\w-]{22}$/)
      expect(res.headers.get('content-type')).toStartWith('text/event-stream')
      await res.body!.cancel()
      expect(await lineOf(requestId!)).toMatchObject({ route, status: 200 })
    }
    const refused = await call('/api/sessions/AAAAAAAAAAAAAAAAAAAAAA/stream')
    expect(refused.status).toBe(404)
    expect(await lineOf(refused.headers.get('x-request-id')!)).toMatchObject({ route: '/api/sessions/:id/stream', status: 404 })
  })

  test('a request id from a trusted proxy (nginx $request_id) is kept; otherwise a client cannot set it', async () => {
    await app({ trustProxy: true })
    expect((await call('/healthz', { headers: { 'x-request-id': 'nginx-abc123' } })).headers.get('x-request-id')).toBe('nginx-abc123')
    expect((await call('/healthz', { headers: { 'x-request-id': 'bad id with spaces' } })).headers.get('x-request-id')).not.toBe(
      'bad id with spaces',
    )
    await made.close()
    await app({ trustProxy: false })
    expect((await call('/healthz', { headers: { 'x-request-id': 'nginx-abc123' } })).headers.get('x-request-id')).not.toBe('nginx-abc123')
  })

  test('one line per run: step, outcome, duration and events; a message’s text is never logged at info', async () => {
    await app()
    const secret = 'the-secret-words-of-a-user'
    const started = await call('/start', { method: 'POST' })
    const id = new URL(started.headers.get('location')!, 'http://localhost').searchParams.get('client_id')!
    await made.deps.runner.settled(id)
    await call('/chat', {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: `client_id=${id}&message=${secret}`,
    })
    await made.deps.runner.settled(id)
    await call(`/api/sessions/${id}/messages`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ text: secret }),
    })
    await made.deps.runner.settled(id)
    const runs = await eventually(
      () => {
        const ended = lines.filter((l) => l.msg === 'run ended')
        return ended.length >= 3 ? ended : undefined
      },
      { what: 'the three runs’ lines', describe: () => lines },
    )
    expect(runs).toHaveLength(3)
    // The message, start, a partial per character and final.
    expect(runs[1]).toMatchObject({ chat: chatTag(id), step: 'echo', outcome: 'final', events: secret.length + 3 })
    expect(typeof runs[1]!.duration_ms).toBe('number')
    expect(lines.some((l) => l.msg === 'request' && l.route === '/chat' && l.chat === chatTag(id))).toBe(true)
    expect(JSON.stringify(lines)).not.toContain(secret)
  })

  test('no line holds a chat’s owner id (a write capability): requests, runs and errors name the chat by its tag', async () => {
    await app()
    const { id } = (await (await call('/api/sessions', { method: 'POST' })).json()) as { id: string }
    const requests = [
      await call(`/?client_id=${id}`),
      await call(`/api/sessions/${id}/messages`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: '{"text":"hi"}',
      }),
    ]
    await made.deps.runner.settled(id)
    requests.push(await call(`/api/sessions/${id}/transcript.md`))
    for (const res of requests) expect(await lineOf(res.headers.get('x-request-id')!)).toMatchObject({ chat: chatTag(id) })
    // A line logged with `session_id` by any module, and an error's path, are rewritten by the logger itself.
    made.deps.log.error('unhandled error', { path: `/api/sessions/${id}/messages`, session_id: id })
    expect(await eventually(() => lines.find((l) => l.msg === 'run ended'), { what: 'the run’s line' })).toMatchObject({
      chat: chatTag(id),
    })
    const all = JSON.stringify(lines)
    expect(all).not.toContain(id)
    expect(all).toContain(chatTag(id))
    expect(lines.find((l) => l.msg === 'unhandled error')).toMatchObject({
      path: `/api/sessions/chat:${chatTag(id)}/messages`,
      chat: chatTag(id),
    })
  })
})
