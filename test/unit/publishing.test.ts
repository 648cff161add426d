import { describe, expect, test } from 'bun:test'
import { createServer } from '../../src/create-server.ts'
import { AppError } from '../../src/errors.ts'
import { PUBLISHED_STEP, refuseMessages } from '../../src/publish/published-session.ts'
import { Publishing } from '../../src/publish/publishing.ts'
import { Runner } from '../../src/runs/runner.ts'
import { newId } from '../../src/session-id.ts'
import { echoStep } from '../../src/steps/echo-step.ts'
import { StepRegistry } from '../../src/steps/step-registry.ts'
import { silentLogger } from '../../src/log.ts'
import { MemoryStore } from '../../src/store/memory-store.ts'
import { until } from '../helpers/wait.ts'

async function setup(endedKept?: number) {
  const store = new MemoryStore()
  const runner = new Runner({ store, steps: new StepRegistry([echoStep(0)]), log: silentLogger })
  const publishing = new Publishing({ store, runner, timeoutMs: 60_000, endedKept })
  const session = await store.createSession(newId(), { name: PUBLISHED_STEP })
  const append = (runId: string, json: unknown) => publishing.append(session, runId, { json }, 'stepstream')
  return { store, runner, publishing, session, append }
}

/** The code `append` refuses with, or 'ok'. */
const outcome = (appended: Promise<unknown>) =>
  appended.then(
    () => 'ok',
    (error: unknown) => (error instanceof AppError ? error.code : String(error)),
  )

/** Waits until `check` gives `want` (the run's end reaches Publishing after the runner's); fails with what it last gave. */
async function becomes(check: () => Promise<string>, want: string): Promise<void> {
  let got: string | undefined
  const given = async () => {
    got = await check()
    return got === want
  }
  await until(given, { what: `an append refused with ${want}`, describe: () => got })
}

describe('publishing (src/publish/publishing.ts), through the runner’s step API', () => {
  test('a published run is a run of the runner: its events reach the log after a start, and the runner holds the session', async () => {
    const { store, runner, publishing, session, append } = await setup()
    const runId = await publishing.openRun(session)
    expect(await runner.running(session.id)).toBe(runId)
    expect(await append(runId, [{ type: 'partial', delta: 'hi' }])).toEqual({ run_id: runId, appended: 1, closed: false })
    expect(await append(runId, [{ type: 'final', text: 'hi' }])).toEqual({ run_id: runId, appended: 1, closed: true })
    await runner.settled(session.id)
    const log = await store.read(session.id, 0)
    expect(log.map((event) => event.type)).toEqual(['start', 'partial', 'final'])
    expect(new Set(log.map((event) => event.step_id))).toEqual(new Set([runId]))
  })

  test('a late append hears why the run ended, cancelled or closed; an unknown run is not found', async () => {
    const { runner, publishing, session, append } = await setup()
    const closed = await publishing.openRun(session)
    await append(closed, [{ type: 'final', text: '' }])
    await runner.settled(session.id)
    await becomes(() => outcome(append(closed, [])), 'RUN_CLOSED')
    const cancelled = await publishing.openRun(session)
    await runner.cancel(session.id)
    await runner.settled(session.id)
    await becomes(() => outcome(append(cancelled, [])), 'RUN_CANCELLED')
    expect(await outcome(append(newId(), []))).toBe('NOT_FOUND')
  })

  test('ended runs are remembered up to the bound, the oldest forgotten first', async () => {
    const { runner, publishing, session, append } = await setup(1)
    const first = await publishing.openRun(session)
    await append(first, [{ type: 'final', text: '' }])
    await runner.settled(session.id)
    await becomes(() => outcome(append(first, [])), 'RUN_CLOSED')
    const second = await publishing.openRun(session)
    await append(second, [{ type: 'final', text: '' }])
    await runner.settled(session.id)
    await becomes(() => outcome(append(second, [])), 'RUN_CLOSED')
    expect(await outcome(append(first, []))).toBe('NOT_FOUND')
  })

  test('a body that is not an array of events is refused before anything is stored', async () => {
    const { publishing, session, append } = await setup()
    const runId = await publishing.openRun(session)
    expect(await outcome(append(runId, { type: 'final', text: '' }))).toBe('BAD_REQUEST')
  })

  test('a published session takes no messages; a session of a step does', async () => {
    const { session } = await setup()
    expect(() => refuseMessages(session)).toThrow(expect.objectContaining({ code: 'PUBLISHED_SESSION' }))
    expect(() => refuseMessages({ ...session, step: { name: 'echo' } })).not.toThrow()
  })
})

describe('one Publishing per server', () => {
  test('createServer builds its own: a run opened through one app is unknown to another over the same store', async () => {
    const store = new MemoryStore()
    const [a, b] = [await createServer({ store, log: silentLogger }), await createServer({ store, log: silentLogger })]
    try {
      expect(a.deps.publishing).not.toBe(b.deps.publishing)
      const { session } = await a.deps.publishing.createSession()
      const runId = await a.deps.publishing.openRun(session)
      const append = (publishing: Publishing) =>
        outcome(publishing.append(session, runId, { json: [{ type: 'partial', delta: 'x' }] }, 'stepstream'))
      expect(await append(b.deps.publishing)).toBe('NOT_FOUND')
      expect(await append(a.deps.publishing)).toBe('ok')
    } finally {
      await a.stop()
      await b.stop()
    }
  })
})
