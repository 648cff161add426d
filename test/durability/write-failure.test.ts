import { afterAll, describe, expect, test } from 'bun:test'
import { newId } from '../../src/session-id.ts'
import type { Step, StepContext } from '../../src/steps/step.ts'
import { readAll } from '../../src/store/read-all.ts'
import { SqliteStore } from '../../src/store/sqlite-store.ts'
import { runnerFor, testApp, url } from '../helpers/test-app.ts'
import { fillDiskAfter, storeWithHandle, tempDir, typesOf } from './helpers.ts'

const tmp = tempDir()
afterAll(tmp.remove)

/** A step that streams `before`, waits for the test to let it go on, then streams `after` and finishes. */
function gatedStep(before: string, after: string) {
  let release!: () => void
  const gate = new Promise<void>((resolve) => (release = resolve))
  let reached!: () => void
  const waiting = new Promise<void>((resolve) => (reached = resolve))
  const step: Step = {
    type: 'gated',
    async run(_input, { emit }: StepContext) {
      await emit({ type: 'start', step_type: 'gated' })
      await emit({ type: 'partial', delta: before })
      reached()
      await gate
      await emit({ type: 'partial', delta: after })
      await emit({ type: 'final', text: before + after })
    },
  }
  return { step, waiting, release }
}

describe('a write that fails during a run', () => {
  test('ends the run with an error event, stored if it still fits, saying why', async () => {
    const { store, db } = storeWithHandle(tmp.file())
    const { step, waiting, release } = gatedStep('so far', 'x'.repeat(900_000))
    const runner = runnerFor(store, step)
    const id = newId()
    const session = await store.createSession(id, { name: step.type })
    await runner.submit(session, 'go')
    await waiting
    // Room for a small event, not for a 900 kB one.
    fillDiskAfter(db(), 8)
    release()
    await runner.settled(id)
    const log = await readAll(store, id)
    expect(typesOf(log)).toEqual(['user', 'start', 'partial', 'error'])
    expect(log.at(-1)).toMatchObject({ type: 'error', error: expect.stringMatching(/could not save this because its disk is full/) })
    await store.close()
  })

  test('that cannot even store its error is left open, and recovery closes it with what was saved at the next start', async () => {
    const path = tmp.file()
    const { store, db } = storeWithHandle(path)
    const { step, waiting, release } = gatedStep('kept', 'lost')
    const runner = runnerFor(store, step)
    const id = newId()
    const session = await store.createSession(id, { name: step.type })
    await runner.submit(session, 'go')
    await waiting
    db().exec('PRAGMA query_only = ON')
    release()
    await runner.settled(id)
    expect(await runner.running(id)).toBeUndefined()
    expect(typesOf(await readAll(store, id))).toEqual(['user', 'start', 'partial'])
    await store.close()

    const restarted = new SqliteStore(path)
    await restarted.recoverOpenRuns()
    expect((await readAll(restarted, id)).at(-1)).toMatchObject({ type: 'interrupt', text: 'kept', seq: 4 })
    await restarted.close()
  })
})

describe('the server while its database refuses writes', () => {
  test('answers 503 with a sentence on new work, keeps serving what it has, and recovers when writes work again', async () => {
    const { store, db } = storeWithHandle(tmp.file())
    const { app, deps } = await testApp({ store })
    const call = (method: string, path: string, body?: unknown) =>
      app.handle(
        new Request(
          url(path),
          body === undefined ? { method } : { method, headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) },
        ),
      )
    const { id } = (await (await call('POST', '/api/sessions')).json()) as { id: string }
    expect((await call('POST', `/api/sessions/${id}/messages`, { text: 'hi' })).status).toBe(202)
    await deps.runner.settled(id)
    const saved = await (await call('GET', `/api/sessions/${id}/events`)).json()

    db().exec('PRAGMA query_only = ON')
    for (const refused of [await call('POST', `/api/sessions/${id}/messages`, { text: 'again' }), await call('POST', '/api/sessions')]) {
      expect(refused.status).toBe(503)
      const { error } = (await refused.json()) as { error: { code: string; message: string } }
      expect(error.code).toBe('STORE_UNAVAILABLE')
      expect(error.message).toMatch(/^The server could not save this because its database has become read-only\. .*try again later\.$/)
    }
    expect(await (await call('GET', `/api/sessions/${id}/events`)).json()).toEqual(saved)
    expect(await (await call('GET', `/api/sessions/${id}`)).json()).toMatchObject({ running: false, last_seq: saved.length })
    expect((await call('GET', `/?client_id=${id}`)).status).toBe(200)
    expect((await call('GET', '/healthz')).status).toBe(200)

    db().exec('PRAGMA query_only = OFF')
    expect((await call('POST', `/api/sessions/${id}/messages`, { text: 'again' })).status).toBe(202)
    await deps.runner.settled(id)
    const after = (await (await call('GET', `/api/sessions/${id}/events`)).json()) as { seq: number }[]
    expect(after.map((e) => e.seq)).toEqual(after.map((_, i) => i + 1))
    await store.close()
  })
})
