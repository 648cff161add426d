import { afterAll, afterEach, expect, test } from 'bun:test'
import type { StoredEvent } from '../../src/events.ts'
import { silentLogger } from '../../src/log.ts'
import { aguiStep } from '../../src/steps/agui-step.ts'
import { MemoryStore } from '../../src/store/memory-store.ts'
import { FakeAgent } from '../helpers/fake-agui.ts'
import { publishApi } from '../helpers/publish-api.ts'
import { testServer } from '../helpers/test-app.ts'

/**
 * Issue 20: an agent streaming STATE_DELTAs forever (`--step agui`). Each delta that changes the state stores the
 * whole state, so the chat's byte budget stops the run; a delta that changes nothing stores nothing at all.
 */
let made: Awaited<ReturnType<typeof testServer>> | undefined
const agent = new FakeAgent()
afterEach(async () => {
  await made?.close()
  made = undefined
})
afterAll(() => agent.stop())

test('endless deltas: the empty ones store nothing, the others are stopped by the chat’s byte budget', async () => {
  const budget = 4 * 1024 * 1024
  const state = { a: new Array(20_000).fill(0) }
  agent.reply(({ threadId, runId }) => ({
    forever: (i) => {
      if (i === 0) return { type: 'RUN_STARTED', threadId, runId }
      if (i === 1) return { type: 'STATE_SNAPSHOT', snapshot: state }
      // Every other delta changes nothing: no operation, or one that writes what is there.
      if (i % 2 === 0) return { type: 'STATE_DELTA', delta: i % 4 === 0 ? [] : [{ op: 'replace', path: '/a/1', value: 0 }] }
      return { type: 'STATE_DELTA', delta: [{ op: 'replace', path: '/a/0', value: i }] }
    },
  }))
  const step = aguiStep({ url: agent.url, headers: {}, requestTimeoutMs: 10_000 }, silentLogger).create({})
  made = await testServer({ step, store: new MemoryStore({ maxSessionBytes: budget }) })
  const api = publishApi(made.base)
  const id = ((await (await api.post('/api/sessions')).json()) as { id: string }).id
  expect((await api.post(`/api/sessions/${id}/messages`, { text: 'go' })).status).toBe(202)
  await made.deps.runner.settled(id)
  const log: StoredEvent[] = []
  for (let after = 0; ; ) {
    const page = (await (await fetch(`${made.base}/api/sessions/${id}/events?after=${after}&limit=1000`)).json()) as StoredEvent[]
    if (page.length === 0) break
    log.push(...page)
    after = page.at(-1)!.seq
  }
  expect(log.at(-1)).toMatchObject({ type: 'error', error: expect.stringContaining('This chat is full') })
  const states = log.flatMap((e) => (e.type === 'agent-state' ? [(e.state as { a: number[] }).a[0]] : []))
  // Each stored state differs from the one before: no delta that changed nothing was stored.
  expect(new Set(states).size).toBe(states.length)
  expect(states.length).toBeLessThanOrEqual(Math.ceil(budget / JSON.stringify(state).length))
  // Megabytes of states parsed, patched and measured: 1 s on a quiet machine, over Bun's 5 s beside two CPU burners.
}, 60_000)
