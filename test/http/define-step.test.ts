import { afterEach, expect, test } from 'bun:test'
import { createServer, defineStep, silentLogger, type StepstreamServer, type StoredEvent } from 'stepstream'
import { sleep } from '../../src/steps/step.ts'
import { url } from '../helpers/test-app.ts'
import { eventually } from '../helpers/wait.ts'

let server: StepstreamServer | undefined
afterEach(() => server?.stop())

/** Answers by what the user asked: each case of the Step API a step author meets. */
const custom = defineStep({
  name: 'custom',
  async run(conversation, { signal, partial, toolCall, toolResult }) {
    const last = conversation.findLast((m) => m.role === 'user')
    const ask = last?.role === 'user' ? last.content : ''
    if (ask === 'throw') throw new Error('The index is being rebuilt; ask again in a minute.')
    if (ask === 'tools') {
      await toolCall({ id: 't1', name: 'search', input: { q: 'robots' } })
      await toolResult('t1', ['R2-D2'])
      await partial('Found R2-D2.')
      return 'Found R2-D2.'
    }
    if (ask === 'stubborn') {
      await partial('ignoring you')
      await new Promise(() => {})
    }
    let text = ''
    for (const word of ['one ', 'two ', 'three ', 'four ', 'five']) {
      await sleep(ask === 'slow' ? 30 : 0, signal)
      if (signal.aborted) break
      await partial(word)
      text += word
    }
    return text
  },
})

async function start() {
  server = await createServer({ steps: [custom], log: silentLogger, cancelGraceMs: 100 })
  const call = (method: string, path: string, body?: unknown) =>
    server!.app.handle(
      new Request(url(path), {
        method,
        headers: { 'content-type': 'application/json' },
        body: body === undefined ? undefined : JSON.stringify(body),
      }),
    )
  const { id } = (await (await call('POST', '/api/sessions')).json()) as { id: string }
  const events = async () => (await (await call('GET', `/api/sessions/${id}/events`)).json()) as StoredEvent[]
  const until = async (predicate: (events: StoredEvent[]) => boolean) => {
    let last: StoredEvent[] = []
    return eventually(
      async () => {
        last = await events()
        return predicate(last) ? last : undefined
      },
      { what: 'the session’s events to match', describe: () => last },
    )
  }
  const ask = async (text: string) => expect((await call('POST', `/api/sessions/${id}/messages`, { text })).status).toBe(202)
  const cancel = async () => expect((await call('POST', `/api/sessions/${id}/cancel`)).status).toBe(202)
  return { ask, cancel, until }
}

const closing = (events: StoredEvent[]) => events.filter((e) => e.type === 'final' || e.type === 'interrupt' || e.type === 'error')

test('a step defined with defineStep streams its partials and its return value becomes the final', async () => {
  const { ask, until } = await start()
  await ask('count')
  const log = await until((events) => closing(events).length === 1)
  expect(log.map((e) => e.type)).toEqual(['user', 'start', 'partial', 'partial', 'partial', 'partial', 'partial', 'final'])
  expect(log[1]).toMatchObject({ type: 'start', step_type: 'custom' })
  expect(log.at(-1)).toMatchObject({ type: 'final', text: 'one two three four five' })
})

test('its tool calls and results are events of the run', async () => {
  const { ask, until } = await start()
  await ask('tools')
  const log = await until((events) => closing(events).length === 1)
  expect(log.slice(2)).toMatchObject([
    { type: 'tool-call', tool_call: { id: 't1', name: 'search', input: { q: 'robots' } } },
    { type: 'tool-result', tool_result: { id: 't1', result: ['R2-D2'] } },
    { type: 'partial', delta: 'Found R2-D2.' },
    { type: 'final', text: 'Found R2-D2.' },
  ])
})

test('a throw becomes the run’s error, with the message the step wrote', async () => {
  const { ask, until } = await start()
  await ask('throw')
  const log = await until((events) => closing(events).length === 1)
  expect(log.at(-1)).toMatchObject({ type: 'error', error: 'The index is being rebuilt; ask again in a minute.' })
})

test('cancelled, it is interrupted with what it streamed; the session takes the next message', async () => {
  const { ask, cancel, until } = await start()
  await ask('slow')
  await until((events) => events.some((e) => e.type === 'partial'))
  await cancel()
  const log = await until((events) => closing(events).length === 1)
  const streamed = log.flatMap((e) => (e.type === 'partial' ? [e.delta] : [])).join('')
  expect(log.at(-1)).toMatchObject({ type: 'interrupt', text: streamed })
  expect(streamed.length).toBeLessThan('one two three four five'.length)
  await ask('count')
  expect((await until((events) => closing(events).length === 2)).at(-1)).toMatchObject({ type: 'final' })
})

test('one that ignores its cancel is interrupted after the grace, and the session is free again', async () => {
  const { ask, cancel, until } = await start()
  await ask('stubborn')
  await until((events) => events.some((e) => e.type === 'partial'))
  await cancel()
  const log = await until((events) => closing(events).length === 1)
  expect(log.at(-1)).toMatchObject({ type: 'interrupt', text: 'ignoring you' })
  await ask('count')
  expect((await until((events) => closing(events).length === 2)).at(-1)).toMatchObject({ type: 'final' })
})

test('a session’s step options reach the step as ctx.options; a publisher session takes none', async () => {
  const greeter = defineStep({
    name: 'greeter',
    async run(_conversation, { options }) {
      return `${String(options.greeting ?? 'hello')}, world`
    },
  })
  server = await createServer({ steps: [custom, greeter], log: silentLogger })
  const call = (path: string, body?: unknown) =>
    server!.app.handle(
      new Request(url(path), {
        method: body === undefined ? 'GET' : 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(body),
      }),
    )
  const { id } = (await (await call('/api/sessions', { step: 'greeter', options: { greeting: 'hej' } })).json()) as { id: string }
  await call(`/api/sessions/${id}/messages`, { text: 'hi' })
  const log = await eventually(
    async () => {
      const now = (await (await call(`/api/sessions/${id}/events`)).json()) as StoredEvent[]
      return now.some((e) => e.type === 'final') ? now : undefined
    },
    { what: 'the greeter’s final' },
  )
  expect(log.at(-1)).toMatchObject({ type: 'final', text: 'hej, world' })
  const mixed = await call('/api/sessions', { publisher: true, step: 'greeter' })
  expect(mixed.status).toBe(400)
  expect((await call('/api/sessions', { step: 'greeter', options: 'loud' })).status).toBe(400)
})
