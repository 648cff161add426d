import { describe, expect, test } from 'bun:test'
import type { StepEvent, StoredEvent } from '../../src/events.ts'
import { silentLogger } from '../../src/log.ts'
import { Runner } from '../../src/runs/runner.ts'
import { newId } from '../../src/session-id.ts'
import { EchoStep } from '../../src/steps/echo-step.ts'
import type { Conversation, Step, StepContext } from '../../src/steps/step.ts'
import { MemoryStore } from '../../src/store/memory-store.ts'

async function setup(step: Step) {
  const store = new MemoryStore()
  const runner = new Runner(store, step, silentLogger)
  const id = newId()
  await store.createSession(id)
  const events = () => store.read(id, 0)
  return { store, runner, id, events }
}

const types = (events: StoredEvent[]) => events.map((e) => e.type)

/** A step that plays a script, for the runner's guarantees. */
const scripted = (run: (input: Conversation, ctx: StepContext) => Promise<void>): Step => ({ type: 'scripted', run })

describe('echo step', () => {
  test('echoes the last user message code point by code point, start first, final with the whole text', async () => {
    const { runner, id, events } = await setup(new EchoStep(0))
    await runner.submit(id, 'a😀é')
    await runner.settled(id)
    const log = await events()
    expect(types(log)).toEqual(['user', 'start', 'partial', 'partial', 'partial', 'final'])
    expect(log.filter((e) => e.type === 'partial').map((e) => (e.type === 'partial' ? e.delta : ''))).toEqual(['a', '😀', 'é'])
    expect(log.at(-1)).toMatchObject({ type: 'final', text: 'a😀é' })
    expect(log[1]).toMatchObject({ type: 'start', step_type: 'echo' })
    expect(new Set(log.map((e) => e.step_id)).size).toBe(1)
  })

  test('answers the last user message of the conversation, not the first', async () => {
    const { runner, id, events } = await setup(new EchoStep(0))
    await runner.submit(id, 'first')
    await runner.settled(id)
    await runner.submit(id, 'second')
    await runner.settled(id)
    expect((await events()).at(-1)).toMatchObject({ type: 'final', text: 'second' })
  })

  test('on cancel, interrupt holds exactly what was streamed', async () => {
    const { runner, id, events } = await setup(new EchoStep(5))
    await runner.submit(id, 'abcdefghijklmnopqrstuvwxyz')
    await Bun.sleep(30)
    runner.cancel(id)
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
    const { store, runner, id } = await setup(new EchoStep(5))
    await runner.submit(id, 'hello')
    await expect(runner.submit(id, 'again')).rejects.toMatchObject({ code: 'RUN_ACTIVE', status: 409 })
    const other = newId()
    await store.createSession(other)
    await runner.submit(other, 'in parallel')
    expect(runner.activeCount).toBe(2)
    await runner.shutdown()
    expect(runner.activeCount).toBe(0)
  })

  test('two messages racing for one session: exactly one starts a run', async () => {
    const { runner, id, events } = await setup(new EchoStep(0))
    const results = await Promise.allSettled([runner.submit(id, 'a'), runner.submit(id, 'b')])
    expect(results.filter((r) => r.status === 'fulfilled').length).toBe(1)
    await runner.settled(id)
    expect(types(await events()).filter((t) => t === 'user').length).toBe(1)
  })

  test('cancel when idle is NO_ACTIVE_RUN', async () => {
    const { runner, id } = await setup(new EchoStep(0))
    expect(() => runner.cancel(id)).toThrow(expect.objectContaining({ code: 'NO_ACTIVE_RUN', status: 409 }))
  })

  test('a step that throws ends its run with an error event a user can read', async () => {
    const { runner, id, events } = await setup(
      scripted(async (_input, { emit }) => {
        await emit({ type: 'start', step_type: 'scripted' })
        throw new Error('secret internal detail at /srv/app.ts:12')
      }),
    )
    await runner.submit(id, 'x')
    await runner.settled(id)
    const last = (await events()).at(-1)!
    expect(last.type).toBe('error')
    expect(last.type === 'error' && last.error).not.toContain('secret')
  })

  test('a step that returns without a closing event gets an error; one that ignores cancel gets an interrupt', async () => {
    const quiet = await setup(scripted(async (_input, { emit }) => emit({ type: 'start', step_type: 'scripted' })))
    await quiet.runner.submit(quiet.id, 'x')
    await quiet.runner.settled(quiet.id)
    expect(types(await quiet.events())).toEqual(['user', 'start', 'error'])

    const stubborn = await setup(
      scripted(async (_input, { emit, signal }) => {
        await emit({ type: 'start', step_type: 'scripted' })
        await emit({ type: 'partial', delta: 'par' })
        while (!signal.aborted) await Bun.sleep(2)
        await emit({ type: 'partial', delta: 'tial' } as StepEvent)
      }),
    )
    await stubborn.runner.submit(stubborn.id, 'x')
    await Bun.sleep(10)
    stubborn.runner.cancel(stubborn.id)
    await stubborn.runner.settled(stubborn.id)
    expect((await stubborn.events()).at(-1)).toMatchObject({ type: 'interrupt', text: 'partial' })
  })

  test('events emitted after the run ended are refused, so a run has exactly one closing event', async () => {
    const { runner, id, events } = await setup(
      scripted(async (_input, { emit }) => {
        await emit({ type: 'final', text: 'done' })
        await emit({ type: 'partial', delta: 'late' })
      }),
    )
    await runner.submit(id, 'x')
    await runner.settled(id)
    expect(types(await events())).toEqual(['user', 'final'])
  })
})
