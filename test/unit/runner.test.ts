import { isClosing } from '../../src/events.ts'
import { describe, expect, test } from 'bun:test'
import type { StepEvent, StoredEvent } from '../../src/events.ts'
import { EVENT_TEXT_MAX_CHARS } from '../../src/limits.ts'
import { newId } from '../../src/session-id.ts'
import { echoStep } from '../../src/steps/echo-step.ts'
import type { Conversation, Step, StepContext } from '../../src/steps/step.ts'
import { MemoryStore } from '../../src/store/memory-store.ts'
import { runnerFor } from '../helpers/test-app.ts'
import { until } from '../helpers/wait.ts'

async function setup(step: Step, options: { cancelGraceMs?: number } = {}) {
  const store = new MemoryStore()
  const runner = runnerFor(store, step, options)
  const newSession = async () => store.createSession(newId(), { name: step.type })
  const session = await newSession()
  const id = session.id
  const events = () => store.read(id, 0)
  const submit = (text: string) => runner.submit(session, text)
  return { store, runner, id, session, events, submit, newSession }
}

const types = (events: StoredEvent[]) => events.map((e) => e.type)

/** The echo step as the registry would make it for one session. */
const echo = (delayMs: number) => echoStep(delayMs).create({})

/** A step that plays a script, for the runner's guarantees. */
const scripted = (run: (input: Conversation, ctx: StepContext) => Promise<void>): Step => ({ type: 'scripted', run })

/** A promise that never settles: a step stuck on an upstream that never answers. */
const forever = () => new Promise<never>(() => {})

describe('echo step', () => {
  test('echoes the last user message code point by code point, start first, final with the whole text', async () => {
    const { runner, id, events, submit } = await setup(echo(0))
    await submit('a😀é')
    await runner.settled(id)
    const log = await events()
    expect(types(log)).toEqual(['user', 'start', 'partial', 'partial', 'partial', 'final'])
    expect(log.filter((e) => e.type === 'partial').map((e) => (e.type === 'partial' ? e.delta : ''))).toEqual(['a', '😀', 'é'])
    expect(log.at(-1)).toMatchObject({ type: 'final', text: 'a😀é' })
    expect(log[1]).toMatchObject({ type: 'start', step_type: 'echo' })
    expect(new Set(log.map((e) => e.step_id)).size).toBe(1)
  })

  test('keeps its own timetable, as a model does: a slow store delays tokens until they are due, not by its latency each', async () => {
    // A clock the test moves: every append takes as long as the echo's delay (60 ms), so on its timetable each next
    // token is due by the time the last one is stored; sleeping the delay after each append would ask for 60 ms more.
    let now = 0
    const slept: number[] = []
    const clock = {
      now: () => now,
      sleep: async (ms: number) => {
        slept.push(ms)
        now += ms
      },
    }
    class SlowStore extends MemoryStore {
      override async append(...args: Parameters<MemoryStore['append']>) {
        now += 60
        return super.append(...args)
      }
    }
    const store = new SlowStore()
    const runner = runnerFor(store, echoStep(60, clock).create({}))
    const session = await store.createSession(newId(), { name: 'echo' })
    await runner.submit(session, 'abcdefghij')
    await runner.settled(session.id)
    expect((await store.read(session.id, 0)).at(-1)).toMatchObject({ type: 'final', text: 'abcdefghij' })
    expect(slept).toEqual(Array.from({ length: 9 }, () => 0))
  })

  test('answers the last user message of the conversation, not the first', async () => {
    const { runner, id, events, submit } = await setup(echo(0))
    await submit('first')
    await runner.settled(id)
    await submit('second')
    await runner.settled(id)
    expect((await events()).at(-1)).toMatchObject({ type: 'final', text: 'second' })
  })

  test('on cancel, interrupt holds exactly what was streamed', async () => {
    // A minute between characters: the cancel comes after the first, whatever the load.
    const { runner, id, events, submit } = await setup(echo(60_000))
    await submit('abcdefghijklmnopqrstuvwxyz')
    await until(async () => (await events()).some((e) => e.type === 'partial'), { what: 'the first character', everyMs: 2 })
    await runner.cancel(id)
    await runner.settled(id)
    const log = await events()
    const streamed = log.flatMap((e) => (e.type === 'partial' ? [e.delta] : [])).join('')
    expect(log.at(-1)).toMatchObject({ type: 'interrupt', text: streamed })
    expect(streamed.length).toBeGreaterThan(0)
    expect(streamed.length).toBeLessThan(26)
  })
})

describe('runner', () => {
  test('one run at a time per session; other sessions are free', async () => {
    const { runner, submit, newSession } = await setup(echo(5))
    await submit('hello')
    await expect(submit('again')).rejects.toMatchObject({ code: 'RUN_ACTIVE', status: 409 })
    await runner.submit(await newSession(), 'in parallel')
    expect(runner.activeCount).toBe(2)
    await runner.shutdown()
    expect(runner.activeCount).toBe(0)
  })

  test('two messages racing for one session: exactly one starts a run', async () => {
    const { runner, id, events, submit } = await setup(echo(0))
    const results = await Promise.allSettled([submit('a'), submit('b')])
    expect(results.filter((r) => r.status === 'fulfilled').length).toBe(1)
    await runner.settled(id)
    expect(types(await events()).filter((t) => t === 'user').length).toBe(1)
  })

  test('cancel when idle is NO_ACTIVE_RUN', async () => {
    const { runner, id } = await setup(echo(0))
    await expect(runner.cancel(id)).rejects.toMatchObject({ code: 'NO_ACTIVE_RUN', status: 409 })
  })

  test('a session whose step this server lacks is refused with UNKNOWN_STEP before anything is stored', async () => {
    const { runner, store, events } = await setup(echo(0))
    const other = await store.createSession(newId(), { name: 'retired-step' })
    await expect(runner.submit(other, 'x')).rejects.toMatchObject({ code: 'UNKNOWN_STEP', status: 422 })
    expect(await store.read(other.id, 0)).toEqual([])
    expect(await events()).toEqual([])
  })

  test('a step that throws ends its run with an error event a user can read', async () => {
    const { runner, id, events, submit } = await setup(
      scripted(async (_input, { emit }) => {
        await emit({ type: 'start', step_type: 'scripted' })
        // Shaped like an HTTP client's error, `status` and all: still not ours to show.
        throw Object.assign(new Error('401 Incorrect API key sk-secret at /srv/app.ts:12'), { status: 401 })
      }),
    )
    await submit('x')
    await runner.settled(id)
    const last = (await events()).at(-1)!
    expect(last.type).toBe('error')
    expect(last.type === 'error' && last.error).not.toContain('secret')
  })

  test('a step that returns without a closing event gets an error', async () => {
    const { runner, id, events, submit } = await setup(scripted(async (_input, { emit }) => emit({ type: 'start', step_type: 'scripted' })))
    await submit('x')
    await runner.settled(id)
    expect(types(await events())).toEqual(['user', 'start', 'error'])
  })

  test('a step that emits its final without awaiting and returns gets that final and nothing more', async () => {
    const { runner, id, events, submit } = await setup(
      scripted(async (_input, { emit }) => {
        void emit({ type: 'start', step_type: 'scripted' })
        void emit({ type: 'final', text: 'done' })
      }),
    )
    await submit('x')
    await runner.settled(id)
    expect(types(await events())).toEqual(['user', 'start', 'final'])
  })

  test('closing events emitted together: the first one closes the run and the rest are refused', async () => {
    let outcomes: PromiseSettledResult<void>[] = []
    const { runner, id, events, submit } = await setup(
      scripted(async (_input, { emit }) => {
        outcomes = await Promise.allSettled([
          emit({ type: 'final', text: 'done' }),
          emit({ type: 'partial', delta: 'late' }),
          emit({ type: 'interrupt', text: 'late' }),
        ])
      }),
    )
    await submit('x')
    await runner.settled(id)
    expect(types(await events())).toEqual(['user', 'final'])
    expect(outcomes.map((o) => o.status)).toEqual(['fulfilled', 'rejected', 'rejected'])
    expect((outcomes[1] as PromiseRejectedResult).reason).toMatchObject({ code: 'RUN_ENDED' })
  })

  test('events emitted after the run ended are refused, without an unhandled rejection when not awaited', async () => {
    const { runner, id, events, submit } = await setup(
      scripted(async (_input, { emit }) => {
        await emit({ type: 'final', text: 'done' })
        void emit({ type: 'partial', delta: 'late, not awaited' })
        await emit({ type: 'partial', delta: 'late' }).catch(() => {})
      }),
    )
    await submit('x')
    await runner.settled(id)
    // Bun fails the test run on an unhandled rejection; give one a turn of the event loop to surface.
    await new Promise((resolve) => setImmediate(resolve))
    expect(types(await events())).toEqual(['user', 'final'])
  })

  test('a closing event the store refuses is replaced by the runner, so the run still ends once', async () => {
    const { runner, id, events, submit } = await setup(
      scripted(async (_input, { emit }) => {
        await emit({ type: 'partial', delta: 'ok' })
        await emit({ type: 'final', text: 'x'.repeat(EVENT_TEXT_MAX_CHARS + 1) }).catch(() => {})
      }),
    )
    await submit('x')
    await runner.settled(id)
    expect(types(await events())).toEqual(['user', 'partial', 'error'])
  })

  test('a run whose closing event never got stored is closed with its streamed text before the next run opens', async () => {
    const { store, runner, id, events, submit } = await setup(echo(0))
    // What a run leaves when its closing event and the runner's error could not be stored (a full disk, a lost Redis).
    const ts = new Date().toISOString()
    await store.append(id, { type: 'user', step_id: 'lost', ts, text: 'q' })
    await store.append(id, { type: 'start', step_id: 'lost', ts, step_type: 'echo' })
    await store.append(id, { type: 'partial', step_id: 'lost', ts, delta: 'half an ans' })
    const runId = await submit('next')
    await runner.settled(id)
    const log = await events()
    expect(log.filter((e) => e.step_id === 'lost').map((e) => e.type)).toEqual(['user', 'start', 'partial', 'interrupt'])
    expect(log.find((e) => e.type === 'interrupt')).toMatchObject({ step_id: 'lost', text: 'half an ans' })
    expect(log.findIndex((e) => e.type === 'interrupt')).toBeLessThan(log.findIndex((e) => e.step_id === runId))
    expect(log.at(-1)).toMatchObject({ type: 'final', step_id: runId, text: 'next' })
    // The new run is the log's open run while it goes, and nothing is open once it ended: a restart recovers nothing.
    expect(await store.recoverOpenRuns()).toEqual([])
  })

  test('a step that ignores its signal and never returns: after the grace the runner interrupts it and frees the session', async () => {
    let lateEmit: ((event: StepEvent) => Promise<void>) | undefined
    const { runner, id, events, submit } = await setup(
      scripted(async (_input, { emit }) => {
        lateEmit = emit
        await emit({ type: 'start', step_type: 'scripted' })
        await emit({ type: 'partial', delta: 'par' })
        await emit({ type: 'partial', delta: 'tial' })
        await forever()
      }),
      { cancelGraceMs: 50 },
    )
    await submit('x')
    await until(async () => (await events()).length >= 4, { what: 'the stuck step’s partials', everyMs: 2 })
    const cancelledAt = performance.now()
    await runner.cancel(id)
    await runner.settled(id)
    expect(performance.now() - cancelledAt).toBeGreaterThanOrEqual(45)
    expect(types(await events())).toEqual(['user', 'start', 'partial', 'partial', 'interrupt'])
    expect((await events()).at(-1)).toMatchObject({ type: 'interrupt', text: 'partial' })
    expect(await runner.running(id)).toBeUndefined()
    // Whatever the stuck step emits later is dropped.
    await expect(lateEmit!({ type: 'partial', delta: 'zombie' })).rejects.toMatchObject({ code: 'RUN_ENDED' })
    expect((await events()).length).toBe(5)
  })

  test('a step that throws on its way out of a cancel is interrupted, not failed', async () => {
    const { runner, id, events, submit } = await setup(
      scripted(async (_input, { emit, signal }) => {
        await emit({ type: 'partial', delta: 'so far' })
        await new Promise((resolve) => signal.addEventListener('abort', resolve))
        throw new Error('AbortError: the request was aborted')
      }),
    )
    await submit('x')
    await until(async () => (await events()).length >= 2, { what: 'the step’s partial', everyMs: 2 })
    await runner.cancel(id)
    await runner.settled(id)
    expect((await events()).at(-1)).toMatchObject({ type: 'interrupt', text: 'so far' })
  })

  test('shutdown refuses new messages with 503 and closes a run whose step never returns within the grace', async () => {
    const { runner, events, submit, newSession } = await setup(
      scripted(async (_input, { emit }) => {
        await emit({ type: 'start', step_type: 'scripted' })
        await forever()
      }),
      { cancelGraceMs: 50 },
    )
    await submit('x')
    await until(async () => (await events()).length >= 2, { what: 'the step’s start', everyMs: 2 })
    const stopping = runner.shutdown()
    expect(runner.draining).toBe(true)
    await expect(runner.submit(await newSession(), 'late')).rejects.toMatchObject({ code: 'SHUTTING_DOWN', status: 503 })
    await stopping
    expect(types(await events())).toEqual(['user', 'start', 'interrupt'])
    expect(runner.activeCount).toBe(0)
  })

  test('cancelled before its step began (while the message was stored): interrupted, and the step never runs', async () => {
    let ran = false
    const { runner, id, events, submit } = await setup(
      scripted(async () => {
        ran = true
      }),
    )
    const submitted = submit('x')
    await runner.cancel(id)
    await submitted
    await runner.settled(id)
    expect(types(await events())).toEqual(['user', 'interrupt'])
    expect(ran).toBe(false)
  })

  test('the interrupt the runner writes holds every partial stored before it, also ones emitted without awaiting', async () => {
    const { runner, id, events, submit } = await setup(
      scripted(async (_input, { emit, signal }) => {
        await emit({ type: 'partial', delta: 'early ' })
        await new Promise((resolve) => signal.addEventListener('abort', resolve))
        void emit({ type: 'partial', delta: 'late' })
      }),
    )
    await submit('x')
    await until(async () => (await events()).length >= 2, { what: 'the step’s first partial', everyMs: 2 })
    await runner.cancel(id)
    await runner.settled(id)
    expect((await events()).map((e) => (e.type === 'partial' ? e.delta : e.type === 'interrupt' ? `[${e.text}]` : e.type))).toEqual([
      'user',
      'early ',
      'late',
      '[early late]',
    ])
  })

  test('an answer streamed past the most one answer may hold is refused there, and the run ends with an error saying so', async () => {
    const half = 'x'.repeat(EVENT_TEXT_MAX_CHARS / 2 + 10)
    const { runner, id, events, submit } = await setup(
      scripted(async (_input, { emit, signal }) => {
        await emit({ type: 'partial', delta: half })
        await emit({ type: 'partial', delta: half })
        await new Promise((resolve) => signal.addEventListener('abort', resolve))
      }),
    )
    await submit('x')
    // Left open (the bug), the run is cancelled so the assertions below say what went wrong.
    await until(async () => (await events()).some(isClosing), { what: 'the run to be closed', timeoutMs: 3000, everyMs: 2 }).catch(() =>
      runner.cancel(id),
    )
    await runner.settled(id)
    const stored = await events()
    expect(stored.filter((e) => e.type === 'partial')).toHaveLength(1)
    const last = stored.at(-1)!
    expect(last.type).toBe('error')
    expect(last.type === 'error' && last.error).toContain(EVENT_TEXT_MAX_CHARS.toLocaleString('en'))
  })
})
