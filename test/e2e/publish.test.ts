import { afterEach, describe, expect, test } from 'bun:test'
import { AppError } from '../../src/errors.ts'
import type { NewEvent, StoredEvent } from '../../src/events.ts'
import type { EventStore } from '../../src/log/event-store.ts'
import { MemoryStore } from '../../src/store/memory-store.ts'
import { type Publisher, publishApi } from '../helpers/publish-api.ts'
import { slowTests } from '../helpers/slow-tests.ts'
import { SseReader } from '../helpers/sse-client.ts'
import { testServer } from '../helpers/test-app.ts'

slowTests()

let server: Awaited<ReturnType<typeof testServer>> | undefined
afterEach(() => server?.close())

async function start(options: { publishTimeoutMs?: number; authTokens?: string[]; store?: EventStore } = {}) {
  server = await testServer(options)
  return publishApi(server.base)
}

const answers = async (proc: ReturnType<typeof Bun.spawn>) => {
  const out = await new Response(proc.stdout as ReadableStream).text()
  expect(await proc.exited).toBe(0)
  return out
    .trim()
    .split('\n')
    .map((line) => JSON.parse(line) as { status?: number; body?: Record<string, unknown>; cancelled?: boolean })
}

describe('the publish API, from a Python program using only the standard library', () => {
  test('a run streamed as NDJSON reaches an SSE reader in order: user, start, partials, final', async () => {
    const api = await start()
    const p = await api.publisher()
    expect(p.publisher_token).toMatch(/^[A-Za-z0-9_-]{43}$/)
    const stream = await SseReader.open(`${api.base}/api/sessions/${p.id}/stream`)
    const said = await answers(api.python(p, 'stream'))
    expect(said[0]).toMatchObject({ status: 201 })
    expect(said[1]).toMatchObject({ status: 200, body: { appended: 6, closed: true } })
    const messages = await stream.until((m) => m.some((x) => x.event === 'final'))
    stream.close()
    expect(messages.map((m) => m.event)).toEqual(['user', 'start', 'partial', 'partial', 'partial', 'partial', 'final'])
    const log = messages.map((m) => JSON.parse(m.data) as StoredEvent)
    expect(log[0]).toMatchObject({ type: 'user', text: 'Tell me a story.' })
    expect(log[1]).toMatchObject({ type: 'start', step_type: 'published' })
    expect(log.at(-1)).toMatchObject({ type: 'final', text: 'Once upon a time.' })
    expect(new Set(log.map((e) => e.step_id))).toEqual(new Set([said[0]!.body!.run_id as string]))
  })

  test('a cancel from the page reaches the producer: its next append is a 409 {"cancelled": true}, the run ends with interrupt', async () => {
    const api = await start()
    const p = await api.publisher()
    const proc = api.python(p, 'cancel')
    await api.until(p.id, (log) => log.filter((e) => e.type === 'partial').length >= 2)
    expect((await api.post(`/api/sessions/${p.id}/cancel`)).status).toBe(202)
    const said = await answers(proc)
    expect(said.at(-1)).toEqual({ cancelled: true })
    expect(said.at(-2)).toMatchObject({ status: 409, body: { cancelled: true, error: { code: 'RUN_CANCELLED' } } })
    const log = await api.events(p.id)
    const streamed = log.flatMap((e) => (e.type === 'partial' ? [e.delta] : [])).join('')
    expect(log.at(-1)).toMatchObject({ type: 'interrupt', text: streamed })
  })

  test('the same append sent twice under one Producer-Seq is stored once; a skipped number is refused naming the next', async () => {
    const api = await start()
    const p = await api.publisher()
    const said = await answers(api.python(p, 'retry'))
    expect(said[1]).toMatchObject({ status: 200, body: { appended: 1, closed: false } })
    expect(said[2]).toEqual(said[1]!)
    expect(said[3]).toMatchObject({
      status: 409,
      body: { error: { code: 'PRODUCER_SEQ_GAP', message: expect.stringContaining('the next expected is 1') } },
    })
    const log = await api.events(p.id)
    expect(log.map((e) => e.type)).toEqual(['start', 'partial'])
  })
})

describe('the publish API', () => {
  test('NDJSON lines are stored as they arrive: a viewer sees each one before the next is sent', async () => {
    const api = await start()
    const p = await api.publisher()
    const run = await api.openRun(p)
    const stream = await SseReader.open(`${api.base}/api/sessions/${p.id}/stream`)
    let push!: (line: string | null) => void
    const body = new ReadableStream<Uint8Array>({
      start(controller) {
        push = (line) => (line === null ? controller.close() : controller.enqueue(new TextEncoder().encode(`${line}\n`)))
      },
    })
    const request = fetch(`${api.base}/api/sessions/${p.id}/runs/${run}/events`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-ndjson', ...api.bearer(p) },
      body,
      duplex: 'half',
    } as RequestInit)
    for (const word of ['one', 'two', 'three']) {
      push(JSON.stringify({ type: 'partial', delta: word }))
      await stream.until((m) => m.some((x) => x.event === 'partial' && JSON.parse(x.data).delta === word), 5000)
    }
    push(JSON.stringify({ type: 'final', text: 'onetwothree' }))
    push(null)
    expect(await (await request).json()).toMatchObject({ run_id: run, appended: 4, closed: true })
    stream.close()
  })

  test('tokens: none, a wrong one, another session’s, and a read-only id are all refused, and nothing is stored', async () => {
    const api = await start()
    const [p, other] = [await api.publisher(), await api.publisher()]
    const run = await api.openRun(p)
    const path = `/api/sessions/${p.id}/runs/${run}/events`
    const partial = [{ type: 'partial', delta: 'x' }]
    for (const headers of [{}, { authorization: `Bearer ${'A'.repeat(43)}` }, api.bearer(other), { authorization: 'Basic abc' }]) {
      const res = await api.post(path, partial, headers)
      expect(res.status).toBe(401)
      expect(res.headers.get('www-authenticate')).toBe('Bearer')
      expect(await res.json()).toMatchObject({ error: { code: 'UNAUTHORIZED', message: expect.stringContaining('Authorization: Bearer') } })
      expect((await api.post(`/api/sessions/${p.id}/runs`, undefined, headers)).status).toBe(401)
    }
    expect((await api.post(`/api/sessions/${p.viewer_id}/runs/${run}/events`, partial, api.bearer(p))).status).toBe(403)
    // A session created without a publisher has no token that could match.
    const plain = (await (await api.post('/api/sessions')).json()) as { id: string }
    expect((await api.post(`/api/sessions/${plain.id}/runs`, undefined, api.bearer(p))).status).toBe(401)
    expect(await api.events(p.id)).toEqual([])
  })

  test('a malformed event is refused with 422 naming it and its field, and nothing of that request is stored', async () => {
    const api = await start()
    const p = await api.publisher()
    const run = await api.openRun(p)
    const cases: [unknown[], RegExp][] = [
      [
        [
          { type: 'partial', delta: 'fine' },
          { type: 'partial', text: 'no delta' },
        ],
        /^Event 2 of this request is invalid: partial event: \/delta/,
      ],
      [[{ type: 'interrupt', text: 'x' }], /interrupt event, which a publisher cannot send/],
      [
        [
          { type: 'partial', delta: 'a' },
          { type: 'user', text: 'late' },
        ],
        /a user message, which can only open a run/,
      ],
      [
        [
          { type: 'final', text: 'a' },
          { type: 'partial', delta: 'after' },
        ],
        /closes the run, so it must be the last event/,
      ],
    ]
    for (const [events, sentence] of cases) {
      const res = await api.append(p, run, events)
      expect(res.status).toBe(422)
      expect(((await res.json()) as { error: { message: string } }).error.message).toMatch(sentence)
    }
    expect(await api.events(p.id)).toEqual([])
    const notArray = await api.append(p, run, { type: 'partial' } as unknown as unknown[])
    expect(notArray.status).toBe(400)
  })

  test("an NDJSON body's bad line is named by its number (blank lines counted, as an editor counts them) and what is wrong with it", async () => {
    const api = await start()
    const p = await api.publisher()
    const run = await api.openRun(p)
    const post = (body: string) =>
      fetch(`${api.base}/api/sessions/${p.id}/runs/${run}/events`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-ndjson', ...api.bearer(p) },
        body,
      })
    const partial = (delta: string) => JSON.stringify({ type: 'partial', delta })
    const cases: [string, string | RegExp][] = [
      [
        `${partial('one')}\n\n${partial('two')}\n{"type":"partial","text":"no delta"}\n`,
        /^Line 4 of the body is invalid: partial event: \/delta/,
      ],
      [
        `${partial('three')}\n\n{"type":"interrupt","text":"x"}\n`,
        /^Line 3 of the body is an interrupt event, which a publisher cannot send/,
      ],
      [`${partial('four')}\n   \n{"type":"partial","delta":nul}`, 'Line 3 of the body is not JSON: unexpected identifier "nul".'],
    ]
    for (const [body, sentence] of cases) {
      const res = await post(body)
      expect(res.status).toBe(422)
      expect(((await res.json()) as { error: { message: string } }).error.message).toMatch(sentence)
    }
  })

  test('one run at a time; a closed run refuses more events; the page cannot post into a published chat', async () => {
    const api = await start()
    const p = await api.publisher()
    const run = await api.openRun(p)
    expect((await api.post(`/api/sessions/${p.id}/runs`, undefined, api.bearer(p))).status).toBe(409)
    expect(
      (
        await api.append(p, run, [
          { type: 'partial', delta: 'hi' },
          { type: 'final', text: 'hi' },
        ])
      ).status,
    ).toBe(200)
    await api.until(p.id, (log) => log.some((e) => e.type === 'final'))
    const late = await api.append(p, run, [{ type: 'partial', delta: 'late' }])
    expect(late.status).toBe(409)
    expect(await late.json()).toMatchObject({ error: { code: 'RUN_CLOSED' } })
    const message = await api.post(`/api/sessions/${p.id}/messages`, { text: 'hello?' })
    expect(message.status).toBe(409)
    expect(await message.json()).toMatchObject({ error: { code: 'PUBLISHED_SESSION' } })
    expect(await api.openRun(p)).not.toBe(run)
  })

  test('a producer silent for --publish-timeout has its run closed with an error that says so; the session is free again', async () => {
    // Long enough that the append right after the open never comes too late on a loaded machine.
    const api = await start({ publishTimeoutMs: 1500 })
    const p = await api.publisher()
    const run = await api.openRun(p)
    expect((await api.append(p, run, [{ type: 'partial', delta: 'then silence' }])).status).toBe(200)
    const log = await api.until(p.id, (events) => events.some((e) => e.type === 'error'))
    expect(log.map((e) => e.type)).toEqual(['start', 'partial', 'error'])
    expect(log.at(-1)).toMatchObject({
      type: 'error',
      error: 'The program publishing this run sent nothing for 1.5 s, so the run was closed.',
    })
    expect((await api.append(p, run, [{ type: 'partial', delta: 'too late' }])).status).toBe(409)
    await api.openRun(p)
  })

  test('with auth on, a program publishes with its publisher token alone; creating the session needs the auth token', async () => {
    const authToken = 'operator-token-0123456789'
    const api = await start({ authTokens: [authToken] })
    const operator = { authorization: `Bearer ${authToken}` }
    expect((await api.post('/api/sessions', { publisher: true })).status).toBe(401)
    const p = (await (await api.post('/api/sessions', { publisher: true }, operator)).json()) as Publisher
    const run = await api.openRun(p)
    expect((await api.append(p, run, [{ type: 'final', text: 'published under auth' }])).status).toBe(200)
    const log = (await (await fetch(`${api.base}/api/sessions/${p.id}/events`, { headers: operator })).json()) as StoredEvent[]
    expect(log.at(-1)).toMatchObject({ type: 'final', text: 'published under auth' })
    // The publish routes take no other token in place of the publisher's.
    expect((await api.post(`/api/sessions/${p.id}/runs`, undefined, operator)).status).toBe(401)
  })

  test('Producer-Seq is numbered per run, and a retry of the request that closed a run gets its answer again', async () => {
    const api = await start()
    const p = await api.publisher()
    const seq = (n: number) => ({ 'producer-id': 'agent', 'producer-seq': String(n) })
    const first = await api.openRun(p)
    const closing = [{ type: 'final', text: 'one' }]
    const answer = await (await api.append(p, first, closing, { headers: seq(0) })).json()
    expect(answer).toMatchObject({ appended: 1, closed: true })
    await api.until(p.id, (log) => log.some((e) => e.type === 'final'))
    const retried = await api.append(p, first, closing, { headers: seq(0) })
    expect(retried.status).toBe(200)
    expect(await retried.json()).toEqual(answer)
    // The next run starts its numbers again at 0, and is stored, not mistaken for a retry.
    const second = await api.openRun(p)
    expect(await (await api.append(p, second, [{ type: 'final', text: 'two' }], { headers: seq(0) })).json()).toMatchObject({
      run_id: second,
      appended: 1,
    })
    expect((await api.events(p.id)).filter((e) => e.type === 'final').map((e) => (e.type === 'final' ? e.text : ''))).toEqual([
      'one',
      'two',
    ])
  })

  test('a streamed request refused part-way keeps what it stored, and its retry stores nothing twice', async () => {
    const api = await start()
    const p = await api.publisher()
    const run = await api.openRun(p)
    const body = `${JSON.stringify({ type: 'partial', delta: 'kept' })}\n{not json}\n`
    const send = () =>
      fetch(`${api.base}/api/sessions/${p.id}/runs/${run}/events`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-ndjson', 'producer-id': 'agent', 'producer-seq': '0', ...api.bearer(p) },
        body,
      })
    const refused = await send()
    expect(refused.status).toBe(422)
    expect(await refused.json()).toMatchObject({ error: { message: "Line 2 of the body is not JSON: expected '}'." } })
    expect((await send()).status).toBe(422)
    expect((await api.events(p.id)).map((e) => e.type)).toEqual(['start', 'partial'])
  })

  test('a closing event the store refuses ends the run at once with an error, not after the silence timeout', async () => {
    class RefusesFinal extends MemoryStore {
      override append(sessionId: string, event: NewEvent) {
        if (event.type === 'final') return Promise.reject(new AppError('STORE_UNAVAILABLE', 'The server could not save this.'))
        return super.append(sessionId, event)
      }
    }
    const api = await start({ store: new RefusesFinal() })
    const p = await api.publisher()
    const run = await api.openRun(p)
    expect(
      (
        await api.append(p, run, [
          { type: 'partial', delta: 'almost' },
          { type: 'final', text: 'almost' },
        ])
      ).status,
    ).toBe(503)
    const log = await api.until(p.id, (events) => events.some((e) => e.type === 'error'))
    expect(log.map((e) => e.type)).toEqual(['start', 'partial', 'error'])
    expect((await api.append(p, run, [{ type: 'final', text: 'again' }])).status).toBe(409)
  })

  test('the owner’s page of a published chat has Cancel but no message box, and says why', async () => {
    const api = await start()
    const p = await api.publisher()
    const page = await (await fetch(`${api.base}/?client_id=${p.id}`)).text()
    expect(page).toContain('A program publishes the answers in this chat')
    expect(page).not.toContain('<textarea')
    expect(page).toContain('id="cancel"')
    const plain = (await (await api.post('/api/sessions')).json()) as { id: string }
    expect(await (await fetch(`${api.base}/?client_id=${plain.id}`)).text()).toContain('<textarea')
  })
})
