import { afterAll, afterEach, describe, expect, test } from 'bun:test'
import { t } from 'elysia'
import type { StoredEvent } from '../../src/events.ts'
import { createLogger } from '../../src/log.ts'
import type { Runner } from '../../src/runs/runner.ts'
import { newId } from '../../src/session-id.ts'
import { CUT_SENTENCE } from '../../src/steps/openai-failure.ts'
import type { Step } from '../../src/steps/step.ts'
import { builtInTools, openAiRunStep, type OpenAiSettings } from '../../src/steps/openai-step.ts'
import { type Tool, ToolRegistry } from '../../src/steps/tools/tool.ts'
import type { SessionRecord } from '../../src/log/event-store.ts'
import { MemoryStore } from '../../src/store/memory-store.ts'
import { readAll } from '../../src/store/read-all.ts'
import { answer, chunk, FakeOpenAI, roleChunk, toolCalls } from '../helpers/fake-openai.ts'
import { freePort } from '../helpers/spawn-server.ts'
import { slowTests } from '../helpers/slow-tests.ts'
import { runnerFor } from '../helpers/test-app.ts'
import { until, within } from '../helpers/wait.ts'

slowTests()

const KEY = 'sk-proj-SECRET-test-key-4f9a8b7c'
const fake = new FakeOpenAI()
const logLines: string[] = []
const log = createLogger('debug', { write: (line) => logLines.push(line) })

afterAll(() => fake.stop())
afterEach(() => {
  // Whatever a test did, the key appears in no log line.
  expect(logLines.join('')).not.toContain(KEY)
})

const settings = (over: Partial<OpenAiSettings> = {}): OpenAiSettings => ({
  baseUrl: fake.baseUrl,
  apiKey: KEY,
  model: 'gpt-4o-mini',
  systemPrompt: 'You are a helpful assistant.',
  maxToolRounds: 8,
  requestTimeoutMs: 5000,
  ...over,
})

/**
 * A session with its own memory store and a runner whose only step is `step`.
 * @param cancelGraceMs the runner's cancel grace; milliseconds, default 2000.
 */
async function session(step: Step, cancelGraceMs = 2000): Promise<{ runner: Runner; store: MemoryStore; record: SessionRecord }> {
  const store = new MemoryStore()
  const record = await store.createSession(newId(), { name: 'openai' })
  return { runner: runnerFor(store, step, { cancelGraceMs }), store, record }
}

type Bare = Record<string, unknown> & { type: StoredEvent['type'] }
/** A run's events without their envelope. */
const bare = (events: StoredEvent[]): Bare[] => events.map(({ seq, session_id, step_id, ts, ...rest }) => rest as Bare)

/** Sends `text`, waits for the run to end, and returns its events after the user's message. */
async function send(s: Awaited<ReturnType<typeof session>>, text: string): Promise<Bare[]> {
  const runId = await s.runner.submit(s.record, text)
  await s.runner.settled(s.record.id)
  return bare((await readAll(s.store, s.record.id)).filter((e) => e.step_id === runId && e.type !== 'user'))
}

const requestsSince = (n: number) => fake.requests.slice(n)

describe('the openai step against an OpenAI-compatible server', () => {
  test('replays the wire format: reasoning, content, finish and usage become start, reasoning, partials and a final with meta', async () => {
    const before = fake.requests.length
    fake.reply({
      stream: answer(['Once ', 'upon ', 'a time.'], { reasoning: ['The user ', 'wants a story.'], usage: [19, 7] }),
    })
    const events = await send(await session(openAiRunStep(settings(), builtInTools(), log)), 'Tell me a story.')
    expect(events.map((e) => e.type)).toEqual(['start', 'reasoning', 'reasoning', 'partial', 'partial', 'partial', 'final'])
    expect(events.filter((e) => e.type === 'reasoning').map((e) => e.delta)).toEqual(['The user ', 'wants a story.'])
    const final = events.at(-1)!
    expect(final.text).toBe('Once upon a time.')
    const meta = final.meta as Record<string, unknown>
    expect(meta).toMatchObject({ model: 'gpt-4o-mini-2024-07-18', usage: { prompt_tokens: 19, completion_tokens: 7, total_tokens: 26 } })
    expect(meta.ttft_ms).toBeGreaterThanOrEqual(0)
    expect(meta.duration_ms).toBeGreaterThanOrEqual(meta.ttft_ms as number)

    const [request] = requestsSince(before)
    expect(request!.path).toBe('/v1/chat/completions')
    expect(request!.headers.authorization).toBe(`Bearer ${KEY}`)
    expect(request!.body).toMatchObject({ model: 'gpt-4o-mini', stream: true, stream_options: { include_usage: true } })
    expect(request!.body.messages).toEqual([
      { role: 'system', content: 'You are a helpful assistant.' },
      { role: 'user', content: 'Tell me a story.' },
    ])
    expect(request!.body.tools.map((t: { function: { name: string } }) => t.function.name)).toEqual(['current_time', 'calculator'])
    expect(request!.body.tools[1].function.parameters).toMatchObject({ type: 'object', required: ['expression'] })
  })

  test('Ollama and OpenRouter name reasoning `reasoning`; it is shown and never sent back to the model', async () => {
    const before = fake.requests.length
    fake.reply({ stream: [roleChunk(), chunk({ reasoning: 'Hmm.' }), chunk({ content: 'Hi!' }), chunk({}, 'stop')] })
    fake.reply({ stream: answer(['Again.']) })
    const s = await session(openAiRunStep(settings(), builtInTools(), log))
    expect((await send(s, 'Hello')).map((e) => e.type)).toEqual(['start', 'reasoning', 'partial', 'final'])
    await send(s, 'Once more')
    expect(requestsSince(before)[1]!.body.messages).toEqual([
      { role: 'system', content: 'You are a helpful assistant.' },
      { role: 'user', content: 'Hello' },
      { role: 'assistant', content: 'Hi!' },
      { role: 'user', content: 'Once more' },
    ])
  })

  test('a two-round tool loop: calls split across chunks, results fed back by tool_call_id, the history carried to the next turn', async () => {
    const before = fake.requests.length
    fake.reply(
      {
        stream: toolCalls([
          { id: 'call_time', name: 'current_time', args: ['{"time', 'zone": "Eur', 'ope/Paris"}'] },
          { id: 'call_calc', name: 'calculator', args: ['{"expres', 'sion": "(2 + 3) ', '* 4"}'] },
        ]),
      },
      { stream: toolCalls([{ id: 'call_div', name: 'calculator', args: ['{"expression":', '"20 / 4"}'] }], { usage: [40, 9] }) },
      { stream: answer(['It is late; ', 'the answer is 5.'], { usage: [60, 8] }) },
    )
    const s = await session(openAiRunStep(settings({ systemPrompt: 'Use tools.' }), builtInTools(), log))
    const events = await send(s, 'What time is it in Paris, and what is (2+3)*4/4?')
    expect(events.map((e) => e.type)).toEqual([
      'start',
      'tool-call',
      'tool-call',
      'tool-result',
      'tool-result',
      'tool-call',
      'tool-result',
      'partial',
      'partial',
      'final',
    ])
    expect(events[1]!.tool_call).toEqual({ id: 'call_time', name: 'current_time', input: { timezone: 'Europe/Paris' } })
    expect(events[2]!.tool_call).toEqual({ id: 'call_calc', name: 'calculator', input: { expression: '(2 + 3) * 4' } })
    const time = events[3]!.tool_result as { id: string; result: { iso: string } }
    expect(time.id).toBe('call_time')
    expect(time.result.iso).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+0[12]:00$/)
    expect(events[4]!.tool_result).toEqual({ id: 'call_calc', result: { expression: '(2 + 3) * 4', result: 20 } })
    expect(events[6]!.tool_result).toEqual({ id: 'call_div', result: { expression: '20 / 4', result: 5 } })
    expect(events.at(-1)!.meta).toMatchObject({ usage: { prompt_tokens: 100, completion_tokens: 17, total_tokens: 117 } })

    const [first, second, third] = requestsSince(before)
    expect(first!.body.messages).toHaveLength(2)
    const round1 = [
      {
        role: 'assistant',
        content: null,
        tool_calls: [
          { id: 'call_time', type: 'function', function: { name: 'current_time', arguments: '{"timezone": "Europe/Paris"}' } },
          { id: 'call_calc', type: 'function', function: { name: 'calculator', arguments: '{"expression": "(2 + 3) * 4"}' } },
        ],
      },
      { role: 'tool', tool_call_id: 'call_time', content: JSON.stringify(time.result) },
      { role: 'tool', tool_call_id: 'call_calc', content: '{"expression":"(2 + 3) * 4","result":20}' },
    ]
    expect(second!.body.messages.slice(2)).toEqual(round1)
    expect(second!.body.tools).toHaveLength(2)
    expect(third!.body.messages.slice(2, 5)).toEqual(round1)
    expect(third!.body.messages.slice(5)).toEqual([
      {
        role: 'assistant',
        content: null,
        tool_calls: [{ id: 'call_div', type: 'function', function: { name: 'calculator', arguments: '{"expression":"20 / 4"}' } }],
      },
      { role: 'tool', tool_call_id: 'call_div', content: '{"expression":"20 / 4","result":5}' },
    ])

    // The next turn sees the whole first one, rebuilt from the log: calls, results and the answer.
    fake.reply({ stream: answer(['You are welcome.']) })
    await send(s, 'Thanks')
    const history = fake.requests.at(-1)!.body.messages
    expect(history[0]).toEqual({ role: 'system', content: 'Use tools.' })
    expect(history.slice(2, 4).map((m: { role: string }) => m.role)).toEqual(['assistant', 'tool'])
    expect(history[2].tool_calls.map((c: { id: string }) => c.id)).toEqual(['call_time', 'call_calc'])
    expect(history[5]).toEqual({
      role: 'assistant',
      content: null,
      tool_calls: [{ id: 'call_div', type: 'function', function: { name: 'calculator', arguments: '{"expression":"20 / 4"}' } }],
    })
    expect(history.slice(-2)).toEqual([
      { role: 'assistant', content: 'It is late; the answer is 5.' },
      { role: 'user', content: 'Thanks' },
    ])
  })

  test('an unknown tool, arguments that are not JSON and a tool that hangs give error results the model reads, and the loop goes on', async () => {
    const slow: Tool = { name: 'slow', description: 'never answers', parameters: t.Object({}), run: () => new Promise(() => {}) }
    fake.reply(
      {
        stream: toolCalls([
          { id: 'c1', name: 'weather', args: ['{}'] },
          { id: 'c2', name: 'calculator', args: ['{"expression": '] },
          { id: 'c3', name: 'calculator', args: ['{"expression": "1/0"}'] },
          { id: 'c4', name: 'slow', args: [''] },
        ]),
      },
      { stream: answer(['Sorry.']) },
    )
    const tools = new ToolRegistry([...builtInTools().tools, slow], 200)
    const events = await send(await session(openAiRunStep(settings(), tools, log)), 'Weather?')
    const results = events.filter((e) => e.type === 'tool-result').map((e) => (e.tool_result as { result: { error: string } }).result.error)
    expect(results[0]).toMatch(/no tool called "weather"; the tools are current_time, calculator, slow/)
    expect(results[1]).toMatch(/not valid JSON/)
    expect(results[2]).toMatch(/no finite real value/)
    expect(results[3]).toMatch(/slow tool took longer than 200 ms/)
    expect(events.at(-1)).toMatchObject({ type: 'final', text: 'Sorry.' })
    expect(fake.requests.at(-1)!.body.messages.at(-1)).toMatchObject({ role: 'tool', tool_call_id: 'c4' })
  })

  test('more than --max-tool-rounds rounds of calls end the run with an error', async () => {
    const calls = () => ({ stream: toolCalls([{ id: `c${Math.random()}`, name: 'calculator', args: ['{"expression":"1+1"}'] }]) })
    fake.reply(calls(), calls(), calls())
    const events = await send(await session(openAiRunStep(settings({ maxToolRounds: 2 }), builtInTools(), log)), 'loop')
    expect(events.filter((e) => e.type === 'tool-result')).toHaveLength(2)
    expect(events.at(-1)).toEqual({ type: 'error', error: expect.stringMatching(/asked for tools more than 2 times.*--max-tool-rounds/) })
  })
})

describe('every failure ends the run with one error a user can act on, and the session takes the next message', () => {
  const partialText = (events: Bare[]) =>
    events
      .filter((e) => e.type === 'partial')
      .map((e) => e.delta)
      .join('')

  /** Runs `text` against the scripted failure, checks it ended in exactly one error, then that a next message works. */
  async function fails(replies: Parameters<FakeOpenAI['reply']>, over: Partial<OpenAiSettings> = {}) {
    fake.reply(...replies)
    const s = await session(openAiRunStep(settings(over), builtInTools(), log))
    const before = fake.requests.length
    const events = await send(s, 'Hello')
    const attempts = requestsSince(before)
    expect(events.filter((e) => e.type === 'final' || e.type === 'interrupt' || e.type === 'error')).toHaveLength(1)
    const last = events.at(-1)!
    expect(last.type).toBe('error')
    expect(JSON.stringify(events)).not.toContain(KEY)
    if (over.baseUrl === undefined) {
      fake.reply({ stream: answer(['Fine now.']) })
      expect((await send(s, 'Again')).at(-1)).toMatchObject({ type: 'final', text: 'Fine now.' })
    }
    return { error: last.error as string, text: last.text as string | undefined, events, attempts }
  }

  test('401: the key was rejected (the server quoting the key back does not leak it)', async () => {
    const { error } = await fails([
      { status: 401, body: { error: { message: `Incorrect API key provided: ${KEY}.`, code: 'invalid_api_key' } } },
    ])
    expect(error).toBe('The model server rejected the API key (401). Check --openai-api-key (or OPENAI_API_KEY) and restart stepstream.')
  })

  test('403: access refused, naming the model', async () => {
    const { error } = await fails([{ status: 403, body: { error: { message: 'forbidden' } } }])
    expect(error).toMatch(/refused this API key access to model "gpt-4o-mini" \(403\)/)
  })

  test("404: the URL asked is named, with the model and the server's words, so a wrong model and a wrong address can be told apart", async () => {
    const { error, attempts } = await fails([{ status: 404, body: { error: { message: 'The model `gpt-4o-mini` does not exist' } } }])
    expect(error).toBe(
      `The model server answered 404 Not Found for POST ${fake.baseUrl}/chat/completions: “The model \`gpt-4o-mini\` does not exist”. Either it has no model "gpt-4o-mini" (check --model against its list of models) or that is not its address (check that --openai-base-url ends in /v1).`,
    )
    expect(attempts).toHaveLength(1)
  })

  test('404: the URL named holds no credentials: no user or password, no query, and the key nowhere', async () => {
    const { origin, pathname } = new URL(fake.baseUrl)
    const baseUrl = `${origin.replace('//', `//proxy-user:${KEY}@`)}/${KEY}${pathname}?api-key=${KEY}&other=secret-query`
    const { error } = await fails([{ status: 404 }], { baseUrl })
    expect(error).toStartWith(`The model server answered 404 Not Found for POST ${origin}/[redacted]/v1/chat/completions: `)
    expect(error).not.toContain('proxy-user')
    expect(error).not.toContain('secret-query')
  })

  test('429: Retry-After is honoured for two retries before the first token, then the run gives up', async () => {
    const limited = { status: 429, headers: { 'retry-after': '1' }, body: { error: { message: 'Rate limit reached' } } }
    const { error, attempts } = await fails([limited, limited, limited])
    expect(error).toBe('The model server is rate limiting us (429) and still was after 2 retries. Try again in 1 second.')
    expect(attempts).toHaveLength(3)
    // Each retry waited out the one second the server asked for.
    expect(attempts[1]!.at - attempts[0]!.at).toBeGreaterThanOrEqual(950)
    expect(attempts[2]!.at - attempts[1]!.at).toBeGreaterThanOrEqual(950)
  })

  test('429 then an answer: a retry that succeeds is not an error', async () => {
    fake.reply({ status: 429, headers: { 'retry-after-ms': '20' } }, { stream: answer(['Made it.']) })
    const events = await send(await session(openAiRunStep(settings(), builtInTools(), log)), 'Hello')
    expect(events.at(-1)).toMatchObject({ type: 'final', text: 'Made it.' })
  })

  test('5xx: retried, then a sentence with the status', async () => {
    const down = { status: 503, headers: { 'retry-after-ms': '10' }, body: { error: { message: 'overloaded' } } }
    const { error, attempts } = await fails([down, down, down])
    expect(error).toBe('The model server failed (HTTP 503) and still did after 2 retries. Try again in a minute.')
    expect(attempts).toHaveLength(3)
  })

  test('400: the server’s own words, which say what to change', async () => {
    const { error } = await fails([{ status: 400, body: { error: { message: "This model's maximum context length is 8192 tokens." } } }])
    expect(error).toBe("The model server refused the request (HTTP 400): “This model's maximum context length is 8192 tokens.”.")
  })

  test('connection refused: names the host and says to check it runs', async () => {
    const port = freePort()
    const { error } = await fails([], { baseUrl: `http://127.0.0.1:${port}/v1` })
    expect(error).toBe(
      `Could not reach the model server at 127.0.0.1:${port} (connection refused or network down, after 2 retries). Check that it is running and that --openai-base-url is right.`,
    )
  })

  test('a server that never sends a byte is ended by --request-timeout, and its connection closed', async () => {
    const started = performance.now()
    const { error, attempts } = await fails([{ silent: true }], { requestTimeoutMs: 300 })
    expect(error).toMatch(/^The model server sent nothing for 0\.3 s \(--request-timeout\), so the request was stopped\. Try again/)
    expect(performance.now() - started).toBeLessThan(3000)
    await attempts[0]!.closed
  })

  test('a stream that stalls mid-answer is ended by --request-timeout, keeping what arrived', async () => {
    const { error, text } = await fails(
      [{ stream: [roleChunk(), chunk({ content: 'Half an ' }), chunk({ content: 'answer' })], end: 'hang' }],
      {
        requestTimeoutMs: 300,
      },
    )
    expect(error).toMatch(/sent nothing for 0\.3 s .*The answer was cut off there; what arrived is kept above\./)
    expect(text).toBe('Half an answer')
  })

  test('a stream closed before its finish_reason: what arrived is kept, and the error says it was cut', async () => {
    const { error, text, events } = await fails([
      { stream: [roleChunk(), chunk({ content: 'Hello, ' }), chunk({ content: 'wor' })], end: 'close' },
    ])
    expect(error).toBe(CUT_SENTENCE)
    expect(text).toBe('Hello, wor')
    expect(partialText(events)).toBe('Hello, wor')
  })

  test('a connection broken mid-answer: what arrived is kept', async () => {
    const { error, text } = await fails([{ stream: [roleChunk(), chunk({ content: 'Hello, ' })], end: 'reset' }])
    expect(error).toMatch(/broke mid-answer\. The answer was cut off there; what arrived is kept above\./)
    expect(text).toBe('Hello, ')
  })

  test('a malformed chunk', async () => {
    const { error, text } = await fails([{ stream: [roleChunk(), chunk({ content: 'Hi' }), '{"id": "chatcmpl-1", "choices": [{'] }])
    expect(error).toMatch(/^The model server sent a chunk that is not valid JSON, so the answer stopped there\./)
    expect(text).toBe('Hi')
  })

  test('an error chunk mid-stream', async () => {
    const { error } = await fails([
      { stream: [roleChunk(), { error: { message: 'The server had an error while processing your request.' } }] },
    ])
    expect(error).toBe('The model server reported an error mid-answer: “The server had an error while processing your request.”.')
  })
})

describe('cancel', () => {
  test('aborts the upstream request on cancel (not when the grace runs out) and interrupts with what streamed', async () => {
    const words = Array.from({ length: 200 }, (_, i) => `w${i} `)
    fake.reply({ stream: [roleChunk(), ...words.map((w) => chunk({ content: w }))], delayMs: 20, end: 'hang' })
    // A grace of a minute: a request closed before it was closed by the cancel itself.
    const s = await session(openAiRunStep(settings(), builtInTools(), log), 60_000)
    const before = fake.requests.length
    const runId = await s.runner.submit(s.record, 'Talk')
    await until(async () => (await readAll(s.store, s.record.id)).filter((e) => e.type === 'partial').length >= 3, {
      what: 'three partials',
    })
    await s.runner.cancel(s.record.id)
    const request = fake.requests[before]!
    await within(request.closed, { what: 'the upstream request to close on the cancel' })
    await s.runner.settled(s.record.id)
    const events = bare((await readAll(s.store, s.record.id)).filter((e) => e.step_id === runId))
    const last = events.at(-1)!
    expect(last.type).toBe('interrupt')
    const streamed = events
      .filter((e) => e.type === 'partial')
      .map((e) => e.delta)
      .join('')
    expect(last.text).toBe(streamed)
    expect(streamed.length).toBeGreaterThan(0)
    expect(events.filter((e) => e.type === 'interrupt' || e.type === 'error' || e.type === 'final')).toHaveLength(1)
  })
})
