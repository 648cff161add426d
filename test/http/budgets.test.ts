import { afterEach, describe, expect, test } from 'bun:test'
import type { NewEvent } from '../../src/events.ts'
import { newId } from '../../src/session-id.ts'
import { MemoryStore } from '../../src/store/memory-store.ts'
import { publishApi } from '../helpers/publish-api.ts'
import { testApp, testServer, url } from '../helpers/test-app.ts'
import { ECHO } from '../helpers/echo-spec.ts'

/** A chat budget small enough to fill in a few appends; bytes. */
const BUDGET = 256 * 1024
const chunk = (i: number): NewEvent => ({ type: 'partial', step_id: 'filler', ts: new Date().toISOString(), delta: `${i}`.padEnd(20_000) })

let close: (() => unknown) | undefined
afterEach(() => close?.())

describe('a full chat', () => {
  test("the page's message form gets 413 and a sentence naming the budget and its flag", async () => {
    const store = new MemoryStore({ maxSessionBytes: BUDGET })
    const made = await testApp({ store })
    close = () => made.close()
    const post = (path: string, form: Record<string, string>) =>
      made.app.handle(new Request(url(path), { method: 'POST', headers: { 'hx-request': 'true' }, body: new URLSearchParams(form) }))
    const id = (await made.app.handle(new Request(url('/start'), { method: 'POST' }))).headers.get('location')!.split('=')[1]!
    await made.deps.runner.settled(id)
    // Nine of 20 KB leave less than the message's 30 KB above the reserve (every store counts an event's JSON).
    for (let i = 0; i < 9; i++) await store.append(id, chunk(i))
    const res = await post('/chat', { client_id: id, message: 'x'.repeat(30_000) })
    expect(res.status).toBe(413)
    const body = await res.text()
    expect(body).toStartWith('<span class="error">')
    expect(body).toContain('This chat is full: it holds at most 0.25 MiB (--max-session-bytes). Start a new chat to go on.')
  })

  test('a chat that fills while a step streams: the step is refused, and its run is still closed', async () => {
    const store = new MemoryStore({ maxSessionBytes: BUDGET })
    const made = await testApp({ store, echoDelayMs: 0 })
    close = () => made.close()
    const session = await store.createSession(newId(), ECHO)
    // Room for the message and a few hundred echoed characters, not for the whole echo (a partial per character).
    for (let i = 0; i < 9; i++) await store.append(session.id, chunk(i))
    await made.deps.runner.submit(session, 'x'.repeat(2000))
    await made.deps.runner.settled(session.id)
    const log = await store.read(session.id, 0, 100_000)
    const run = log.filter((e) => e.step_id !== 'filler')
    expect(run[0]?.type).toBe('user')
    expect(['final', 'interrupt', 'error']).toContain(run.at(-1)!.type)
    expect(await made.deps.runner.running(session.id)).toBeUndefined()
  })

  test('the publish API answers 413 SESSION_FULL with the sentence, and the run it refused can still be closed', async () => {
    const server = await testServer({ store: new MemoryStore({ maxSessionBytes: BUDGET }) })
    close = () => server.close()
    const api = publishApi(server.base)
    const p = await api.publisher()
    const run = await api.openRun(p)
    let refused: Response | undefined
    for (let i = 0; i < 50 && !refused; i++) {
      const res = await api.append(p, run, [{ type: 'partial', delta: `${i}`.padEnd(20_000) }])
      if (res.status !== 200) refused = res
    }
    expect(refused?.status).toBe(413)
    expect(await refused?.json()).toMatchObject({
      error: { code: 'SESSION_FULL', message: expect.stringContaining('--max-session-bytes') },
    })
    const closed = await api.append(p, run, [{ type: 'final', text: 'y'.repeat(100_000) }])
    expect(closed.status).toBe(200)
    const last = (await api.events(p.id)).at(-1)
    expect(last?.type).toBe('final')
  })

  test('runs opened and cancelled on a full chat store nothing: no start fits, so there is no run to close', async () => {
    const store = new MemoryStore({ maxSessionBytes: BUDGET })
    const server = await testServer({ store })
    close = () => server.close()
    const api = publishApi(server.base)
    const p = await api.publisher()
    for (let i = 0; i < 50; i++) {
      const res = await store.append(p.id, chunk(i)).catch(() => undefined)
      if (!res) break
    }
    const before = (await api.events(p.id)).length
    for (let i = 0; i < 20; i++) {
      const opened = await fetch(`${server.base}/api/sessions/${p.id}/runs`, { method: 'POST', headers: api.bearer(p) })
      await fetch(`${server.base}/api/sessions/${p.id}/cancel`, { method: 'POST' })
      const runId = opened.ok ? ((await opened.json()) as { run_id: string }).run_id : undefined
      if (runId) await server.deps.runner.settled(p.id)
    }
    expect((await api.events(p.id)).length).toBe(before)
  })
})
