import { afterEach, expect, test } from 'bun:test'
import { MemoryStore } from '../../src/store/memory-store.ts'
import { ScriptedStep } from '../helpers/scripted-step.ts'
import { testApp, url } from '../helpers/test-app.ts'

let made: Awaited<ReturnType<typeof testApp>> | undefined
afterEach(() => made?.close())

const post = (path: string, body?: unknown) =>
  made!.app.handle(
    new Request(url(path), {
      method: 'POST',
      headers: body === undefined ? {} : { 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    }),
  )
const get = (path: string) => made!.app.handle(new Request(url(path)))
const eventsOf = async (id: string) => (await (await get(`/api/sessions/${id}/events`)).json()) as { type: string; step_type?: string }[]

test('a session runs the step it was created with: the default (--step) or one named in POST /api/sessions', async () => {
  made = await testApp({ moreSteps: [new ScriptedStep(0)] })
  const plain = (await (await post('/api/sessions')).json()) as { id: string; step: string }
  const scripted = (await (await post('/api/sessions', { step: 'scripted' })).json()) as { id: string; step: string }
  expect([plain.step, scripted.step]).toEqual(['echo', 'scripted'])
  expect(await (await get(`/api/sessions/${scripted.id}`)).json()).toMatchObject({ id: scripted.id, step: 'scripted', running: false })
  for (const { id } of [plain, scripted]) {
    expect((await post(`/api/sessions/${id}/messages`, { text: 'hi' })).status).toBe(202)
    await made.deps.runner.settled(id)
  }
  expect((await eventsOf(plain.id)).find((e) => e.type === 'start')?.step_type).toBe('echo')
  expect((await eventsOf(scripted.id)).find((e) => e.type === 'start')?.step_type).toBe('scripted')
})

test('an unknown step is refused with 422 and a sentence that lists the known ones; no session is created', async () => {
  made = await testApp({ moreSteps: [new ScriptedStep(0)] })
  const res = await post('/api/sessions', { step: 'gpt-9' })
  expect(res.status).toBe(422)
  expect(await res.json()).toEqual({
    error: { code: 'UNKNOWN_STEP', message: 'There is no step called "gpt-9"; this server knows echo, scripted.' },
  })
  for (const body of [{ step: 42 }, [1], 'echo', { step: 'echo', extra: true }]) {
    const wrongShape = await post('/api/sessions', body)
    expect(wrongShape.status).toBe(400)
    expect(await wrongShape.json()).toMatchObject({
      error: { message: 'The body must be empty or a JSON object like {"step": "echo"} or {"publisher": true}.' },
    })
  }
  const plainText = await made.app.handle(
    new Request(url('/api/sessions'), { method: 'POST', headers: { 'content-type': 'text/plain' }, body: 'hello' }),
  )
  expect(plainText.status).toBe(400)
})

test('a full memory store answers new sessions and messages with 503, Retry-After and a sentence; a run already going still closes', async () => {
  const store = new MemoryStore({ maxSessions: 1, maxEvents: 4 })
  made = await testApp({ store, echoDelayMs: 1 })
  const { id } = (await (await post('/api/sessions')).json()) as { id: string }
  const second = await post('/api/sessions')
  expect(second.status).toBe(503)
  expect(second.headers.get('retry-after')).toBe('60')
  expect(((await second.json()) as { error: { message: string } }).error.message).toMatch(/store is full .*--max-sessions/)
  // "abcdef" needs user + start + 6 partials + final: the store fills up mid-run, and the run still gets its end.
  expect((await post(`/api/sessions/${id}/messages`, { text: 'abcdef' })).status).toBe(202)
  await made.deps.runner.settled(id)
  const types = (await eventsOf(id)).map((e) => e.type)
  expect(types.slice(0, 2)).toEqual(['user', 'start'])
  expect(types.at(-1)).toBe('error')
  expect(types.filter((t) => t === 'final' || t === 'interrupt' || t === 'error')).toHaveLength(1)
  const refused = await post(`/api/sessions/${id}/messages`, { text: 'more' })
  expect(refused.status).toBe(503)
  expect(refused.headers.get('retry-after')).toBe('60')
})
