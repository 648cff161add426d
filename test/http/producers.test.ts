import { afterEach, describe, expect, test } from 'bun:test'
import { AppError } from '../../src/errors.ts'
import type { NewEvent, StoredEvent } from '../../src/events.ts'
import { MAX_PRODUCERS_PER_SESSION } from '../../src/limits.ts'
import type { EventStore } from '../../src/log/event-store.ts'
import { MemoryStore } from '../../src/store/memory-store.ts'
import { testApp, url } from '../helpers/test-app.ts'
import { until } from '../helpers/wait.ts'
import { slowTests } from '../helpers/slow-tests.ts'

// Megabytes written, read and measured per test: seconds beside two CPU burners, past Bun's 5 s default.
slowTests()

/**
 * Idempotent producers (Producer-Id / Producer-Seq) through app.handle: whose state can push whose out, the bound a
 * session meets, and retries that race or follow a failure. Retries after a restart: test/durability/producers.test.ts
 * (SQLite) and test/e2e/producers-redis.test.ts (Redis).
 */

let made: Awaited<ReturnType<typeof testApp>> | undefined
afterEach(() => made?.close())

async function start(store?: EventStore) {
  made = await testApp({ store })
  const app = made.app
  const post = (path: string, body?: unknown, headers: Record<string, string> = {}) =>
    app.handle(
      new Request(url(path), {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...headers },
        body: body === undefined ? undefined : JSON.stringify(body),
      }),
    )
  const publisher = async () => {
    const { id, publisher_token } = (await (await post('/api/sessions', { publisher: true })).json()) as {
      id: string
      publisher_token: string
    }
    const auth = { authorization: `Bearer ${publisher_token}` }
    const openRun = async () => ((await (await post(`/api/sessions/${id}/runs`, undefined, auth)).json()) as { run_id: string }).run_id
    /** Appends `events` to `run` as request `seq` of `producer`. */
    const append = (run: string, producer: string, seq: number, events: unknown[]) =>
      post(`/api/sessions/${id}/runs/${run}/events`, events, { ...auth, 'producer-id': producer, 'producer-seq': String(seq) })
    const events = async () => (await (await app.handle(new Request(url(`/api/sessions/${id}/events`)))).json()) as StoredEvent[]
    return { id, auth, openRun, append, events }
  }
  return { publisher }
}

const partial = (delta: string) => ({ type: 'partial', delta })
const deltas = (log: StoredEvent[]) => log.flatMap((e) => (e.type === 'partial' ? [e.delta] : []))

describe('producer state', () => {
  test('10,001 producers in one session do not push out another session’s producer: its retry is still a duplicate', async () => {
    const api = await start()
    const [mine, theirs] = [await api.publisher(), await api.publisher()]
    const myRun = await mine.openRun()
    const first = await mine.append(myRun, 'mine', 0, [partial('once')])
    expect(first.status).toBe(200)
    const answer = await first.json()
    const theirRun = await theirs.openRun()
    const statuses = new Map<number, number>()
    for (let i = 0; i <= 10_000; i++) {
      const { status } = await theirs.append(theirRun, `p${i}`, 0, [])
      statuses.set(status, (statuses.get(status) ?? 0) + 1)
    }
    expect(statuses.get(200)).toBe(MAX_PRODUCERS_PER_SESSION)
    const retried = await mine.append(myRun, 'mine', 0, [partial('once')])
    expect(retried.status).toBe(200)
    expect(await retried.json()).toEqual(answer)
    expect(deltas(await mine.events())).toEqual(['once'])
  }, 60_000)

  test('a new producer past the session’s bound is refused with a sentence; those of a closed run make room', async () => {
    const api = await start()
    const p = await api.publisher()
    const run = await p.openRun()
    for (let i = 0; i < MAX_PRODUCERS_PER_SESSION; i++) expect((await p.append(run, `p${i}`, 0, [])).status).toBe(200)
    const refused = await p.append(run, 'one too many', 0, [partial('refused')])
    expect(refused.status).toBe(409)
    expect(await refused.json()).toEqual({
      error: {
        code: 'TOO_MANY_PRODUCERS',
        message: `This run already has ${MAX_PRODUCERS_PER_SESSION} producers, the most a session keeps: send this request under the Producer-Id of one of them, or without Producer-Id and Producer-Seq.`,
      },
    })
    // The producers already there go on.
    expect(await (await p.append(run, 'p0', 1, [{ type: 'final', text: 'done' }])).json()).toMatchObject({ appended: 1, closed: true })
    expect((await p.events()).map((e) => e.type)).toEqual(['start', 'final'])
    // The next run's new producer is taken: the closed run's producers are forgotten to make room for it. A retry of a
    // closed run's request then meets the closed run, which stores nothing.
    const next = await p.openRun()
    expect((await p.append(next, 'new', 0, [partial('next run')])).status).toBe(200)
    const late = await p.append(run, 'p0', 1, [{ type: 'final', text: 'done' }])
    expect(late.status).toBe(409)
    expect(await late.json()).toMatchObject({ error: { code: 'RUN_CLOSED' } })
    expect(deltas(await p.events())).toEqual(['next run'])
  })

  test('a retry sent while its request is still being stored waits for it and gets the same answer, storing nothing', async () => {
    let release!: () => void
    const held = new Promise<void>((resolve) => (release = resolve))
    let reached = false
    let sessionReads = 0
    class HoldingStore extends MemoryStore {
      override getSession(id: string) {
        sessionReads++
        return super.getSession(id)
      }
      override async append(sessionId: string, event: NewEvent) {
        if (event.type === 'partial' && event.delta === 'held') {
          reached = true
          await held
        }
        return super.append(sessionId, event)
      }
    }
    const api = await start(new HoldingStore())
    const p = await api.publisher()
    const run = await p.openRun()
    const events = [partial('held'), partial('after')]
    const first = p.append(run, 'agent', 0, events)
    await until(() => reached, { what: 'the first request to reach the store' })
    const reads = sessionReads
    const retry = p.append(run, 'agent', 0, events)
    // The retry is past its token check (a session read), and then its promises have run out: it is waiting.
    await until(() => sessionReads !== reads, { what: 'the retry to reach the store', everyMs: 1 })
    for (let turn = 0; turn < 3; turn++) await new Promise((resolve) => setImmediate(resolve))
    release()
    const [a, b] = await Promise.all([first, retry])
    expect([a.status, b.status]).toEqual([200, 200])
    const answer = await a.json()
    expect(answer).toEqual({ run_id: run, appended: 2, closed: false })
    expect(await b.json()).toEqual(answer)
    expect(deltas(await p.events())).toEqual(['held', 'after'])
  })

  test('a request cut between two of its events (another process answers the retry) is refused with what was stored, never applied again', async () => {
    let release!: () => void
    const held = new Promise<void>((resolve) => (release = resolve))
    let reached = false
    class HoldingStore extends MemoryStore {
      override async append(sessionId: string, event: NewEvent) {
        if (event.type === 'partial' && event.delta === 'second') {
          reached = true
          await held
        }
        return super.append(sessionId, event)
      }
    }
    const store = new HoldingStore()
    const api = await start(store)
    const p = await api.publisher()
    const run = await p.openRun()
    const events = [partial('first'), partial('second')]
    const cut = p.append(run, 'agent', 0, events)
    await until(() => reached, { what: 'the request to reach its second event' })
    // A second server on the same store: the first one's request is, to it, cut short after its first event.
    const other = await testApp({ store })
    const retryOnOther = () =>
      other.app.handle(
        new Request(url(`/api/sessions/${p.id}/runs/${run}/events`), {
          method: 'POST',
          headers: { 'content-type': 'application/json', ...p.auth, 'producer-id': 'agent', 'producer-seq': '0' },
          body: JSON.stringify(events),
        }),
      )
    // A failed expectation must not leave the first request held.
    try {
      const retry = await retryOnOther()
      expect(retry.status).toBe(409)
      expect(await retry.json()).toEqual({
        error: {
          code: 'PRODUCER_REQUEST_UNFINISHED',
          message:
            'Producer-Seq 0 stopped after 1 of its events were stored (the server restarted, or another instance is still storing it): they stay stored, and the request is not applied again.',
        },
      })
      expect(deltas(await p.events())).toEqual(['first'])
      release()
      expect(await (await cut).json()).toEqual({ run_id: run, appended: 2, closed: false })
      // Once the request has its answer, any process gives that answer.
      const answered = await retryOnOther()
      expect(await answered.json()).toEqual({ run_id: run, appended: 2, closed: false })
      expect(deltas(await p.events())).toEqual(['first', 'second'])
    } finally {
      release()
      await other.close()
    }
  })

  test('a request the store refused whole may be sent again under the same number; one refused part-way gets its refusal again', async () => {
    let refusals = 0
    class FlakyStore extends MemoryStore {
      override append(sessionId: string, event: NewEvent) {
        if (event.type === 'partial' && event.delta.startsWith('flaky') && refusals++ % 2 === 0) {
          return Promise.reject(new AppError('STORE_UNAVAILABLE', 'The server could not save this. Try again later.'))
        }
        return super.append(sessionId, event)
      }
    }
    const api = await start(new FlakyStore())
    const p = await api.publisher()
    const run = await p.openRun()
    expect((await p.append(run, 'agent', 0, [partial('flaky one')])).status).toBe(503)
    const retried = await p.append(run, 'agent', 0, [partial('flaky one')])
    expect(retried.status).toBe(200)
    expect(await retried.json()).toEqual({ run_id: run, appended: 1, closed: false })
    // Stored its first event, then refused: the retry must not store that event twice.
    const part = [partial('kept'), partial('flaky two')]
    const refused = await p.append(run, 'agent', 1, part)
    expect(refused.status).toBe(503)
    const again = await p.append(run, 'agent', 1, part)
    expect(again.status).toBe(503)
    expect(await again.json()).toEqual(await refused.json())
    expect(deltas(await p.events())).toEqual(['flaky one', 'kept'])
  })
})
