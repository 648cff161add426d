import { endlessBody } from '../helpers/fake-upstream.ts'
import { agentThreadId } from '../../src/steps/agui-answer.ts'
import { afterAll, describe, expect, test } from 'bun:test'
import { type BaseEvent, EventType } from '@ag-ui/core'
import { RunAgentInputSchema } from '@ag-ui/core/schemas'
import type { AguiConfig } from '../../src/config.ts'
import { AppError } from '../../src/errors.ts'
import type { NewEvent, StoredEvent } from '../../src/events.ts'
import { createLogger } from '../../src/log.ts'
import type { Runner } from '../../src/runs/runner.ts'
import { newId } from '../../src/session-id.ts'
import { aguiStep } from '../../src/steps/agui-step.ts'
import type { SessionRecord } from '../../src/log/event-store.ts'
import { MemoryStore } from '../../src/store/memory-store.ts'
import { readAll } from '../../src/store/read-all.ts'
import { FakeAgent, fullRun, textRun } from '../helpers/fake-agui.ts'
import { slowTests } from '../helpers/slow-tests.ts'
import { runnerFor } from '../helpers/test-app.ts'
import { until, within } from '../helpers/wait.ts'

slowTests()

const SECRET = 'Bearer agent-secret-7f3e9a'
const agent = new FakeAgent()
const logLines: string[] = []
const log = createLogger('debug', { write: (line) => logLines.push(line) })
afterAll(() => agent.stop())

const config = (over: Partial<AguiConfig> = {}): AguiConfig => ({
  url: agent.url,
  headers: { Authorization: SECRET },
  requestTimeoutMs: 5000,
  ...over,
})

/** @param cancelGraceMs the runner's cancel grace; milliseconds, default 2000. */
async function session(
  over: Partial<AguiConfig> = {},
  cancelGraceMs = 2000,
): Promise<{ runner: Runner; store: MemoryStore; record: SessionRecord }> {
  const store = new MemoryStore()
  const record = await store.createSession(newId(), { name: 'agui' })
  return { runner: runnerFor(store, aguiStep(config(over), log).create({}), { cancelGraceMs }), store, record }
}

type Bare = Record<string, unknown> & { type: StoredEvent['type'] }
const bare = (events: StoredEvent[]): Bare[] => events.map(({ seq, session_id, step_id, ts, ...rest }) => rest as Bare)

async function send(s: Awaited<ReturnType<typeof session>>, text: string): Promise<Bare[]> {
  const runId = await s.runner.submit(s.record, text)
  await s.runner.settled(s.record.id)
  return bare((await readAll(s.store, s.record.id)).filter((e) => e.step_id === runId && e.type !== 'user'))
}

const RUN_ENDED_WITHOUT_FINISH = /ended its stream without RUN_FINISHED/

describe('the agui step against an AG-UI agent (@ag-ui/encoder, real HTTP)', () => {
  test('text, reasoning, two tool calls with split arguments, results, steps, a snapshot and deltas, then final', async () => {
    agent.reply(({ threadId, runId }) => ({ events: fullRun(threadId, runId) }))
    const s = await session()
    const events = await send(s, 'Weather in Paris?')
    expect(events).toEqual([
      { type: 'start', step_type: 'agui' },
      { type: 'agent-step', name: 'plan', phase: 'started' },
      { type: 'reasoning', delta: 'The user wants ' },
      { type: 'reasoning', delta: 'the weather.' },
      { type: 'agent-state', state: { city: 'Paris', steps: [] } },
      { type: 'agent-step', name: 'plan', phase: 'finished' },
      { type: 'agent-step', name: 'tools', phase: 'started' },
      { type: 'tool-call', tool_call: { id: 'call-1', name: 'get_weather', input: { city: 'Paris' } } },
      { type: 'tool-call', tool_call: { id: 'call-2', name: 'get_time', input: { zone: 'Europe/Paris' } } },
      { type: 'tool-result', tool_result: { id: 'call-1', result: { temp_c: 21 } } },
      { type: 'tool-result', tool_result: { id: 'call-2', result: '14:05' } },
      { type: 'agent-state', state: { city: 'Paris', steps: ['weather'] } },
      { type: 'agent-state', state: { city: 'Paris, FR', steps: ['weather'] } },
      { type: 'agent-step', name: 'tools', phase: 'finished' },
      { type: 'partial', delta: 'It is 21 °C ' },
      { type: 'partial', delta: 'in Paris <b>now</b>.' },
      { type: 'final', text: 'It is 21 °C in Paris <b>now</b>.' },
    ])
    const request = agent.runs.at(-1)!
    expect(request.headers.authorization).toBe(SECRET)
    expect(request.headers.accept).toBe('text/event-stream')
    expect(RunAgentInputSchema.safeParse(request.body).success).toBe(true)
    // The chat's own thread, the same for each of its runs, but never its id: that is the owner's write capability.
    expect(request.body.threadId).toBe(agentThreadId(s.record.id))
    expect(JSON.stringify(request.body)).not.toContain(s.record.id)
    const runId = (await readAll(s.store, s.record.id)).at(-1)!.step_id
    expect(request.body.runId).toBe(runId)
    expect(logLines.join('')).not.toContain('agent-secret')
  })

  test('the request carries the conversation of earlier turns: answers, tool calls with their arguments, results', async () => {
    agent.reply(({ threadId, runId }) => ({ events: fullRun(threadId, runId) }))
    agent.reply(({ threadId, runId }) => ({ events: textRun(threadId, runId, 'You are welcome.') }))
    const s = await session()
    await send(s, 'Weather in Paris?')
    expect(await send(s, 'Thanks!')).toEqual([
      { type: 'start', step_type: 'agui' },
      { type: 'partial', delta: 'You are welcome.' },
      { type: 'final', text: 'You are welcome.' },
    ])
    const body = agent.runs.at(-1)!.body
    expect(RunAgentInputSchema.safeParse(body).success).toBe(true)
    expect(body.messages.map((m: { role: string }) => m.role)).toEqual(['user', 'assistant', 'tool', 'tool', 'assistant', 'user'])
    expect(body.messages[0]).toMatchObject({ role: 'user', content: 'Weather in Paris?' })
    expect(body.messages[1].toolCalls).toEqual([
      { id: 'call-1', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Paris"}' } },
      { id: 'call-2', type: 'function', function: { name: 'get_time', arguments: '{"zone":"Europe/Paris"}' } },
    ])
    expect(body.messages[2]).toMatchObject({ role: 'tool', toolCallId: 'call-1', content: '{"temp_c":21}' })
    expect(body.messages[3]).toMatchObject({ role: 'tool', toolCallId: 'call-2', content: '14:05' })
    expect(body.messages[4]).toMatchObject({ role: 'assistant', content: 'It is 21 °C in Paris <b>now</b>.' })
    expect(body.messages[5]).toMatchObject({ role: 'user', content: 'Thanks!' })
    // Stable ids: the first turn's messages keep theirs in the second request.
    expect(agent.runs.at(-2)!.body.messages[0].id).toBe(body.messages[0].id)
  })

  test('RUN_ERROR ends the run with an error holding its message and the text streamed before it', async () => {
    agent.reply(({ threadId, runId }) => ({
      events: [
        { type: EventType.RUN_STARTED, threadId, runId },
        { type: EventType.TEXT_MESSAGE_START, messageId: 'm', role: 'assistant' },
        { type: EventType.TEXT_MESSAGE_CONTENT, messageId: 'm', delta: 'Let me ' },
        { type: EventType.RUN_ERROR, message: 'The weather API is down.', code: 'TOOL_FAILED' },
      ],
    }))
    const events = await send(await session(), 'Weather?')
    expect(events.map((e) => e.type)).toEqual(['start', 'partial', 'error'])
    expect(events.at(-1)).toEqual({ type: 'error', error: 'The weather API is down.', text: 'Let me ' })
  })

  test("an agent that still names reasoning THINKING_* (before AG-UI's REASONING_*) is read the same", async () => {
    agent.reply(({ threadId, runId }) => ({
      events: [
        { type: EventType.RUN_STARTED, threadId, runId },
        { type: 'THINKING_START' },
        { type: 'THINKING_TEXT_MESSAGE_START' },
        { type: 'THINKING_TEXT_MESSAGE_CONTENT', delta: 'Hmm.' },
        { type: 'THINKING_TEXT_MESSAGE_END' },
        { type: 'THINKING_END' },
        ...textRun(threadId, runId, 'Yes.').slice(1),
      ] as BaseEvent[],
    }))
    const events = await send(await session(), 'Well?')
    expect(events).toEqual([
      { type: 'start', step_type: 'agui' },
      { type: 'reasoning', delta: 'Hmm.' },
      { type: 'partial', delta: 'Yes.' },
      { type: 'final', text: 'Yes.' },
    ])
  })

  test("an event the store refuses ends the run with the store's sentence, not one blaming the agent", async () => {
    class Refusing extends MemoryStore {
      override append(sessionId: string, event: NewEvent): Promise<StoredEvent> {
        if (event.type === 'partial') return Promise.reject(new AppError('STORE_FULL', 'The server holds as many events as it may.'))
        return super.append(sessionId, event)
      }
    }
    agent.reply(({ threadId, runId }) => ({ events: textRun(threadId, runId, 'Hello') }))
    const store = new Refusing()
    const record = await store.createSession(newId(), { name: 'agui' })
    const runner = runnerFor(store, aguiStep(config(), log).create({}))
    await runner.submit(record, 'Hi')
    await runner.settled(record.id)
    const last = (await readAll(store, record.id)).at(-1)
    expect(last).toMatchObject({ type: 'error', error: 'The server holds as many events as it may.' })
  })

  test('an event that does not validate ends the run with one error naming it', async () => {
    agent.reply(({ threadId, runId }) => ({
      events: [
        { type: EventType.RUN_STARTED, threadId, runId },
        { type: EventType.TEXT_MESSAGE_CONTENT, messageId: 'm', delta: 'Hi' },
        { type: EventType.TOOL_CALL_ARGS, toolCallId: 'c', delta: 42 },
        { type: EventType.RUN_FINISHED, threadId, runId },
      ],
    }))
    const events = await send(await session(), 'Hi')
    expect(events.map((e) => e.type)).toEqual(['start', 'partial', 'error'])
    expect(events.at(-1)!.error).toContain('AG-UI event 3 is invalid: TOOL_CALL_ARGS /delta')
    expect(events.at(-1)!.text).toBe('Hi')
  })

  test('a frame that is not JSON ends the run with one error', async () => {
    agent.reply(({ threadId, runId }) => ({ events: [{ type: EventType.RUN_STARTED, threadId, runId }, '{not json'] }))
    const events = await send(await session(), 'Hi')
    expect(events.map((e) => e.type)).toEqual(['start', 'error'])
    expect(events.at(-1)!.error).toContain('not JSON')
  })

  test('a stream cut before RUN_FINISHED (closed, or the connection broken) ends the run with one error', async () => {
    for (const end of ['close', 'reset'] as const) {
      agent.reply(({ threadId, runId }) => ({ events: textRun(threadId, runId, 'Half an ans').slice(0, 3), end }))
      const events = await send(await session(), 'Hi')
      expect(events.map((e) => e.type)).toEqual(['start', 'partial', 'error'])
      expect(events.at(-1)!.text).toBe('Half an ans')
      if (end === 'close') expect(events.at(-1)!.error).toMatch(RUN_ENDED_WITHOUT_FINISH)
      else expect(events.at(-1)!.error).toContain('broke mid-answer')
    }
  })

  test('an agent that sends nothing at all: an empty stream, or silence until --request-timeout', async () => {
    agent.reply(() => ({ events: [] }))
    const empty = await send(await session(), 'Hi')
    expect(empty.map((e) => e.type)).toEqual(['start', 'error'])
    expect(empty.at(-1)!.error).toMatch(RUN_ENDED_WITHOUT_FINISH)

    agent.reply(() => ({ events: [], end: 'hang' }))
    const started = performance.now()
    const silent = await send(await session({ requestTimeoutMs: 300 }), 'Hi')
    expect(silent.map((e) => e.type)).toEqual(['start', 'error'])
    expect(silent.at(-1)!.error).toContain('sent nothing for 0.3 s (--request-timeout)')
    expect(performance.now() - started).toBeLessThan(3000)
    await agent.runs.at(-1)!.closed
  })

  test('an HTTP error, and an agent that cannot be reached, end the run with one error saying so', async () => {
    agent.reply(() => ({ status: 401, body: 'no token' }))
    const refused = await send(await session(), 'Hi')
    expect(refused.map((e) => e.type)).toEqual(['start', 'error'])
    expect(refused.at(-1)!.error).toBe(
      `The AG-UI agent at ${new URL(agent.url).host} refused the run (HTTP 401). Check --agui-header (its credentials).`,
    )

    const gone = Bun.serve({ hostname: '127.0.0.1', port: 0, fetch: () => new Response('') })
    const url = `http://127.0.0.1:${gone.port}/agent`
    await gone.stop(true)
    const unreachable = await send(await session({ url }), 'Hi')
    expect(unreachable.map((e) => e.type)).toEqual(['start', 'error'])
    expect(unreachable.at(-1)!.error).toContain('Could not reach the AG-UI agent')
  })

  test('cancel mid-run: the agent sees its connection closed, and the run ends with an interrupt of what streamed', async () => {
    agent.reply(({ threadId, runId }) => ({ events: textRun(threadId, runId, 'Once upon').slice(0, 3), end: 'hang' }))
    // A grace of a minute: a request closed before it was closed by the cancel itself.
    const s = await session({}, 60_000)
    const runId = await s.runner.submit(s.record, 'Tell me a story')
    await until(async () => (await readAll(s.store, s.record.id)).some((e) => e.type === 'partial'), { what: 'a partial' })
    const request = agent.runs.at(-1)!
    await s.runner.cancel(s.record.id)
    await within(request.closed, { what: 'the agent request to close on the cancel' })
    await s.runner.settled(s.record.id)
    const events = bare((await readAll(s.store, s.record.id)).filter((e) => e.step_id === runId))
    expect(events.map((e) => e.type)).toEqual(['user', 'start', 'partial', 'interrupt'])
    expect(events.at(-1)!.text).toBe('Once upon')
  })
})

test('an agent whose event never ends is stopped at the longest an event may be, with a sentence, and its request closed', async () => {
  let cancelled = false
  const endless = Bun.serve({
    port: 0,
    hostname: '127.0.0.1',
    fetch: () =>
      new Response(
        endlessBody(
          (i) => (i === 0 ? 'data: {"type":"RUN_STARTED","threadId":"t","runId":"r"}\n\ndata: "' : 'x'.repeat(16 * 1024)),
          () => (cancelled = true),
        ),
        { headers: { 'content-type': 'text/event-stream' } },
      ),
  })
  try {
    const s = await session({ url: `http://127.0.0.1:${endless.port}/` })
    const events = await send(s, 'go')
    expect(events.at(-1)).toMatchObject({ type: 'error', error: expect.stringContaining('(the limit), so the run stopped') })
    await until(() => cancelled, { what: 'the agent request to be closed' })
  } finally {
    endless.stop(true)
  }
})
