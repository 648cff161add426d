import { afterAll, afterEach, describe, expect, test } from 'bun:test'
import { EventType } from '@ag-ui/core'
import type { StoredEvent } from '../../src/events.ts'
import { silentLogger } from '../../src/log.ts'
import { aguiStep } from '../../src/steps/agui-step.ts'
import { builtInTools, openAiRunStep } from '../../src/steps/openai-step.ts'
import type { Step } from '../../src/steps/step.ts'
import { FakeAgent } from '../helpers/fake-agui.ts'
import { FakeOpenAI, toolCalls } from '../helpers/fake-openai.ts'
import { publishApi } from '../helpers/publish-api.ts'
import { slowTests } from '../helpers/slow-tests.ts'
import { testServer } from '../helpers/test-app.ts'

slowTests()

/**
 * One gate for every event, whatever its source (issue 20): JSON nested 60,000 deep (120 KB of brackets) once made
 * every view of its chat overflow the stack. From a publisher (JSON and NDJSON), AG-UI in either way, and a model's
 * tool arguments, it is refused with a sentence naming the limit, and the server goes on serving.
 */
const DEEP = `${'{"a":'.repeat(60_000)}1${'}'.repeat(60_000)}`

let made: Awaited<ReturnType<typeof testServer>> | undefined
afterEach(async () => {
  await made?.close()
  made = undefined
})
const agent = new FakeAgent()
const model = new FakeOpenAI()
afterAll(async () => {
  await agent.stop()
  await model.stop()
})

/** POSTs a body written by hand: JSON.stringify itself cannot write what is this deep. */
const postRaw = (url: string, body: string, headers: Record<string, string>) =>
  fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body })

async function refusal(res: Response, status: number): Promise<string> {
  expect(res.status).toBe(status)
  return ((await res.json()) as { error: { message: string } }).error.message
}

async function expectServing(base: string, sessionId: string): Promise<void> {
  expect((await fetch(`${base}/healthz`)).status).toBe(200)
  expect((await fetch(`${base}/?session=${sessionId}`)).status).toBe(200)
  expect((await fetch(`${base}/api/sessions/${sessionId}/transcript.md`)).status).toBe(200)
}

/** Runs one message through the server's step and returns the run's last event. */
async function lastEventOf(step: Step): Promise<StoredEvent> {
  made = await testServer({ step })
  const api = publishApi(made.base)
  const id = ((await (await api.post('/api/sessions')).json()) as { id: string }).id
  expect((await api.post(`/api/sessions/${id}/messages`, { text: 'go' })).status).toBe(202)
  await made.deps.runner.settled(id)
  await expectServing(made.base, id)
  return (await api.events(id)).at(-1)!
}

describe('the event gate, for every source of events', () => {
  test('the publish API refuses an over-deep tool input, as JSON and as NDJSON (422, naming the limit)', async () => {
    made = await testServer()
    const api = publishApi(made.base)
    const p = await api.publisher()
    const run = await api.openRun(p)
    const events = `${made.base}/api/sessions/${p.id}/runs/${run}/events`
    const json = `[{"type":"tool-call","tool_call":{"id":"c","name":"n","input":${DEEP}}}]`
    // A JSON body meets the body's own bound (an array of events: one level more than an event) before any event
    // is looked at; NDJSON lines and AG-UI's JSON strings meet the event gate itself.
    expect(await refusal(await postRaw(events, json, api.bearer(p)), 422)).toBe(
      'The JSON body is nested more than 65 levels deep (the limit): flatten it and send it again.',
    )
    const ndjson = await postRaw(
      events,
      `{"type":"partial","delta":"a"}\n{"type":"tool-result","tool_result":{"id":"c","result":${DEEP}}}\n`,
      { 'content-type': 'application/x-ndjson', ...api.bearer(p) },
    )
    expect(await refusal(ndjson, 422)).toContain('is nested more than 64 levels deep (the limit)')
    await expectServing(made.base, p.id)
  })

  test('AG-UI published with ?format=ag-ui: an over-deep state or tool result is refused, a doubling patch too (413)', async () => {
    made = await testServer()
    const api = publishApi(made.base)
    const p = await api.publisher()
    const run = await api.openRun(p)
    const ag = { query: '?format=ag-ui' }
    const snapshot = `[{"type":"STATE_SNAPSHOT","snapshot":${DEEP}}]`
    expect(
      await refusal(await postRaw(`${made.base}/api/sessions/${p.id}/runs/${run}/events?format=ag-ui`, snapshot, api.bearer(p)), 422),
    ).toBe('The JSON body is nested more than 65 levels deep (the limit): flatten it and send it again.')
    const line = await postRaw(
      `${made.base}/api/sessions/${p.id}/runs/${run}/events?format=ag-ui`,
      `{"type":"STATE_SNAPSHOT","snapshot":${DEEP}}\n`,
      {
        'content-type': 'application/x-ndjson',
        ...api.bearer(p),
      },
    )
    expect(await refusal(line, 422)).toBe('AG-UI event 1 is nested more than 64 levels deep (the limit).')
    const result = [{ type: EventType.TOOL_CALL_RESULT, messageId: 'm', toolCallId: 'c', content: DEEP }]
    expect(await refusal(await api.append(p, run, result, ag), 422)).toContain('is nested more than 64 levels deep (the limit)')
    const delta = Array.from({ length: 22 }, (_, i) => ({ op: 'copy', from: '', path: `/c${i}` }))
    const patch = [
      { type: EventType.STATE_SNAPSHOT, snapshot: { seed: 'x'.repeat(20) } },
      { type: EventType.STATE_DELTA, delta },
    ]
    expect(await refusal(await api.append(p, run, patch, ag), 413)).toBe(
      `AG-UI event 2 (STATE_DELTA): operation 15 (copy "/c14") makes the agent's state more than 1,048,576 bytes of JSON, the limit.`,
    )
    await expectServing(made.base, p.id)
  })

  test('an AG-UI agent whose state is nested too deep ends its agui run with an error that names the limit', async () => {
    agent.reply(({ threadId, runId }) => ({
      events: [
        { type: EventType.RUN_STARTED, threadId, runId },
        `{"type":"STATE_SNAPSHOT","snapshot":${DEEP}}`,
        { type: EventType.RUN_FINISHED, threadId, runId },
      ],
    }))
    const step = aguiStep({ url: agent.url, headers: {}, requestTimeoutMs: 5000 }, silentLogger).create({})
    expect(await lastEventOf(step)).toMatchObject({
      type: 'error',
      error: expect.stringContaining('AG-UI event 2 is nested more than 64 levels deep (the limit).'),
    })
  })

  const settings = () => ({
    baseUrl: model.baseUrl,
    model: 'gpt-4o-mini',
    systemPrompt: 'You are a helpful assistant.',
    maxToolRounds: 8,
    requestTimeoutMs: 5000,
  })

  test('a model whose tool arguments are nested too deep ends its openai run with an error that names the limit', async () => {
    model.reply({ stream: toolCalls([{ id: 'call_1', name: 'calculator', args: [DEEP.slice(0, 70_000), DEEP.slice(70_000)] }]) })
    expect(await lastEventOf(openAiRunStep(settings(), builtInTools(), silentLogger))).toMatchObject({
      type: 'error',
      error: 'The model sent arguments for the tool "calculator" that are nested more than 62 levels deep (the limit), so the run stopped.',
    })
  })

  test('a model whose tool arguments go on past the longest an event may carry ends its run with an error', async () => {
    const piece = `"${'x'.repeat(99_998)}",`
    // The model never ends them: the run stops as they pass the limit, not at the end of a stream that has none.
    const frames = toolCalls([{ id: 'call_1', name: 'calculator', args: ['[', ...new Array(11).fill(piece)] }]).slice(0, -1)
    model.reply({ stream: frames, end: 'hang' })
    expect(await lastEventOf(openAiRunStep(settings(), builtInTools(), silentLogger))).toMatchObject({
      type: 'error',
      error:
        'The model sent arguments for the tool "calculator" that are longer than 1,000,000 characters (the limit), so the run stopped.',
    })
  })
})
