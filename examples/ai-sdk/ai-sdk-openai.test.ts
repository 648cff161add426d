import { afterEach, expect, test } from 'bun:test'
import { createOpenAI } from '@ai-sdk/openai'
import { createServer, silentLogger, type StepstreamServer, type StoredEvent } from 'stepstream'
import { answer, FakeOpenAI } from '../../test/helpers/fake-openai.ts'
import { until } from '../../test/helpers/wait.ts'
import { aiSdkStep } from './ai-sdk-step.ts'

/**
 * The README's snippet against an OpenAI-compatible server (the tests' fake, which speaks only Chat Completions, as
 * Ollama, vLLM and llama.cpp do): `openai.chat(…)` answers; a bare `openai(…)` asks the Responses API instead.
 */

let server: StepstreamServer | undefined
let upstream: FakeOpenAI | undefined
afterEach(async () => {
  await server?.stop()
  await upstream?.stop()
})

async function ask(model: Parameters<typeof aiSdkStep>[0]['model']): Promise<StoredEvent[]> {
  server = await createServer({ steps: [aiSdkStep({ name: 'ai-sdk', model })], log: silentLogger })
  const request = (path: string, body?: unknown) =>
    server!.app.handle(
      new Request(`http://localhost${path}`, {
        method: body === undefined ? 'GET' : 'POST',
        headers: { 'content-type': 'application/json' },
        body: body === undefined ? undefined : JSON.stringify(body),
      }),
    )
  const { id } = (await (await request('/api/sessions', {})).json()) as { id: string }
  expect((await request(`/api/sessions/${id}/messages`, { text: 'Hello?' })).status).toBe(202)
  let log: StoredEvent[] = []
  await until(
    async () => {
      log = (await (await request(`/api/sessions/${id}/events`)).json()) as StoredEvent[]
      return log.some((e) => e.type === 'final' || e.type === 'error')
    },
    { what: 'the run to end' },
  )
  return log
}

test("the README's snippet: openai.chat(…) streams an answer from an OpenAI-compatible server's /v1/chat/completions", async () => {
  upstream = new FakeOpenAI().reply({ stream: answer(['Hi ', 'there.']) })
  const openai = createOpenAI({ baseURL: upstream.baseUrl, apiKey: 'not-needed' })
  const log = await ask(openai.chat('local'))
  expect(upstream.requests.map((r) => r.path)).toEqual(['/v1/chat/completions'])
  expect(upstream.requests[0]!.body).toMatchObject({ model: 'local', stream: true })
  expect(log.at(-1)).toMatchObject({ type: 'final', text: 'Hi there.' })
})

test('a bare openai(…) asks the Responses API, which OpenAI-compatible servers do not have: why the snippet says .chat', async () => {
  upstream = new FakeOpenAI().always({ status: 404, body: { error: { message: 'Not Found' } } })
  const openai = createOpenAI({ baseURL: upstream.baseUrl, apiKey: 'not-needed' })
  const log = await ask(openai('local'))
  expect(upstream.requests[0]!.path).toBe('/v1/responses')
  expect(log.at(-1)!.type).toBe('error')
})
