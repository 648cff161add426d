import { afterEach, expect, test } from 'bun:test'
import { MAX_MAPPED_BATCH_BYTES } from '../../src/limits.ts'
import { publishApi } from '../helpers/publish-api.ts'
import { testServer } from '../helpers/test-app.ts'

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
