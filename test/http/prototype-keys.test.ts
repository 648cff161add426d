import { afterAll, afterEach, describe, expect, test } from 'bun:test'
import { EventType } from '@ag-ui/core'
import type { StoredEvent } from '../../src/events.ts'
import { silentLogger } from '../../src/log.ts'
import { aguiStep } from '../../src/steps/agui-step.ts'
import type { EventStore } from '../../src/log/event-store.ts'
import { SqliteStore } from '../../src/store/sqlite-store.ts'
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { FakeAgent } from '../helpers/fake-agui.ts'
import { publishApi } from '../helpers/publish-api.ts'
import { slowTests } from '../helpers/slow-tests.ts'
import { spawnServer } from '../helpers/spawn-server.ts'
import { testServer } from '../helpers/test-app.ts'

slowTests()

/**
 * Ids from a client, an agent or a model are data, never object keys: each name below, sent through every id field
 * the server takes, must leave Object.prototype as it was, the process serving (`/metrics` renders), and one session's
 * tool calls out of another's (issue 20, finding 1: `__proto__` as a toolCallId killed the process).
 */
const HOSTILE = ['__proto__', 'constructor', 'toString', 'hasOwnProperty', 'prototype', 'valueOf']

const prototypeNames = () => Object.getOwnPropertyNames(Object.prototype).sort()
const CLEAN = prototypeNames()

let made: Awaited<ReturnType<typeof testServer>> | undefined
afterEach(async () => {
  await made?.close()
  made = undefined
})
const agent = new FakeAgent()
afterAll(() => agent.stop())

/** The process is as it was: nothing added to Object.prototype, `/healthz` and `/metrics` answer. */
async function expectHealthy(base: string): Promise<void> {
  expect(prototypeNames()).toEqual(CLEAN)
  expect(({} as { args?: unknown }).args).toBeUndefined()
  expect(({} as { name?: unknown }).name).toBeUndefined()
  expect(typeof {}.toString).toBe('function')
  expect((await fetch(`${base}/healthz`)).status).toBe(200)
  const metrics = await fetch(`${base}/metrics`)
  expect(metrics.status).toBe(200)
  expect(await metrics.text()).toContain('stepstream_http_requests_total')
}

/** Every answer is an answer: a 2xx or a 4xx with a sentence, never a 5xx. */
async function expectAnswered(res: Response): Promise<void> {
  expect(res.status).toBeLessThan(500)
  if (res.status >= 400) expect(((await res.json()) as { error: { message: string } }).error.message).toMatch(/\w+ \w+/)
}

const stores: [string, () => EventStore | undefined][] = [
  ['memory', () => undefined],
  ['sqlite', () => new SqliteStore(':memory:')],
]

describe.each(stores)('ids named like Object.prototype members (%s store)', (_name, makeStore) => {
  test('through every field of AG-UI events published with ?format=ag-ui', async () => {
    made = await testServer({ store: makeStore() })
    const api = publishApi(made.base)
    const ag = { query: '?format=ag-ui' }
    for (const key of HOSTILE) {
      const a = await api.publisher()
      const b = await api.publisher()
      const [runA, runB] = [await api.openRun(a), await api.openRun(b)]
      // Arguments for a call nobody opened: refused, never written to a prototype.
      await expectAnswered(await api.append(a, runA, [{ type: 'TOOL_CALL_ARGS', toolCallId: key, delta: 'x' }], ag))
      await expectAnswered(await api.append(a, runA, [{ type: 'TOOL_CALL_END', toolCallId: key }], ag))
      await expectHealthy(made.base)
      // Session A leaves a call named `key` open with its arguments; session B opens and ends its own.
      const opened = await api.append(
        a,
        runA,
        [
          { type: EventType.RUN_STARTED, threadId: key, runId: key },
          { type: EventType.TEXT_MESSAGE_START, messageId: key, role: 'assistant' },
          { type: EventType.TEXT_MESSAGE_CONTENT, messageId: key, delta: 'a' },
          { type: EventType.TEXT_MESSAGE_CHUNK, messageId: key, delta: 'b' },
          { type: EventType.TEXT_MESSAGE_END, messageId: key },
          { type: EventType.STEP_STARTED, stepName: key },
          { type: EventType.TOOL_CALL_START, toolCallId: key, toolCallName: key, parentMessageId: key },
          { type: EventType.TOOL_CALL_ARGS, toolCallId: key, delta: '{"from": "session A"' },
        ],
        ag,
      )
      expect(opened.status).toBe(200)
      const closedB = await api.append(
        b,
        runB,
        [
          { type: EventType.TOOL_CALL_START, toolCallId: key, toolCallName: key, parentMessageId: key },
          { type: EventType.TOOL_CALL_ARGS, toolCallId: key, delta: '{"from": "session B"}' },
          { type: EventType.TOOL_CALL_END, toolCallId: key },
          { type: EventType.TOOL_CALL_CHUNK, toolCallId: `${key}`, toolCallName: key, parentMessageId: key, delta: '{}' },
          { type: EventType.TOOL_CALL_RESULT, toolCallId: key, messageId: key, content: '{"ok": true}' },
          { type: EventType.STATE_SNAPSHOT, snapshot: { [key]: 1 } },
          { type: EventType.RUN_FINISHED, threadId: key, runId: key },
        ],
        ag,
      )
      expect(closedB.status).toBe(200)
      await expectHealthy(made.base)
      const callsOfB = (await api.events(b.id)).filter((e): e is StoredEvent & { type: 'tool-call' } => e.type === 'tool-call')
      expect(callsOfB.map((e) => e.tool_call)).toEqual([
        { id: key, name: key, input: { from: 'session B' } },
        { id: key, name: key, input: {} },
      ])
      // Session A's call is still its own, arguments unmixed.
      expect((await api.append(a, runA, [{ type: EventType.TOOL_CALL_ARGS, toolCallId: key, delta: '}' }], ag)).status).toBe(200)
      expect((await api.append(a, runA, [{ type: EventType.TOOL_CALL_END, toolCallId: key }], ag)).status).toBe(200)
      const callOfA = (await api.events(a.id)).find((e) => e.type === 'tool-call')
      expect(callOfA).toMatchObject({ tool_call: { id: key, name: key, input: { from: 'session A' } } })
      await expectHealthy(made.base)
    }
  })

  test('through run ids, producer ids and the ids and names of published stepstream events', async () => {
    made = await testServer({ store: makeStore() })
    const api = publishApi(made.base)
    for (const key of HOSTILE) {
      const p = await api.publisher()
      await expectAnswered(await api.append(p, key, [{ type: 'partial', delta: 'x' }]))
      const run = await api.openRun(p)
      const producer = { 'producer-id': key, 'producer-seq': '0' }
      const events = [
        { type: 'tool-call', tool_call: { id: key, name: key, input: { [key]: key } } },
        { type: 'tool-result', tool_result: { id: key, result: { [key]: key } } },
      ]
      expect((await api.append(p, run, events, { headers: producer })).status).toBe(200)
      // The same request again is recognised as a retry, whatever the producer is called.
      expect((await api.append(p, run, events, { headers: producer })).status).toBe(200)
      expect((await api.events(p.id)).filter((e) => e.type === 'tool-call')).toHaveLength(1)
      await expectHealthy(made.base)
    }
  })

  test('through session and viewer ids in URLs', async () => {
    made = await testServer({ store: makeStore() })
    for (const key of HOSTILE) {
      for (const path of [
        `/api/sessions/${key}`,
        `/api/sessions/${key}/events`,
        `/api/sessions/${key}/transcript.md`,
        `/api/sessions/view/${key}`,
        `/api/sessions/view/${key}/events`,
        `/api/sessions/view/${key}/transcript.json`,
      ]) {
        await expectAnswered(await fetch(`${made.base}${path}`))
      }
      expect((await fetch(`${made.base}/?view=${key}`)).status).toBeLessThan(500)
      expect((await fetch(`${made.base}/?session=${key}`)).status).toBeLessThan(500)
      for (const [path, body] of [
        [`/api/sessions/${key}/messages`, { text: 'hi' }],
        [`/api/sessions/${key}/fork`, { at: 0 }],
        [`/api/sessions/${key}/regenerate`, {}],
      ] as const) {
        await expectAnswered(
          await fetch(`${made.base}${path}`, {
            method: 'POST',
            headers: { 'content-type': 'application/json' },
            body: JSON.stringify(body),
          }),
        )
      }
      for (const path of ['/edit', '/regenerate']) {
        const form = new URLSearchParams({ client_id: key, seq: key, message: key })
        expect((await fetch(`${made.base}${path}`, { method: 'POST', body: form })).status).toBeLessThan(500)
      }
      for (const method of ['PATCH', 'DELETE']) {
        for (const path of [`/api/sessions/${key}`, `/api/sessions/view/${key}`]) {
          const body = method === 'PATCH' ? JSON.stringify({ title: key }) : undefined
          await expectAnswered(await fetch(`${made.base}${path}`, { method, headers: { 'content-type': 'application/json' }, body }))
        }
      }
      await expectHealthy(made.base)
    }
  })

  test('through chat titles and the ids of the chat list', async () => {
    made = await testServer({ store: makeStore() })
    const form = { 'content-type': 'application/x-www-form-urlencoded' }
    for (const key of HOSTILE) {
      const { id } = (await (await fetch(`${made.base}/api/sessions`, { method: 'POST' })).json()) as { id: string }
      const renamed = await fetch(`${made.base}/api/sessions/${id}`, {
        method: 'PATCH',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ title: key }),
      })
      expect(((await renamed.json()) as { title: string }).title).toBe(key)
      const list = await fetch(`${made.base}/chats`, {
        method: 'POST',
        headers: form,
        body: `ids=${encodeURIComponent(`${key} ${id} ${key}`)}`,
      })
      expect(list.status).toBe(200)
      const html = await list.text()
      expect(html).toContain(`>${key}</a>`)
      expect(html.match(/<li /g)?.length).toBe(1)
      for (const route of ['/chats/rename', '/chats/delete']) {
        expect(
          (await fetch(`${made.base}${route}`, { method: 'POST', headers: form, body: `client_id=${key}&ids=${key}&title=${key}` })).status,
        ).toBeLessThan(500)
      }
      await expectAnswered(await fetch(`${made.base}/api/sessions/${id}`, { method: 'DELETE' }))
      await expectHealthy(made.base)
    }
  })

  test('through the events an agent streams to the agui step', async () => {
    const step = aguiStep({ url: agent.url, headers: {}, requestTimeoutMs: 5000 }, silentLogger).create({})
    made = await testServer({ store: makeStore(), step })
    const api = publishApi(made.base)
    for (const key of HOSTILE) {
      agent.reply(({ threadId, runId }) => ({
        events: [
          { type: EventType.RUN_STARTED, threadId, runId },
          { type: EventType.TEXT_MESSAGE_START, messageId: key, role: 'assistant' },
          { type: EventType.TEXT_MESSAGE_CONTENT, messageId: key, delta: 'ok' },
          { type: EventType.TEXT_MESSAGE_END, messageId: key },
          { type: EventType.TOOL_CALL_START, toolCallId: key, toolCallName: key, parentMessageId: key },
          { type: EventType.TOOL_CALL_ARGS, toolCallId: key, delta: '{"a": 1}' },
          { type: EventType.TOOL_CALL_END, toolCallId: key },
          { type: EventType.RUN_FINISHED, threadId, runId },
        ],
      }))
      agent.reply(({ threadId, runId }) => ({
        events: [
          { type: EventType.RUN_STARTED, threadId, runId },
          { type: EventType.TOOL_CALL_ARGS, toolCallId: key, delta: 'x' },
        ],
      }))
      const id = ((await (await api.post('/api/sessions')).json()) as { id: string }).id
      expect((await api.post(`/api/sessions/${id}/messages`, { text: 'one' })).status).toBe(202)
      await made.deps.runner.settled(id)
      expect((await api.post(`/api/sessions/${id}/messages`, { text: 'two' })).status).toBe(202)
      await made.deps.runner.settled(id)
      const log = await api.events(id)
      expect(log.find((e) => e.type === 'tool-call')).toMatchObject({ tool_call: { id: key, name: key, input: { a: 1 } } })
      expect(log.at(-1)).toMatchObject({ type: 'error', error: expect.stringContaining('no TOOL_CALL_START opened') })
      await expectHealthy(made.base)
    }
  })
})

test('a server process on its default flags survives the issue’s request: __proto__ as a toolCallId', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'proto-keys-'))
  const server = await spawnServer([process.execPath, 'src/main.ts'], { args: ['--store', `sqlite:${join(dir, 'chats.db')}`] })
  try {
    const api = publishApi(server.base)
    const p = await api.publisher()
    const run = await api.openRun(p)
    const res = await api.append(p, run, [{ type: 'TOOL_CALL_ARGS', toolCallId: '__proto__', delta: 'x' }], { query: '?format=ag-ui' })
    for (let i = 0; i < 3; i++) expect((await fetch(`${server.base}/metrics`)).status).toBe(200)
    expect((await fetch(`${server.base}/healthz`)).status).toBe(200)
    expect(server.proc.exitCode).toBeNull()
    expect(res.status).toBe(422)
  } finally {
    await server.stop()
  }
})
