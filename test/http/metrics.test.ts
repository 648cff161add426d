import { afterEach, describe, expect, test } from 'bun:test'
import { SqliteStore } from '../../src/store/sqlite-store.ts'
import { Metrics } from '../../src/metrics.ts'
import type { Step } from '../../src/steps/step.ts'
import { HeldStep } from '../helpers/held-step.ts'
import { Hold } from '../helpers/hold.ts'
import { parseMetrics, sampleSum, type Scrape } from '../helpers/prometheus.ts'
import { testApp, url } from '../helpers/test-app.ts'
import { ECHO } from '../helpers/echo-spec.ts'
import { eventually, until } from '../helpers/wait.ts'

type Made = Awaited<ReturnType<typeof testApp>>
let made: Made
afterEach(() => made?.close())

const call = (path: string, init?: RequestInit) => made.app.handle(new Request(url(path), init))
const scrape = async () => {
  const res = await call('/metrics')
  expect(res.headers.get('content-type')).toContain('text/plain; version=0.0.4')
  return parseMetrics(await res.text())
}
const post = (path: string, body?: unknown) =>
  call(path, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  })

async function session(): Promise<string> {
  return ((await (await post('/api/sessions')).json()) as { id: string }).id
}

async function run(id: string, text: string) {
  expect((await post(`/api/sessions/${id}/messages`, { text })).status).toBe(202)
  await made.deps.runner.settled(id)
}

/** Reads a stream's body until `done` says so, with a deadline; returns what it read. */
async function readUntil(reader: ReadableStreamDefaultReader<Uint8Array>, done: (text: string) => boolean, ms = 5000) {
  let text = ''
  const deadline = Date.now() + ms
  const decoder = new TextDecoder()
  while (!done(text)) {
    if (Date.now() > deadline) throw new Error(`not there within ${ms} ms: ${text.slice(-300)}`)
    const next = await reader.read()
    if (next.done) break
    text += decoder.decode(next.value)
  }
  return text
}

describe('/metrics', () => {
  test('parses as Prometheus text, with every metric the README lists', async () => {
    made = await testApp()
    const text = await (await call('/metrics')).text()
    parseMetrics(text)
    for (const name of [
      'stepstream_sse_connections',
      'stepstream_events_published_total',
      'stepstream_events_delivered_total',
      'stepstream_sse_lag_events',
      'stepstream_runs_active',
      'stepstream_run_duration_seconds',
      'stepstream_time_to_first_event_seconds',
      'stepstream_http_requests_total',
      'stepstream_rejected_total',
      'stepstream_store_commit_seconds',
    ]) {
      expect(text).toContain(`# TYPE ${name} `)
    }
  })

  test('the process metrics are there when asked for (the server asks)', async () => {
    const text = await new Metrics({ processMetrics: true }).render()
    expect(parseMetrics(text).has('process_resident_memory_bytes')).toBe(true)
  })

  test('the process metrics leave out the per-space heap gauges (a heap walk per scrape under Bun) and keep the heap size', async () => {
    const names = parseMetrics(await new Metrics({ processMetrics: true }).render())
    for (const name of ['process_cpu_seconds_total', 'process_resident_memory_bytes', 'process_open_fds', 'nodejs_heap_size_used_bytes']) {
      expect(names.has(name)).toBe(true)
    }
    expect([...names.keys()].filter((name) => name.startsWith('nodejs_heap_space_'))).toEqual([])
  })

  test('the event-loop lag histogram counts a stall when the loop is blocked on purpose, and keeps its max', async () => {
    const metrics = new Metrics({ eventLoopLag: true })
    try {
      const stalls = (scrape: Scrape) =>
        sampleSum(scrape, 'stepstream_event_loop_lag_seconds_count') -
        sampleSum(scrape, 'stepstream_event_loop_lag_seconds_bucket', { le: '0.005' })
      // Samples arrive every 2 ms: wait for a few, so the sampler is known to run before the loop is blocked.
      const before = await eventually(async () => {
        const scrape = parseMetrics(await metrics.render())
        return sampleSum(scrape, 'stepstream_event_loop_lag_seconds_count') >= 3 ? scrape : undefined
      })
      const blockedUntil = performance.now() + 40
      while (performance.now() < blockedUntil) {
        // Holds the event loop for 40 ms: the sampler's next timer runs at least 38 ms late.
      }
      const after = await eventually(async () => {
        const scrape = parseMetrics(await metrics.render())
        return stalls(scrape) > stalls(before) ? scrape : undefined
      })
      expect(sampleSum(after, 'stepstream_event_loop_lag_seconds_bucket', { le: '0.025' })).toBeLessThan(
        sampleSum(after, 'stepstream_event_loop_lag_seconds_count'),
      )
      expect(sampleSum(after, 'stepstream_event_loop_lag_max_seconds')).toBeGreaterThanOrEqual(0.038)
    } finally {
      metrics.close()
    }
  })

  test('a run moves the counts: events published by type, a run duration and a time to first event by step and outcome', async () => {
    made = await testApp()
    const id = await session()
    await run(id, 'hello')
    const after = await scrape()
    expect(sampleSum(after, 'stepstream_events_published_total', { type: 'user' })).toBe(1)
    expect(sampleSum(after, 'stepstream_events_published_total', { type: 'start' })).toBe(1)
    expect(sampleSum(after, 'stepstream_events_published_total', { type: 'partial' })).toBe(5)
    expect(sampleSum(after, 'stepstream_events_published_total', { type: 'final' })).toBe(1)
    expect(sampleSum(after, 'stepstream_run_duration_seconds_count', { step: 'echo', outcome: 'final' })).toBe(1)
    expect(sampleSum(after, 'stepstream_time_to_first_event_seconds_count', { step: 'echo' })).toBe(1)
    expect(sampleSum(after, 'stepstream_runs_active')).toBe(0)
  })

  test('runs_active is up while a run goes and down after; a cancelled run counts as an interrupt', async () => {
    const held = new HeldStep()
    made = await testApp({ step: held })
    const id = await session()
    expect((await post(`/api/sessions/${id}/messages`, { text: 'a long enough answer' })).status).toBe(202)
    await held.held()
    expect(sampleSum(await scrape(), 'stepstream_runs_active')).toBe(1)
    expect((await post(`/api/sessions/${id}/cancel`)).status).toBe(202)
    await made.deps.runner.settled(id)
    const after = await scrape()
    expect(sampleSum(after, 'stepstream_runs_active')).toBe(0)
    expect(sampleSum(after, 'stepstream_run_duration_seconds_count', { step: 'held', outcome: 'interrupt' })).toBe(1)
  })

  test('HTTP requests are counted by route template and status, never by a path with an id in it', async () => {
    made = await testApp()
    const id = await session()
    await call(`/api/sessions/${id}`)
    await call('/api/sessions/AAAAAAAAAAAAAAAAAAAAAA')
    await call('/no/such/page')
    // Counted once the response is sent (Elysia's afterResponse), a moment after `handle` resolves.
    const text = await eventually(async () => {
      const body = await (await call('/metrics')).text()
      return body.includes('route="unmatched"') ? body : undefined
    })
    const scraped = parseMetrics(text)
    expect(sampleSum(scraped, 'stepstream_http_requests_total', { route: '/api/sessions/:id', status: '200' })).toBe(1)
    expect(sampleSum(scraped, 'stepstream_http_requests_total', { route: '/api/sessions/:id', status: '404' })).toBe(1)
    expect(sampleSum(scraped, 'stepstream_http_requests_total', { route: '/api/sessions/', status: '201' })).toBe(1)
    expect(sampleSum(scraped, 'stepstream_http_requests_total', { route: 'unmatched', status: '404' })).toBe(1)
    expect(text).not.toContain(id)
    expect(text).not.toContain('AAAAAAAAAAAAAAAAAAAAAA')
  })

  test('the connection gauge goes up with each stream and down when it closes, per stream kind', async () => {
    made = await testApp()
    const id = await session()
    const html = await call(`/events?client_id=${id}`)
    const json = await call(`/api/sessions/${id}/stream`)
    const json2 = await call(`/api/sessions/${id}/stream`)
    let scraped = await scrape()
    expect(sampleSum(scraped, 'stepstream_sse_connections', { stream: 'html' })).toBe(1)
    expect(sampleSum(scraped, 'stepstream_sse_connections', { stream: 'json' })).toBe(2)
    await html.body!.cancel()
    await json.body!.cancel()
    await until(() => made.deps.connections.open === 1, { what: 'the two cancelled streams to be released' })
    scraped = await scrape()
    expect(sampleSum(scraped, 'stepstream_sse_connections', { stream: 'html' })).toBe(0)
    expect(sampleSum(scraped, 'stepstream_sse_connections', { stream: 'json' })).toBe(1)
    await json2.body!.cancel()
  })

  test('events delivered count each event once per stream; a reader that keeps up is 1 event behind when it wakes', async () => {
    // Each character waits for the test, which lets the next go only once the reader has read the last: the reader
    // keeps up whatever the load.
    const next = new Hold()
    const stepped: Step = {
      type: 'stepped',
      async run(input, { signal, emit }) {
        const text = input.findLast((m) => m.role === 'user')?.content ?? ''
        await emit({ type: 'start', step_type: 'stepped' })
        for (const delta of text) {
          await next.here(signal)
          await emit({ type: 'partial', delta })
        }
        await emit({ type: 'final', text })
      },
    }
    made = await testApp({ step: stepped })
    const id = await session()
    const reader = (await call(`/api/sessions/${id}/stream`)).body!.getReader()
    let read = await readUntil(reader, (text) => text.includes('retry:'))
    expect((await post(`/api/sessions/${id}/messages`, { text: 'abcdef' })).status).toBe(202)
    for (let partials = 1; partials <= 6; partials++) {
      await next.held()
      next.release()
      read += await readUntil(reader, (text) => (read + text).split('event: partial').length - 1 === partials)
    }
    // user, start, 6 partials, final: 9 events
    await readUntil(reader, (text) => text.includes('event: final'))
    const scraped = await scrape()
    expect(sampleSum(scraped, 'stepstream_events_delivered_total')).toBe(9)
    const count = sampleSum(scraped, 'stepstream_sse_lag_events_count')
    expect(count).toBeGreaterThan(0)
    // A reader that keeps up finds one new event, or two (the user message and the start), when it wakes.
    expect(sampleSum(scraped, 'stepstream_sse_lag_events_bucket', { le: '4' })).toBe(count)
    // Not awaited: a cancel waits for the stream's generator, parked until the next event or heartbeat; closing the
    // app (afterEach) ends it.
    void reader.cancel()
  })

  test('a reader behind shows as lag: one that reconnects from before a whole run is that run behind when it reads', async () => {
    made = await testApp({ echoDelayMs: 0 })
    const id = await session()
    await run(id, 'x'.repeat(100))
    // The stream is written to as fast as its socket takes it (a direct body): through app.handle nothing pushes back,
    // so the reader that is behind is one that comes back from an old position (a reconnect).
    const reader = (await call(`/api/sessions/${id}/stream?after=0`)).body!.getReader()
    await readUntil(reader, (text) => text.includes('event: final'))
    const scraped = await scrape()
    // user + start + 100 partials + final = 103 events, all waiting for it in one read.
    const count = sampleSum(scraped, 'stepstream_sse_lag_events_count')
    expect(count).toBe(1)
    expect(sampleSum(scraped, 'stepstream_sse_lag_events_bucket', { le: '64' })).toBe(0)
    expect(sampleSum(scraped, 'stepstream_sse_lag_events_bucket', { le: '128' })).toBe(1)
    expect(sampleSum(scraped, 'stepstream_events_delivered_total')).toBe(103)
    void reader.cancel()
  })

  test('a SQLite store reports each commit’s duration and each stored event', async () => {
    const metrics = new Metrics()
    const store = new SqliteStore(':memory:', { metrics })
    await store.createSession('AAAAAAAAAAAAAAAAAAAAAA', ECHO)
    const ts = new Date().toISOString()
    await Promise.all(['a', 'b', 'c'].map((delta) => store.append('AAAAAAAAAAAAAAAAAAAAAA', { type: 'partial', delta, step_id: 'r', ts })))
    await store.append('AAAAAAAAAAAAAAAAAAAAAA', { type: 'final', text: 'abc', step_id: 'r', ts })
    const scraped = parseMetrics(await metrics.render())
    // Three appends queued in one turn share one commit; the final is a second.
    expect(sampleSum(scraped, 'stepstream_store_commit_seconds_count')).toBe(2)
    expect(sampleSum(scraped, 'stepstream_events_published_total', { type: 'partial' })).toBe(3)
    expect(sampleSum(scraped, 'stepstream_events_published_total', { type: 'final' })).toBe(1)
    await store.close()
  })
})
