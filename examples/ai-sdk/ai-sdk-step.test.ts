import { afterEach, expect, test } from 'bun:test'
import { jsonSchema, simulateReadableStream, tool } from 'ai'
import { MockLanguageModelV4 } from 'ai/test'
import { createServer, silentLogger, type StepstreamServer, type StoredEvent } from 'stepstream'
import { aiSdkStep, toModelPrompt } from './ai-sdk-step.ts'

let server: StepstreamServer | undefined
afterEach(() => server?.stop())

const usage = {
  inputTokens: { total: 3, noCache: 3, cacheRead: undefined, cacheWrite: undefined },
  outputTokens: { total: 5, text: 5, reasoning: undefined },
}
const finish = (unified: 'stop' | 'tool-calls') => ({
  type: 'finish' as const,
  finishReason: { unified, raw: undefined },
  logprobs: undefined,
  usage,
})

/** A model that thinks, asks for the weather, then answers with what the tool said: the AI SDK's own mock, offline. */
function mockModel() {
  return new MockLanguageModelV4({
    doStream: [
      {
        stream: simulateReadableStream({
          chunks: [
            { type: 'reasoning-start', id: 'r1' },
            { type: 'reasoning-delta', id: 'r1', delta: 'The user wants the weather.' },
            { type: 'reasoning-end', id: 'r1' },
            { type: 'tool-call', toolCallId: 'call-1', toolName: 'weather', input: '{"city":"Oslo"}' },
            finish('tool-calls'),
          ],
        }),
      },
      {
        stream: simulateReadableStream({
          chunks: [
            { type: 'text-start', id: 't1' },
            { type: 'text-delta', id: 't1', delta: 'It is ' },
            { type: 'text-delta', id: 't1', delta: '4°C in Oslo.' },
            { type: 'text-end', id: 't1' },
            finish('stop'),
          ],
        }),
      },
    ],
  })
}

const weather = tool({
  description: 'The weather in a city.',
  inputSchema: jsonSchema<{ city: string }>({ type: 'object', properties: { city: { type: 'string' } }, required: ['city'] }),
  execute: async ({ city }) => ({ city, celsius: 4 }),
})

test('fullStream becomes stepstream events: reasoning, the tool call and its result, the text, the final', async () => {
  const model = mockModel()
  server = await createServer({ steps: [aiSdkStep({ name: 'ai-sdk', model, tools: { weather } })], log: silentLogger })
  const request = (path: string, body?: unknown) =>
    server!.app.handle(
      new Request(`http://localhost${path}`, {
        method: body === undefined ? 'GET' : 'POST',
        headers: { 'content-type': 'application/json' },
        body: body === undefined ? undefined : JSON.stringify(body),
      }),
    )
  const { id } = (await (await request('/api/sessions', {})).json()) as { id: string }
  expect((await request(`/api/sessions/${id}/messages`, { text: 'Weather in Oslo?' })).status).toBe(202)
  let log: StoredEvent[] = []
  for (let tries = 0; !log.some((e) => e.type === 'final' || e.type === 'error') && tries < 300; tries++) {
    await Bun.sleep(10)
    log = (await (await request(`/api/sessions/${id}/events`)).json()) as StoredEvent[]
  }
  expect(log.map((e) => e.type)).toEqual(['user', 'start', 'reasoning', 'tool-call', 'tool-result', 'partial', 'partial', 'final'])
  expect(log.slice(2)).toMatchObject([
    { type: 'reasoning', delta: 'The user wants the weather.' },
    { type: 'tool-call', tool_call: { id: 'call-1', name: 'weather', input: { city: 'Oslo' } } },
    { type: 'tool-result', tool_result: { id: 'call-1', result: { city: 'Oslo', celsius: 4 } } },
    { type: 'partial', delta: 'It is ' },
    { type: 'partial', delta: '4°C in Oslo.' },
    { type: 'final', text: 'It is 4°C in Oslo.' },
  ])
  // The second model call carried the tool's result back to the model.
  expect(JSON.stringify(model.doStreamCalls[1]?.prompt)).toContain('"celsius":4')
})

test('the conversation reaches the SDK with its system prompt as instructions, tool calls as assistant parts and results named after their tool', () => {
  expect(
    toModelPrompt([
      { role: 'system', content: 'Be brief.' },
      { role: 'user', content: 'Weather?' },
      { role: 'assistant', content: '', tool_calls: [{ id: 'c1', name: 'weather', input: { city: 'Oslo' } }] },
      { role: 'tool', tool_call_id: 'c1', result: { celsius: 4 } },
      { role: 'assistant', content: 'It is 4°C.' },
    ]),
  ).toEqual({
    instructions: 'Be brief.',
    messages: [
      { role: 'user', content: 'Weather?' },
      { role: 'assistant', content: [{ type: 'tool-call', toolCallId: 'c1', toolName: 'weather', input: { city: 'Oslo' } }] },
      {
        role: 'tool',
        content: [{ type: 'tool-result', toolCallId: 'c1', toolName: 'weather', output: { type: 'json', value: { celsius: 4 } } }],
      },
      { role: 'assistant', content: 'It is 4°C.' },
    ],
  })
})
