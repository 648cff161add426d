import { afterAll, expect, test } from 'bun:test'
import { join } from 'node:path'
import { newId } from '../../src/session-id.ts'
import { readAll } from '../../src/store/read-all.ts'
import type { EventStore } from '../../src/log/event-store.ts'
import type { StepSpec } from '../../src/steps/step.ts'
import { MemoryStore } from '../../src/store/memory-store.ts'
import { SqliteStore } from '../../src/store/sqlite-store.ts'
import { foldTranscript } from '../../src/transcript.ts'
import { appendRun, ev, tempDir, typesOf } from './helpers.ts'
import { ECHO } from '../helpers/echo-spec.ts'

const tmp = tempDir()
afterAll(tmp.remove)

/** A memory store that remembers which sessions were created, in order. */
class RecordingStore extends MemoryStore {
  readonly ids: string[] = []
  override createSession(id: string, step: StepSpec) {
    this.ids.push(id)
    return super.createSession(id, step)
  }
}

/**
 * Builds a database with `build` in a child process and SIGKILLs it once every append has resolved: the file is left
 * exactly as a crash leaves it, committed events still in the journal and nothing closed. `build` writes to a
 * memory store whose log the child replays, so it can use the usual helpers.
 */
async function afterCrash(build: (store: EventStore) => Promise<void>) {
  const path = tmp.file()
  const plan = new RecordingStore()
  await build(plan)
  const sessions = await Promise.all(
    plan.ids.map(async (id) => ({ id, events: (await readAll(plan, id)).map(({ seq: _seq, session_id: _session, ...event }) => event) })),
  )
  const child = Bun.spawn([process.execPath, join(import.meta.dir, 'crash-child.ts'), path], {
    stdin: 'pipe',
    stdout: 'pipe',
    stderr: 'inherit',
  })
  child.stdin.write(JSON.stringify(sessions))
  await child.stdin.end()
  const said = await child.stdout.getReader().read()
  expect(new TextDecoder().decode(said.value)).toBe('committed\n')
  child.kill('SIGKILL')
  expect(await child.exited).toBe(137)
  return new SqliteStore(path)
}

test('a run cut after some partials ends with an interrupt holding exactly what it had streamed', async () => {
  const id = newId()
  let step = ''
  const store = await afterCrash(async (s) => {
    await s.createSession(id, ECHO)
    step = await appendRun(s, id, 'a😀 b', 'open')
  })
  const recovered = await store.recoverOpenRuns()
  expect(recovered).toEqual([{ sessionId: id, stepId: step, seq: 7 }])
  const log = await readAll(store, id)
  expect(typesOf(log)).toEqual(['user', 'start', 'partial', 'partial', 'partial', 'partial', 'interrupt'])
  expect(log.at(-1)).toMatchObject({ type: 'interrupt', step_id: step, text: 'a😀 b', seq: 7 })
  expect((await store.append(id, ev.user(newId(), 'next'))).seq).toBe(8)
  await store.close()
})

test('a run cut between its user message and its start ends with an empty interrupt', async () => {
  const id = newId()
  const step = newId()
  const store = await afterCrash(async (s) => {
    await s.createSession(id, ECHO)
    await s.append(id, ev.user(step, 'hello?'))
  })
  await store.recoverOpenRuns()
  expect(await readAll(store, id)).toMatchObject([{ type: 'user' }, { type: 'interrupt', step_id: step, text: '' }])
  const [, run] = foldTranscript(await readAll(store, id)).entries
  expect(run).toMatchObject({ kind: 'run', runId: step, state: 'interrupt', text: '' })
  await store.close()
})

test('runs that ended, with final, interrupt or error, are left alone, and recovering twice changes nothing', async () => {
  const id = newId()
  const store = await afterCrash(async (s) => {
    await s.createSession(id, ECHO)
    await appendRun(s, id, 'one', 'final')
    await appendRun(s, id, 'two', 'interrupt')
    await appendRun(s, id, 'three', 'error')
  })
  const before = await readAll(store, id)
  expect(await store.recoverOpenRuns()).toEqual([])
  expect(await store.recoverOpenRuns()).toEqual([])
  expect(await readAll(store, id)).toEqual(before)
  await store.close()
})

test('every open run of every session is closed, each with its own text, and only once', async () => {
  const [a, b] = [newId(), newId()]
  const steps: string[] = []
  const store = await afterCrash(async (s) => {
    await s.createSession(a, ECHO)
    await s.createSession(b, ECHO)
    // An earlier run of `a` whose closing event failed to store (a full disk), then later runs.
    steps.push(await appendRun(s, a, 'old', 'open'))
    await appendRun(s, a, 'fine', 'final')
    steps.push(await appendRun(s, a, 'cut', 'open'))
    steps.push(await appendRun(s, b, 'other', 'open'))
  })
  const recovered = await store.recoverOpenRuns()
  expect(recovered.map((r) => r.stepId).sort()).toEqual([...steps].sort())
  const interrupts = [...(await readAll(store, a)), ...(await readAll(store, b))].flatMap((e) =>
    e.type === 'interrupt' ? [[e.step_id, e.text]] : [],
  )
  expect(interrupts).toEqual([
    [steps[0]!, 'old'],
    [steps[1]!, 'cut'],
    [steps[2]!, 'other'],
  ])
  expect(await store.recoverOpenRuns()).toEqual([])
  await store.close()
})

test('the interleaved partials of two open runs in one session are not mixed up', async () => {
  const id = newId()
  const store = await afterCrash(async (s) => {
    await s.createSession(id, ECHO)
    await s.append(id, ev.start('r1'))
    await s.append(id, ev.start('r2'))
    for (const [step, delta] of [
      ['r1', 'a'],
      ['r2', 'x'],
      ['r1', 'b'],
      ['r2', 'y'],
    ] as const)
      await s.append(id, ev.partial(step, delta))
  })
  await store.recoverOpenRuns()
  const texts = Object.fromEntries((await readAll(store, id)).flatMap((e) => (e.type === 'interrupt' ? [[e.step_id, e.text]] : [])))
  expect(texts).toEqual({ r1: 'ab', r2: 'xy' })
  await store.close()
})
