import { afterAll, describe, expect, test } from 'bun:test'
import { DurableStream, IdempotentProducer, StaleEpochError } from '@durable-streams/client'
import type { StoredEvent } from '../../src/events.ts'
import { SqliteStore } from '../../src/store/sqlite-store.ts'
import { decodeOffset } from '../../src/streams/offsets.ts'
import { tempDir } from '../durability/helpers.ts'
import { type Publisher, publishApi } from '../helpers/publish-api.ts'
import { redisAvailable, startRedis, type TestRedis } from '../helpers/redis-server.ts'
import { slowTests } from '../helpers/slow-tests.ts'
import { spawnServer } from '../helpers/spawn-server.ts'
import { testServer } from '../helpers/test-app.ts'
import { until } from '../helpers/wait.ts'

/**
 * The official Durable Streams producer (`@durable-streams/client`'s IdempotentProducer), unchanged, pointed at the
 * publish API (`POST /api/sessions/:id/runs/:run_id/events` with the publisher's token): batches in flight together,
 * retries answered as duplicates, epochs fencing, autoClaim, and close() closing the run — on a real port, on memory,
 * SQLite and Redis.
 */

slowTests()

const tmp = tempDir('stepstream-official-producer-')
afterAll(tmp.remove)

/** The sentence of a refusal's JSON body. */
const sentenceOf = async (response: Response) => ((await response.json()) as { error: { message: string } }).error.message

interface Started {
  base: string
  stop: () => Promise<unknown>
}

/** A fetch that sends every request twice and answers with the second: each first answer is lost on its way back. */
const losingFirstAnswers: typeof fetch = Object.assign(
  async (input: RequestInfo | URL, init?: RequestInit) => {
    const first = await fetch(input, init)
    await first.arrayBuffer()
    return fetch(input, init)
  },
  { preconnect: fetch.preconnect },
)

function officialProducerSuite(backend: string, start: () => Promise<Started>) {
  describe(`IdempotentProducer against the publish API (${backend})`, () => {
    let server: Started
    let api: ReturnType<typeof publishApi>

    /** A run of a new publisher session, its stream handle as the client sees it, and its events. */
    async function aRun() {
      server ??= await start()
      api ??= publishApi(server.base)
      const p = await api.publisher()
      const run = await api.openRun(p)
      const path = `/api/sessions/${p.id}/runs/${run}/events`
      const stream = new DurableStream({ url: `${server.base}${path}`, contentType: 'application/json', headers: api.bearer(p) })
      const ofRun = async () => (await api.events(p.id)).filter((e) => e.step_id === run)
      /** A raw POST to the run, as a producer sends it. */
      const post = (body: unknown, headers: Record<string, string>) =>
        fetch(`${server.base}${path}`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', ...api.bearer(p), ...headers },
          body: body === undefined ? undefined : JSON.stringify(body),
        })
      return { p, run, stream, ofRun, post }
    }

    const partial = (i: number) => JSON.stringify({ type: 'partial', delta: `${i} ` })
    const deltas = (events: StoredEvent[]) => events.flatMap((e) => (e.type === 'partial' ? [e.delta] : []))
    const numbers = (n: number) => Array.from({ length: n }, (_, i) => `${i} `)
    const errorsOf = (errors: Error[]) => (error: Error) => errors.push(error)

    afterAll(() => server?.stop())

    test('many events in small batches, five in flight: every event stored once, in order, and the offset is the last one’s', async () => {
      const { stream, ofRun } = await aRun()
      const errors: Error[] = []
      const producer = new IdempotentProducer(stream, 'writer', {
        maxBatchBytes: 40,
        maxInFlight: 5,
        lingerMs: 0,
        onError: errorsOf(errors),
      })
      for (let i = 0; i < 300; i++) producer.append(partial(i))
      await producer.flush()
      expect(errors).toEqual([])
      const events = await ofRun()
      expect(deltas(events)).toEqual(numbers(300))
      expect(producer.nextSeq).toBeGreaterThan(5)
      // Stream-Next-Offset: the chat's seq after the last event the producer stored.
      const offset = decodeOffset(producer.lastSuccessfulOffset ?? '')
      expect(offset.ok && offset.value).toBe(events.at(-1)!.seq)
    })

    test('every answer lost once: each retried batch is a duplicate (204) and stores nothing', async () => {
      const { stream, ofRun, post } = await aRun()
      const errors: Error[] = []
      const producer = new IdempotentProducer(stream, 'writer', {
        maxBatchBytes: 40,
        maxInFlight: 5,
        lingerMs: 0,
        fetch: losingFirstAnswers,
        onError: errorsOf(errors),
      })
      for (let i = 0; i < 100; i++) producer.append(partial(i))
      await producer.flush()
      expect(errors).toEqual([])
      expect(deltas(await ofRun())).toEqual(numbers(100))
      // What each lost answer's retry got, seen directly: the protocol's duplicate.
      const retry = await post([{ type: 'partial', delta: 'again' }], {
        'producer-id': 'writer',
        'producer-epoch': '0',
        'producer-seq': '0',
      })
      expect(retry.status).toBe(204)
      expect(retry.headers.get('producer-epoch')).toBe('0')
      expect(retry.headers.get('producer-seq')).toBe(String(producer.nextSeq - 1))
      expect(retry.headers.get('stream-next-offset')).toBeTruthy()
      expect(deltas(await ofRun())).toEqual(numbers(100))
    })

    test('a stale epoch is refused with StaleEpochError; a new epoch fences the old producer', async () => {
      const { stream, ofRun, post } = await aRun()
      const oldErrors: Error[] = []
      const old = new IdempotentProducer(stream, 'worker', { lingerMs: 0, onError: errorsOf(oldErrors) })
      old.append(partial(0))
      await old.flush()
      const newer = new IdempotentProducer(stream, 'worker', { epoch: 1, lingerMs: 0 })
      newer.append(partial(1))
      await newer.flush()
      old.append(partial(99))
      await old.flush()
      expect(oldErrors).toHaveLength(1)
      expect(oldErrors[0]).toBeInstanceOf(StaleEpochError)
      expect((oldErrors[0] as StaleEpochError).currentEpoch).toBe(1)
      expect(deltas(await ofRun())).toEqual(numbers(2))
      // As sent: 403 with the current epoch, and a sentence.
      const stale = await post([JSON.parse(partial(99))], { 'producer-id': 'worker', 'producer-epoch': '0', 'producer-seq': '1' })
      expect(stale.status).toBe(403)
      expect(stale.headers.get('producer-epoch')).toBe('1')
      expect(await sentenceOf(stale)).toContain('older than this producer’s current epoch, 1')
      // A newer epoch starts at seq 0.
      const skipping = await post([], { 'producer-id': 'worker', 'producer-epoch': '2', 'producer-seq': '1' })
      expect(skipping.status).toBe(400)
      expect(await sentenceOf(skipping)).toContain('starts at Producer-Seq 0')
      expect(deltas(await ofRun())).toEqual(numbers(2))
    })

    test('autoClaim: a producer restarted at epoch 0 claims the epoch after the current one and carries on', async () => {
      const { stream, ofRun } = await aRun()
      const first = new IdempotentProducer(stream, 'worker', { epoch: 3, lingerMs: 0 })
      first.append(partial(0))
      await first.flush()
      const errors: Error[] = []
      const restarted = new IdempotentProducer(stream, 'worker', {
        autoClaim: true,
        lingerMs: 0,
        maxInFlight: 5,
        onError: errorsOf(errors),
      })
      for (let i = 1; i < 20; i++) restarted.append(partial(i))
      await restarted.flush()
      expect(errors).toEqual([])
      expect(restarted.epoch).toBe(4)
      expect(deltas(await ofRun())).toEqual(numbers(20))
      const fenced: Error[] = []
      const zombie = new IdempotentProducer(stream, 'worker', { epoch: 3, lingerMs: 0, onError: errorsOf(fenced) })
      zombie.append(partial(99))
      await zombie.flush()
      expect(fenced[0]).toBeInstanceOf(StaleEpochError)
      expect(deltas(await ofRun())).toEqual(numbers(20))
    })

    test('batches arriving out of order: the later one is refused as a gap, waits for the earlier, and is sent again', async () => {
      const { stream, ofRun } = await aRun()
      // Seq 0 is held back until seq 1 was answered: seq 1 reaches the server first.
      let firstAnswered!: () => void
      const answered = new Promise<void>((resolve) => {
        firstAnswered = resolve
      })
      const statuses: string[] = []
      const reordering: typeof fetch = Object.assign(
        async (input: RequestInfo | URL, init?: RequestInit) => {
          const seq = new Headers(init?.headers).get('producer-seq')
          if (seq === '0') await answered
          const response = await fetch(input, init)
          statuses.push(`${seq}:${response.status}`)
          if (seq === '1') firstAnswered()
          return response
        },
        { preconnect: fetch.preconnect },
      )
      const errors: Error[] = []
      const producer = new IdempotentProducer(stream, 'writer', {
        lingerMs: 0,
        maxBatchBytes: 1,
        fetch: reordering,
        onError: errorsOf(errors),
      })
      producer.append(partial(0))
      producer.append(partial(1))
      await producer.flush()
      expect(errors).toEqual([])
      expect(statuses).toEqual(['1:409', '0:200', '1:200'])
      expect(deltas(await ofRun())).toEqual(numbers(2))
    })

    test('a gap is refused 409 with Producer-Expected-Seq and Producer-Received-Seq, and a sentence', async () => {
      const { ofRun, post } = await aRun()
      const gap = await post([JSON.parse(partial(5))], { 'producer-id': 'gappy', 'producer-epoch': '0', 'producer-seq': '5' })
      expect(gap.status).toBe(409)
      expect(gap.headers.get('producer-expected-seq')).toBe('0')
      expect(gap.headers.get('producer-received-seq')).toBe('5')
      expect(await sentenceOf(gap)).toBe('Producer-Seq 5 skips ahead: the next expected is 0.')
      expect(await ofRun()).toEqual([])
    })

    test('close() ends the run with a final holding the streamed text; a retried close is a duplicate; the chat takes its next run', async () => {
      const { p, stream, ofRun, post } = await aRun()
      const producer = new IdempotentProducer(stream, 'writer', { lingerMs: 0, fetch: losingFirstAnswers })
      for (let i = 0; i < 5; i++) producer.append(partial(i))
      const { finalOffset } = await producer.close()
      const events = await ofRun()
      expect(events.map((e) => e.type)).toEqual(['start', 'partial', 'partial', 'partial', 'partial', 'partial', 'final'])
      expect(events.at(-1)).toMatchObject({ type: 'final', text: numbers(5).join('') })
      const offset = decodeOffset(finalOffset)
      expect(offset.ok && offset.value).toBe(events.at(-1)!.seq)
      // The close again, as a lost answer's retry sends it: a duplicate, the run closed.
      const again = await post(undefined, {
        'producer-id': 'writer',
        'producer-epoch': '0',
        'producer-seq': String(producer.nextSeq - 1),
        'stream-closed': 'true',
      })
      expect(again.status).toBe(204)
      expect(again.headers.get('stream-closed')).toBe('true')
      // New data after the close: the protocol's closed answer, with a sentence.
      const late = await post([JSON.parse(partial(9))], {
        'producer-id': 'writer',
        'producer-epoch': '0',
        'producer-seq': String(producer.nextSeq),
      })
      expect(late.status).toBe(409)
      expect(late.headers.get('stream-closed')).toBe('true')
      expect(await sentenceOf(late)).toContain('This run is closed')
      // A close alone, without a producer, of the closed run: closing is idempotent.
      const closeAlone = await post(undefined, { 'stream-closed': 'true' })
      expect(closeAlone.status).toBe(200)
      expect(closeAlone.headers.get('stream-closed')).toBe('true')
      expect(await ofRun()).toEqual(events)
      await nextRunOpens(p)
    })

    test('close(final message): its events are appended and the run closed with them, or with a final after them', async () => {
      const own = await aRun()
      const ending = new IdempotentProducer(own.stream, 'writer', { lingerMs: 0 })
      ending.append(partial(0))
      await ending.close(JSON.stringify({ type: 'final', text: 'my own answer' }))
      expect((await own.ofRun()).map((e) => [e.type, e.type === 'final' ? e.text : ''])).toEqual([
        ['start', ''],
        ['partial', ''],
        ['final', 'my own answer'],
      ])
      const more = await aRun()
      const adding = new IdempotentProducer(more.stream, 'writer', { lingerMs: 0 })
      adding.append(partial(0))
      await adding.close(partial(1))
      const events = await more.ofRun()
      expect(events.map((e) => e.type)).toEqual(['start', 'partial', 'partial', 'final'])
      expect(events.at(-1)).toMatchObject({ type: 'final', text: numbers(2).join('') })
      await nextRunOpens(more.p)
    })

    /** Once a run has closed, the runner frees the chat: the publisher's next run opens. */
    async function nextRunOpens(p: Publisher) {
      let status = 0
      await until(
        async () => {
          status = (await api.post(`/api/sessions/${p.id}/runs`, undefined, api.bearer(p))).status
          return status === 201
        },
        { what: 'the next run to open', describe: () => status },
      )
    }
  })
}

officialProducerSuite('memory', async () => {
  const made = await testServer()
  return { base: made.base, stop: made.close }
})

officialProducerSuite('SQLite', async () => {
  const made = await testServer({ store: new SqliteStore(tmp.file()) })
  return { base: made.base, stop: made.close }
})

const redis = redisAvailable('the official producer on Redis')
let testRedis: TestRedis | undefined
afterAll(() => testRedis?.destroy())
if (redis) {
  officialProducerSuite('Redis', async () => {
    testRedis = await startRedis()
    const spawned = await spawnServer([process.execPath, 'src/main.ts'], {
      args: ['--store', testRedis.url, '--rate-limit', 'off', '--log-level', 'info'],
    })
    return { base: spawned.base, stop: spawned.stop }
  })
}

describe('the publish API’s producer headers, checked at the edge', () => {
  let made: Awaited<ReturnType<typeof testServer>> | undefined
  afterAll(() => made?.close())

  const refusals: [string, Record<string, string>, string][] = [
    [
      'an epoch that is no whole number',
      { 'producer-id': 'p', 'producer-seq': '0', 'producer-epoch': 'x' },
      'Producer-Epoch must be a whole number',
    ],
    ['an epoch with a sign', { 'producer-id': 'p', 'producer-seq': '0', 'producer-epoch': '-1' }, 'Producer-Epoch must be a whole number'],
    [
      'an epoch with a leading zero',
      { 'producer-id': 'p', 'producer-seq': '0', 'producer-epoch': '01' },
      'Producer-Epoch must be a whole number',
    ],
    [
      'an epoch past 2^53-1',
      { 'producer-id': 'p', 'producer-seq': '0', 'producer-epoch': '9'.repeat(17) },
      'Producer-Epoch must be a whole number',
    ],
    ['an epoch sent twice', { 'producer-id': 'p', 'producer-seq': '0', 'producer-epoch': '1, 2' }, 'Producer-Epoch must be a whole number'],
    ['an epoch without its producer', { 'producer-epoch': '0' }, 'Send Producer-Id'],
    ['an id past the bound', { 'producer-id': 'p'.repeat(201), 'producer-seq': '0', 'producer-epoch': '0' }, 'up to 200 characters'],
    ['a seq past the bound', { 'producer-id': 'p', 'producer-seq': '9'.repeat(16), 'producer-epoch': '0' }, 'Producer-Seq (a whole number'],
    ['Stream-Closed that is not true or false', { 'stream-closed': 'yes' }, 'Stream-Closed must be true'],
  ]
  test('an NDJSON body with Stream-Closed: its lines are stored as they come, then a final closes the run', async () => {
    made ??= await testServer()
    const api = publishApi(made.base)
    const p = await api.publisher()
    const run = await api.openRun(p)
    const lines = ['Once ', 'upon ', 'a time.'].map((delta) => `${JSON.stringify({ type: 'partial', delta })}\n`).join('')
    const closed = await fetch(`${made.base}/api/sessions/${p.id}/runs/${run}/events`, {
      method: 'POST',
      headers: { ...api.bearer(p), 'content-type': 'application/x-ndjson', 'stream-closed': 'true' },
      body: lines,
    })
    expect(closed.status).toBe(200)
    expect(await closed.json()).toEqual({ run_id: run, appended: 4, closed: true })
    const events = (await api.events(p.id)).filter((e) => e.step_id === run)
    expect(events.at(-1)).toMatchObject({ type: 'final', text: 'Once upon a time.' })
    expect(closed.headers.get('stream-closed')).toBe('true')
    const offset = decodeOffset(closed.headers.get('stream-next-offset') ?? '')
    expect(offset.ok && offset.value).toBe(events.at(-1)!.seq)
  })

  for (const [what, headers, sentence] of refusals) {
    test(`${what}: 400 with a sentence, nothing stored`, async () => {
      made ??= await testServer()
      const api = publishApi(made.base)
      const p = await api.publisher()
      const run = await api.openRun(p)
      const refused = await api.append(p, run, [{ type: 'partial', delta: 'x' }], { headers })
      expect(refused.status).toBe(400)
      expect(await sentenceOf(refused)).toContain(sentence)
      expect((await api.events(p.id)).filter((e) => e.step_id === run)).toEqual([])
    })
  }
})
