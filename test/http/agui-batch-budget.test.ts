import { afterEach, expect, test } from 'bun:test'
import { MAX_MAPPED_BATCH_BYTES } from '../../src/limits.ts'
import { publishApi } from '../helpers/publish-api.ts'
import { testApp, testServer, url } from '../helpers/test-app.ts'

/**
 * Issue 20: a 34 KB request of STATE_DELTAs stored 1,000 copies of a 200 KB state. A request that maps past
 * MAX_MAPPED_BATCH_BYTES is refused whole with a 413 naming the limit; nothing of it is stored, the run goes on.
 */
let made: Awaited<ReturnType<typeof testServer>> | undefined
afterEach(async () => {
  await made?.close()
  made = undefined
})

test('AG-UI deltas mapping past the batch limit: 413 with the limit, nothing stored, the run still takes events', async () => {
  made = await testServer()
  const api = publishApi(made.base)
  const p = await api.publisher()
  const run = await api.openRun(p)
  const query = { query: '?format=ag-ui' }
  const snapshot = { type: 'STATE_SNAPSHOT', snapshot: { a: new Array(99_000).fill(0) } }
  expect((await api.append(p, run, [snapshot], query)).status).toBe(200)
  const before = (await api.events(p.id)).length
  const deltas = Array.from({ length: 1000 }, (_, i) => ({ type: 'STATE_DELTA', delta: [{ op: 'replace', path: '/a/0', value: i + 1 }] }))
  const refused = await api.append(p, run, deltas, query)
  expect(refused.status).toBe(413)
  const { error } = (await refused.json()) as { error: { message: string } }
  expect(error.message).toContain(`past ${MAX_MAPPED_BATCH_BYTES.toLocaleString('en')} bytes`)
  expect((await api.events(p.id)).length).toBe(before)
  // Empty deltas store nothing; a real change and the close still go through.
  const empty = Array.from({ length: 1000 }, () => ({ type: 'STATE_DELTA', delta: [] }))
  expect(await (await api.append(p, run, empty, query)).json()).toMatchObject({ appended: 0 })
  const rest = [deltas[0], { type: 'RUN_FINISHED', threadId: 't', runId: 'r' }]
  expect(await (await api.append(p, run, rest, query)).json()).toMatchObject({ appended: 2, closed: true })
})

test('a request that maps to megabytes lets the event loop turn while it is mapped, checked and stored', async () => {
  const app = await testApp()
  made = { ...app, base: '' }
  const handle = (path: string, body: unknown, headers: Record<string, string> = {}) =>
    app.app.handle(
      new Request(url(path), { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) }),
    )
  const p = (await (await handle('/api/sessions', { publisher: true })).json()) as { id: string; publisher_token: string }
  const auth = { authorization: `Bearer ${p.publisher_token}` }
  const { run_id } = (await (await handle(`/api/sessions/${p.id}/runs`, undefined, auth)).json()) as { run_id: string }
  const events = `/api/sessions/${p.id}/runs/${run_id}/events?format=ag-ui`
  const snapshot = { type: 'STATE_SNAPSHOT', snapshot: { a: new Array(99_000).fill(0) } }
  expect((await handle(events, [snapshot], auth)).status).toBe(200)
  // 30 states of 200 KB: 6 MB mapped, checked and stored. Other requests run between turns of the event loop.
  const deltas = Array.from({ length: 30 }, (_, i) => ({ type: 'STATE_DELTA', delta: [{ op: 'replace', path: '/a/0', value: i + 1 }] }))
  let turns = 0
  let done = false
  const turn = () => {
    turns++
    if (!done) setImmediate(turn)
  }
  setImmediate(turn)
  const res = await handle(events, deltas, auth)
  done = true
  expect(await res.json()).toMatchObject({ appended: 30 })
  // Held in one turn, it ran in a handful (the body's read); sliced, in one at least per stored state.
  expect(turns).toBeGreaterThan(30)
})
