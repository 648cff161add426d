import { afterAll, describe, expect, test } from 'bun:test'
import type { StoredEvent } from '../../src/events.ts'
import { SqliteStore } from '../../src/store/sqlite-store.ts'
import { publishApi } from '../helpers/publish-api.ts'
import { slowTests } from '../helpers/slow-tests.ts'
import { spawnServer } from '../helpers/spawn-server.ts'
import { testServer } from '../helpers/test-app.ts'
import { tempDir } from './helpers.ts'

/**
 * A producer's retry after the server restarted on the same SQLite file is answered as the duplicate it is, with the
 * answer the first request got, and stores nothing: the producer's state was committed with its events.
 */

slowTests()

const tmp = tempDir()
afterAll(tmp.remove)

const seq = (producer: string, n: number) => ({ 'producer-id': producer, 'producer-seq': String(n) })
const partials = (log: StoredEvent[]) => log.filter((e) => e.type === 'partial').length

describe('producer state on SQLite', () => {
  test('closed and reopened: a retry of an applied request is a duplicate with the same answer and stores nothing', async () => {
    const path = tmp.file()
    const first = await testServer({ store: new SqliteStore(path) })
    let api = publishApi(first.base)
    const p = await api.publisher()
    const run = await api.openRun(p)
    const events = [
      { type: 'partial', delta: 'stored ' },
      { type: 'partial', delta: 'once' },
    ]
    const answered = await api.append(p, run, events, { headers: seq('agent', 0) })
    expect(answered.status).toBe(200)
    const answer = await answered.json()
    expect(answer).toEqual({ run_id: run, appended: 2, closed: false })
    await first.close()

    const second = await testServer({ store: new SqliteStore(path) })
    try {
      api = publishApi(second.base)
      const before = await api.events(p.id)
      const retried = await api.append(p, run, events, { headers: seq('agent', 0) })
      expect(retried.status).toBe(200)
      expect(await retried.json()).toEqual(answer)
      expect(await api.events(p.id)).toEqual(before)
      expect(partials(before)).toBe(2)
    } finally {
      await second.close()
    }
  })

  test('SIGKILLed right after answering: the restarted server answers the retry as a duplicate and stores nothing', async () => {
    const path = tmp.file()
    const args = ['--store', `sqlite:${path}`, '--log-level', 'info']
    const killed = await spawnServer([process.execPath, 'src/main.ts'], { args })
    let api = publishApi(killed.base)
    const p = await api.publisher()
    const run = await api.openRun(p)
    const answered = await api.append(p, run, [{ type: 'partial', delta: 'before the crash' }], { headers: seq('agent', 0) })
    expect(answered.status).toBe(200)
    const answer = await answered.json()
    // A request that stored no event keeps its state too (written alone).
    const empty = await api.append(p, run, [], { headers: seq('idle', 0) })
    expect(await empty.json()).toEqual({ run_id: run, appended: 0, closed: false })
    killed.proc.kill('SIGKILL')
    await killed.proc.exited

    const restarted = await spawnServer([process.execPath, 'src/main.ts'], { args })
    try {
      api = publishApi(restarted.base)
      // Recovery closed the cut run with an interrupt before the server listened.
      const before = await api.events(p.id)
      expect(before.at(-1)).toMatchObject({ type: 'interrupt', step_id: run })
      const retried = await api.append(p, run, [{ type: 'partial', delta: 'before the crash' }], { headers: seq('agent', 0) })
      expect(retried.status).toBe(200)
      expect(await retried.json()).toEqual(answer)
      const idle = await api.append(p, run, [], { headers: seq('idle', 0) })
      expect(await idle.json()).toEqual({ run_id: run, appended: 0, closed: false })
      expect(await api.events(p.id)).toEqual(before)
    } finally {
      await restarted.stop()
    }
  })

  test('SIGKILLed in the middle of a streamed request: its retry is refused as unfinished, with what was stored, and stores nothing', async () => {
    const path = tmp.file()
    const args = ['--store', `sqlite:${path}`, '--log-level', 'info']
    const killed = await spawnServer([process.execPath, 'src/main.ts'], { args })
    let api = publishApi(killed.base)
    const p = await api.publisher()
    const run = await api.openRun(p)
    const line = (delta: string) => new TextEncoder().encode(`${JSON.stringify({ type: 'partial', delta })}\n`)
    let push!: (bytes: Uint8Array) => void
    const body = new ReadableStream<Uint8Array>({
      start(controller) {
        push = (bytes) => controller.enqueue(bytes)
      },
    })
    const cut = fetch(`${killed.base}/api/sessions/${p.id}/runs/${run}/events`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-ndjson', ...seq('agent', 0), ...api.bearer(p) },
      body,
      duplex: 'half',
    } as RequestInit).catch(() => undefined)
    push(line('one'))
    push(line('two'))
    await api.until(p.id, (log) => partials(log) === 2)
    killed.proc.kill('SIGKILL')
    await killed.proc.exited
    await cut

    const restarted = await spawnServer([process.execPath, 'src/main.ts'], { args })
    try {
      api = publishApi(restarted.base)
      const before = await api.events(p.id)
      const retried = await api.append(p, run, [{ type: 'partial', delta: 'one' }], { headers: seq('agent', 0) })
      expect(retried.status).toBe(409)
      expect(await retried.json()).toMatchObject({
        error: { code: 'PRODUCER_REQUEST_UNFINISHED', message: expect.stringContaining('stopped after 2 of its events were stored') },
      })
      expect(await api.events(p.id)).toEqual(before)
    } finally {
      await restarted.stop()
    }
  })
})
