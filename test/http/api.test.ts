import { afterEach, beforeEach, describe, expect, test } from 'bun:test'
import { testApp, url } from '../helpers/test-app.ts'
import { HeldStep } from '../helpers/held-step.ts'
import { DEFAULT_MAX_MESSAGE_BYTES, MAX_BODY_BYTES } from '../../src/limits.ts'
import { newId } from '../../src/session-id.ts'

let made: Awaited<ReturnType<typeof testApp>>
beforeEach(async () => {
  made = await testApp({ echoDelayMs: 20 })
})
afterEach(() => made.close())

const call = (method: string, path: string, body?: unknown, headers: Record<string, string> = {}) =>
  made.app.handle(
    new Request(url(path), {
      method,
      headers: body === undefined ? headers : { 'content-type': 'application/json', ...headers },
      body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
    }),
  )

/** Replaces the app with one whose runs hold after a few characters until the test releases them. */
async function heldApp(): Promise<HeldStep> {
  await made.close()
  const held = new HeldStep()
  made = await testApp({ step: held })
  return held
}

async function newSession(): Promise<string> {
  const res = await call('POST', '/api/sessions')
  expect(res.status).toBe(201)
  const body = (await res.json()) as { id: string; url: string }
  expect(body.url).toBe(`/?client_id=${body.id}`)
  return body.id
}

/** Asserts the JSON error shape: a code and a sentence, never a stack trace. */
async function expectError(res: Response, status: number, code: string) {
  expect(res.status).toBe(status)
  const body = (await res.json()) as { error: { code: string; message: string } }
  expect(body.error.code).toBe(code)
  expect(body.error.message).toMatch(/^[A-Z"].+\.$/)
  expect(JSON.stringify(body)).not.toMatch(/\bat .+:\d+:\d+/)
}

describe('JSON API', () => {
  test('POST /api/sessions creates a session with an unguessable 22-character id', async () => {
    const a = await newSession()
    const b = await newSession()
    expect(a).toMatch(/^[A-Za-z0-9_-]{22}$/)
    expect(a).not.toBe(b)
  })

  test('GET /api/sessions/:id describes the session', async () => {
    const id = await newSession()
    const res = await call('GET', `/api/sessions/${id}`)
    expect(res.status).toBe(200)
    expect(await res.json()).toMatchObject({ id, last_seq: 0, running: false })
  })

  test('unknown session → 404, malformed id → 400', async () => {
    await expectError(await call('GET', `/api/sessions/${newId()}`), 404, 'SESSION_NOT_FOUND')
    await expectError(await call('GET', '/api/sessions/nope'), 400, 'BAD_SESSION_ID')
    await expectError(await call('POST', `/api/sessions/${newId()}/messages`, { text: 'hi' }), 404, 'SESSION_NOT_FOUND')
    await expectError(await call('GET', '/api/sessions/%3Cscript%3E/events'), 400, 'BAD_SESSION_ID')
  })

  test('a message starts a run (202) and a second one while it runs is refused (409)', async () => {
    const held = await heldApp()
    const id = await newSession()
    const first = await call('POST', `/api/sessions/${id}/messages`, { text: 'hello there' })
    expect(first.status).toBe(202)
    const { step_id } = (await first.json()) as { step_id: string }
    expect(step_id).toMatch(/^[A-Za-z0-9_-]{22}$/)
    expect(await (await call('GET', `/api/sessions/${id}`)).json()).toMatchObject({ running: true })
    await expectError(await call('POST', `/api/sessions/${id}/messages`, { text: 'again' }), 409, 'RUN_ACTIVE')
    await held.held()
    held.release()
    await made.deps.runner.settled(id)
    expect((await call('POST', `/api/sessions/${id}/messages`, { text: 'now' })).status).toBe(202)
  })

  test('bad message bodies get 400 with a sentence', async () => {
    const id = await newSession()
    const path = `/api/sessions/${id}/messages`
    await expectError(await call('POST', path, { text: '' }), 400, 'BAD_REQUEST')
    await expectError(await call('POST', path, { text: '   ' }), 400, 'BAD_REQUEST')
    await expectError(await call('POST', path, {}), 400, 'BAD_REQUEST')
    await expectError(await call('POST', path, { text: 42 }), 400, 'BAD_REQUEST')
    await expectError(await call('POST', path, '{not json'), 400, 'BAD_REQUEST')
    await expectError(await call('POST', path, { text: 'x'.repeat(DEFAULT_MAX_MESSAGE_BYTES + 1) }), 413, 'MESSAGE_TOO_LARGE')
    await expectError(await call('POST', path), 400, 'BAD_REQUEST')
    expect((await (await call('GET', `/api/sessions/${id}`)).json()) as object).toMatchObject({ last_seq: 0 })
  })

  test('a body over the limit is refused with 413 before it is read', async () => {
    const id = await newSession()
    const big = JSON.stringify({ text: 'x'.repeat(2 * 1024 * 1024) })
    // app.handle sends no Content-Length of its own; a real client always does (tested on a real port too).
    await expectError(
      await call('POST', `/api/sessions/${id}/messages`, big, { 'content-length': String(big.length) }),
      413,
      'BODY_TOO_LARGE',
    )
  })

  test('a Content-Length over the limit is refused without reading the body', async () => {
    const id = await newSession()
    let pulled = 0
    const chunk = new Uint8Array(64 * 1024).fill(120)
    const body = new ReadableStream<Uint8Array>({
      pull(controller) {
        pulled += chunk.length
        if (pulled > 4 * MAX_BODY_BYTES) controller.close()
        else controller.enqueue(chunk)
      },
    })
    const headers = { 'content-type': 'application/json', 'content-length': String(4 * MAX_BODY_BYTES) }
    const res = await made.app.handle(new Request(url(`/api/sessions/${id}/messages`), { method: 'POST', headers, body }))
    await expectError(res, 413, 'BODY_TOO_LARGE')
    // A ReadableStream pulls one chunk ahead by itself; the app itself read nothing.
    expect(pulled).toBeLessThanOrEqual(chunk.length)
  })

  test('cancel: 409 when idle, 202 while running, and the run ends with interrupt', async () => {
    // A run that holds until cancelled: the cancel never comes after its end, whatever the load.
    const held = await heldApp()
    const id = await newSession()
    await expectError(await call('POST', `/api/sessions/${id}/cancel`), 409, 'NO_ACTIVE_RUN')
    await call('POST', `/api/sessions/${id}/messages`, { text: 'a long enough message to cancel' })
    await held.held()
    const res = await call('POST', `/api/sessions/${id}/cancel`)
    expect(res.status).toBe(202)
    await made.deps.runner.settled(id)
    const events = (await (await call('GET', `/api/sessions/${id}/events`)).json()) as { type: string; text?: string; delta?: string }[]
    const last = events.at(-1)!
    expect(last.type).toBe('interrupt')
    expect(last.text).toBe(
      events
        .filter((e) => e.type === 'partial')
        .map((e) => e.delta)
        .join(''),
    )
    expect(last.text!.length).toBeLessThan('a long enough message to cancel'.length)
  })

  test('GET events honours after and limit, ascending seq', async () => {
    const id = await newSession()
    await call('POST', `/api/sessions/${id}/messages`, { text: 'abc' })
    await made.deps.runner.settled(id)
    const all = (await (await call('GET', `/api/sessions/${id}/events`)).json()) as { seq: number; type: string }[]
    expect(all.map((e) => e.type)).toEqual(['user', 'start', 'partial', 'partial', 'partial', 'final'])
    expect(all.map((e) => e.seq)).toEqual([1, 2, 3, 4, 5, 6])
    const page = (await (await call('GET', `/api/sessions/${id}/events?after=2&limit=2`)).json()) as { seq: number }[]
    expect(page.map((e) => e.seq)).toEqual([3, 4])
    await expectError(await call('GET', `/api/sessions/${id}/events?after=-1`), 400, 'BAD_REQUEST')
    await expectError(await call('GET', `/api/sessions/${id}/events?after=abc`), 400, 'BAD_REQUEST')
    await expectError(await call('GET', `/api/sessions/${id}/events?limit=0`), 400, 'BAD_REQUEST')
  })

  test('an unknown route is a 404 with a sentence', async () => {
    await expectError(await call('GET', '/api/nothing-here'), 404, 'NOT_FOUND')
  })
})

describe('health and metrics', () => {
  test('healthz, readyz and metrics answer', async () => {
    expect(await (await call('GET', '/healthz')).json()).toMatchObject({ status: 'ok' })
    expect(await (await call('GET', '/readyz')).json()).toMatchObject({ status: 'ready' })
    const metrics = await (await call('GET', '/metrics')).text()
    expect(metrics).toContain('stepstream_sse_connections{stream="html"} 0')
    expect(metrics).toContain('stepstream_runs_active 0')
  })

  test('readyz is 503 when the store is gone', async () => {
    const { SqliteStore } = await import('../../src/store/sqlite-store.ts')
    const store = new SqliteStore(':memory:')
    const broken = await testApp({ store })
    await store.close()
    const res = await broken.app.handle(new Request(url('/readyz')))
    expect(res.status).toBe(503)
    expect(await res.json()).toMatchObject({ status: 'unavailable' })
  })
})
