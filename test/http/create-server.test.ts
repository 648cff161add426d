import { afterEach, expect, test } from 'bun:test'
import { Elysia } from 'elysia'
import { createServer, defineStep, silentLogger, type StepstreamServer, type StoredEvent } from 'stepstream'
import { TokenAuth } from '../../src/http/auth.ts'
import { eventually } from '../helpers/wait.ts'

let server: StepstreamServer | undefined
afterEach(() => server?.stop())

const shout = defineStep({
  name: 'shout',
  async run(conversation, { partial }) {
    const last = conversation.findLast((m) => m.role === 'user')
    const text = last?.role === 'user' ? last.content.toUpperCase() : ''
    await partial(text)
    return text
  },
})

test('mounted in an application’s own Elysia app, stepstream serves beside its routes', async () => {
  server = await createServer({ steps: [shout], log: silentLogger })
  const mine = new Elysia().get('/hello', () => 'hi from the host app').use(server.app)
  const call = (path: string, body?: unknown) =>
    mine.handle(
      new Request(`http://localhost${path}`, {
        method: body === undefined ? 'GET' : 'POST',
        headers: { 'content-type': 'application/json' },
        body: body === undefined ? undefined : JSON.stringify(body),
      }),
    )
  expect(await (await call('/hello')).text()).toBe('hi from the host app')
  expect((await call('/')).status).toBe(200)
  const { id } = (await (await call('/api/sessions', {})).json()) as { id: string }
  expect((await call(`/api/sessions/${id}/messages`, { text: 'hey' })).status).toBe(202)
  const log = await eventually(
    async () => {
      const now = (await (await call(`/api/sessions/${id}/events`)).json()) as StoredEvent[]
      return now.some((e) => e.type === 'final') ? now : undefined
    },
    { what: 'the run’s final' },
  )
  expect(log.at(-1)).toMatchObject({ type: 'final', text: 'HEY' })
  // Its own error handling comes along: a malformed id is a 400 with a sentence, not the host app's default.
  expect((await call('/api/sessions/not-an-id')).status).toBe(400)
})

test('listen() on a free port answers, and stop() ends it', async () => {
  server = await createServer({ steps: [shout], log: silentLogger })
  const url = server.listen({ port: 0, hostname: '127.0.0.1' })
  expect((await fetch(`${url}/healthz`)).status).toBe(200)
  await server.stop()
  await expect(fetch(`${url}/healthz`)).rejects.toThrow()
  server = undefined
})

test('mounted with auth on, the host app’s own routes stay open and take posts; stepstream’s routes need the token', async () => {
  const token = 'operator-token-0123456789'
  server = await createServer({ steps: [shout], log: silentLogger, auth: new TokenAuth([token]) })
  const mine = new Elysia()
    .get('/hello', () => 'hi')
    .post('/echo', ({ body }) => body)
    .use(server.app)
  const call = (path: string, init: RequestInit = {}) => mine.handle(new Request(`http://localhost${path}`, init))
  expect((await call('/hello')).status).toBe(200)
  const echoed = await call('/echo', {
    method: 'POST',
    headers: { 'content-type': 'application/json', origin: 'https://elsewhere.example' },
    body: '{"a":1}',
  })
  expect(await echoed.json()).toEqual({ a: 1 })
  expect((await call('/api/sessions', { method: 'POST' })).status).toBe(401)
  expect((await call('/api/sessions', { method: 'POST', headers: { authorization: `Bearer ${token}` } })).status).toBe(201)
})
