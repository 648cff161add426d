import { afterAll, describe, expect, test } from 'bun:test'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { StoredEvent } from '../../src/events.ts'
import { slowTests } from '../helpers/slow-tests.ts'
import { type SpawnedServer, spawnServer } from '../helpers/spawn-server.ts'
import { SseReader } from '../helpers/sse-client.ts'

slowTests()

const dir = mkdtempSync(join(tmpdir(), 'stepstream-shutdown-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))
let files = 0

const STUBBORN = [process.execPath, join(import.meta.dir, '../helpers/stubborn-server.ts')]
const GRACE_MS = 1500

function start(step: string, grace = GRACE_MS): Promise<SpawnedServer> {
  const args = ['--store', `sqlite:${join(dir, `db-${++files}.sqlite`)}`, '--step', step, '--cancel-grace', String(grace)]
  return spawnServer(STUBBORN, { args, env: { STEPSTREAM_LOG_LEVEL: 'info' } })
}

const post = (server: SpawnedServer, path: string, body?: unknown) =>
  fetch(`${server.base}${path}`, {
    method: 'POST',
    headers: body === undefined ? {} : { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  })

/** Resolves once the server has logged that the first signal reached it (two signals sent at once can merge). */
const shuttingDown = (server: SpawnedServer) => server.logged('"msg":"shutting down"')

async function newSession(server: SpawnedServer): Promise<string> {
  return ((await (await post(server, '/api/sessions')).json()) as { id: string }).id
}

describe('SIGTERM with a step that never returns', () => {
  test('new work gets 503 + Retry-After at once, the run is interrupted after the grace, streams end, exit 0 within grace + 3 s', async () => {
    const server = await start('stubborn')
    const id = await newSession(server)
    const idle = await newSession(server)
    const stream = await SseReader.open(`${server.base}/api/sessions/${id}/stream`)
    expect((await post(server, `/api/sessions/${id}/messages`, { text: 'go' })).status).toBe(202)
    await stream.until((m) => m.some((x) => x.event === 'partial'))

    const signalledAt = performance.now()
    server.proc.kill('SIGTERM')
    await shuttingDown(server)
    const ready = await fetch(`${server.base}/readyz`)
    expect(ready.status).toBe(503)
    expect(await ready.json()).toMatchObject({ status: 'shutting down' })
    for (const refused of [await post(server, '/api/sessions'), await post(server, `/api/sessions/${idle}/messages`, { text: 'late' })]) {
      expect(refused.status).toBe(503)
      expect(Number(refused.headers.get('retry-after'))).toBeGreaterThan(0)
      expect(((await refused.json()) as { error: { message: string } }).error.message).toMatch(/restarting/)
    }
    // The page's form too: no session is created, no run starts.
    const form = await fetch(`${server.base}/chat`, {
      method: 'POST',
      body: new URLSearchParams({ client_id: idle, message: 'late' }),
      redirect: 'manual',
    })
    expect(form.status).toBe(503)

    // The waits are generous; how long the exit took is asserted below, once, against the promise.
    await stream.until((m) => m.some((x) => x.event === 'interrupt'))
    await stream.ended()
    const code = await server.proc.exited
    const took = performance.now() - signalledAt
    expect(code).toBe(0)
    expect(took).toBeGreaterThanOrEqual(GRACE_MS)
    expect(took).toBeLessThan(GRACE_MS + 3000)
    const events = stream.messages.map((m) => JSON.parse(m.data) as StoredEvent)
    expect(events.map((e) => e.type)).toEqual(['user', 'start', 'partial', 'interrupt'])
    expect(events.at(-1)).toMatchObject({ type: 'interrupt', text: 'stuck' })
    expect(server.log()).toContain('the step did not stop within the cancel grace')

    // What was stored is what the stream showed: the restarted server has the run closed, and nothing for `idle`.
    const again = await spawnServer(STUBBORN, { args: ['--store', `sqlite:${join(dir, `db-${files}.sqlite`)}`, '--step', 'stubborn'] })
    try {
      const log = (await (await fetch(`${again.base}/api/sessions/${id}/events`)).json()) as StoredEvent[]
      expect(log.map((e) => e.type)).toEqual(['user', 'start', 'partial', 'interrupt'])
      expect(await (await fetch(`${again.base}/api/sessions/${idle}/events`)).json()).toEqual([])
    } finally {
      await again.stop()
    }
  })

  test('a second signal exits at once, without waiting out the grace', async () => {
    const server = await start('stubborn', 30_000)
    const id = await newSession(server)
    const stream = await SseReader.open(`${server.base}/api/sessions/${id}/stream`)
    expect((await post(server, `/api/sessions/${id}/messages`, { text: 'go' })).status).toBe(202)
    // The step is stuck in its run (not still starting) when the signals come.
    await stream.until((m) => m.some((x) => x.event === 'partial'))
    const signalledAt = performance.now()
    server.proc.kill('SIGTERM')
    await shuttingDown(server)
    server.proc.kill('SIGTERM')
    expect(await server.proc.exited).toBe(143)
    expect(performance.now() - signalledAt).toBeLessThan(3000)
  })
})

test('on SIGTERM a stream ends with a retry: of its own, spread over 1-3x the usual delay, after the one sent on connect', async () => {
  const server = await start('echo')
  const id = await newSession(server)
  const response = await fetch(`${server.base}/api/sessions/${id}/stream`)
  const reader = response.body!.getReader()
  let text = new TextDecoder().decode((await reader.read()).value)
  expect(text.match(/^retry: \d+$/gm)).toEqual(['retry: 1000'])
  server.proc.kill('SIGTERM')
  for (let chunk = await reader.read(); !chunk.done; chunk = await reader.read()) text += new TextDecoder().decode(chunk.value)
  expect(await server.proc.exited).toBe(0)
  const retries = (text.match(/^retry: (\d+)$/gm) ?? []).map((line) => Number(line.slice('retry: '.length)))
  expect(retries).toHaveLength(2)
  expect(retries[1]).toBeGreaterThanOrEqual(1000)
  expect(retries[1]).toBeLessThanOrEqual(3000)
})

test('on SIGTERM Durable Streams readers are let go at once, writes get 503 + Retry-After, and what was answered is kept', async () => {
  // A stuck run holds the server up for its grace: long enough to see what it answers while it shuts down.
  const server = await start('stubborn')
  const id = await newSession(server)
  const chat = await SseReader.open(`${server.base}/api/sessions/${id}/stream`)
  expect((await post(server, `/api/sessions/${id}/messages`, { text: 'go' })).status).toBe(202)
  await chat.until((m) => m.some((x) => x.event === 'partial'))
  const stream = `${server.base}/v1/stream/at-shutdown`
  expect((await fetch(stream, { method: 'PUT', headers: { 'content-type': 'text/plain' } })).status).toBe(201)
  const appended = await fetch(stream, { method: 'POST', headers: { 'content-type': 'text/plain' }, body: 'kept;' })
  const tail = appended.headers.get('stream-next-offset')!
  // A long-poll and an SSE reader, both waiting at the tail when the signal comes (the long-poll would wait 20 s).
  const polled = fetch(`${stream}?offset=${tail}&live=long-poll`)
  const sse = await fetch(`${stream}?offset=${tail}&live=sse`)
  const sseText = sse.text()
  server.proc.kill('SIGTERM')
  await shuttingDown(server)
  const poll = await polled
  expect([204, 503]).toContain(poll.status)
  await sseText
  for (const write of [
    fetch(stream, { method: 'POST', headers: { 'content-type': 'text/plain' }, body: 'late;' }),
    fetch(`${stream}-new`, { method: 'PUT' }),
    fetch(stream, { method: 'DELETE' }),
  ]) {
    const refused = await write
    expect(refused.status).toBe(503)
    expect(Number(refused.headers.get('retry-after'))).toBeGreaterThan(0)
    expect(((await refused.json()) as { error: { message: string } }).error.message).toMatch(/restarting/)
  }
  expect(await server.proc.exited).toBe(0)
  const again = await spawnServer(STUBBORN, { args: ['--store', `sqlite:${join(dir, `db-${files}.sqlite`)}`, '--step', 'echo'] })
  try {
    expect(await (await fetch(`${again.base}/v1/stream/at-shutdown?offset=-1`)).text()).toBe('kept;')
    expect((await fetch(`${again.base}/v1/stream/at-shutdown-new`, { method: 'HEAD' })).status).toBe(404)
  } finally {
    await again.stop()
  }
})
