import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import type { EventSourceMessage } from 'eventsource-parser'
import { HeldModel } from '../helpers/held-model.ts'
import { redisAvailable, startRedis, type TestRedis } from '../helpers/redis-server.ts'
import { hasEnd, SseReader } from '../helpers/sse-client.ts'
import { slowTests } from '../helpers/slow-tests.ts'
import { type SpawnedServer, spawnServer } from '../helpers/spawn-server.ts'
import { READY_MS, until } from '../helpers/wait.ts'

slowTests()

/**
 * A run's lease in these tests: short, so that a killed instance's run is closed within seconds, yet long enough that
 * a live instance stalled by a loaded machine (two CPU burners beside the suite stalled one past 1.5 s) still renews it
 * in time: an expired lease ends a live run with an interrupt, which is what it is for.
 */
const LEASE_MS = 5000
/**
 * The instances' steps answer with a model the test holds (the openai step against a HeldModel): an answer longer
 * than 20 characters holds there until released, so a cancel or a kill always lands mid-answer.
 */
const model = new HeldModel(20)
const LONG = 'a long message whose answer holds after twenty characters until the test lets it go.'
/** Long enough that a run ended before it can only have stopped on its signal; milliseconds. */
const CANCEL_GRACE_MS = 60_000

const available = redisAvailable('the two-instance tests')

const instance = (redis: TestRedis) =>
  spawnServer([process.execPath, 'src/main.ts'], {
    args: [
      '--store',
      redis.url,
      ...model.flags,
      '--run-lease',
      String(LEASE_MS),
      '--rate-limit',
      'off',
      '--cancel-grace',
      String(CANCEL_GRACE_MS),
    ],
  })

const post = (url: string, body?: unknown) =>
  fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  })

async function newSession(base: string): Promise<string> {
  const res = await post(`${base}/api/sessions`, {})
  expect(res.status).toBe(201)
  return ((await res.json()) as { id: string }).id
}

/** The events of a stream, as comparable values: seq, type and data. */
const logOf = (messages: EventSourceMessage[]) => messages.filter((m) => m.id !== undefined).map((m) => [m.id, m.event, m.data])

describe.if(available)('two instances on one Redis', () => {
  let redis: TestRedis
  let a: SpawnedServer
  let b: SpawnedServer
  beforeAll(async () => {
    redis = await startRedis({ persist: true })
    ;[a, b] = await Promise.all([instance(redis), instance(redis)])
  })
  afterAll(async () => {
    await Promise.allSettled([a?.stop(), b?.stop()])
    await redis?.destroy()
    await model.stop()
  })

  test('a session created on A, messaged on B and streamed from A and B at once has one log, identical on both', async () => {
    const id = await newSession(a.base)
    const [fromA, fromB] = await Promise.all([
      SseReader.open(`${a.base}/api/sessions/${id}/stream`),
      SseReader.open(`${b.base}/api/sessions/${id}/stream`),
    ])
    expect((await post(`${b.base}/api/sessions/${id}/messages`, { text: 'hello there' })).status).toBe(202)
    await Promise.all([fromA.until((m) => hasEnd(m)), fromB.until((m) => hasEnd(m))])
    expect(logOf(fromA.messages)).toEqual(logOf(fromB.messages))
    const seqs = logOf(fromA.messages).map(([seq]) => Number(seq))
    expect(seqs).toEqual(Array.from({ length: seqs.length }, (_, i) => i + 1))
    expect(fromA.messages.at(-1)).toMatchObject({ event: 'final' })
    expect(JSON.parse(fromA.messages.at(-1)!.data).text).toBe('hello there')
    fromA.close()
    fromB.close()
  })

  test('a message on one instance while the other runs the session gets 409; a cancel sent to A stops the run on B', async () => {
    const id = await newSession(a.base)
    const stream = await SseReader.open(`${a.base}/api/sessions/${id}/stream`)
    expect((await post(`${b.base}/api/sessions/${id}/messages`, { text: LONG })).status).toBe(202)
    await model.held(LONG)
    await stream.until((m) => m.some((e) => e.event === 'partial'))
    const busy = await post(`${a.base}/api/sessions/${id}/messages`, { text: 'me too' })
    expect(busy.status).toBe(409)
    expect(await busy.json()).toMatchObject({ error: { code: 'RUN_ACTIVE' } })
    expect(((await (await fetch(`${a.base}/api/sessions/${id}`)).json()) as { running: boolean }).running).toBe(true)
    expect((await post(`${a.base}/api/sessions/${id}/cancel`)).status).toBe(202)
    // The step stopped on its signal: the answer was held, and the cancel grace is a minute away.
    await stream.until((m) => hasEnd(m))
    const end = stream.messages.at(-1)!
    expect(end.event).toBe('interrupt')
    expect(JSON.parse(end.data).text.length).toBeLessThan(LONG.length)
    stream.close()
  })

  test('SIGKILL the instance running a step: within the lease the other ends the run with interrupt, and takes a new message', async () => {
    const c = await instance(redis)
    const id = await newSession(a.base)
    const stream = await SseReader.open(`${a.base}/api/sessions/${id}/stream`)
    expect((await post(`${c.base}/api/sessions/${id}/messages`, { text: LONG })).status).toBe(202)
    await model.held(LONG)
    await stream.until((m) => m.filter((e) => e.event === 'partial').length >= 3)
    await c.stop('SIGKILL')
    // Only the lease's expiry (a sweep every half lease) can end the run: nothing is left that would.
    await stream.until((m) => hasEnd(m), READY_MS)
    const end = stream.messages.at(-1)!
    expect(end.event).toBe('interrupt')
    const streamed = stream.messages.filter((m) => m.event === 'partial').map((m) => JSON.parse(m.data).delta as string)
    expect(JSON.parse(end.data).text).toBe(streamed.join(''))
    expect((await post(`${b.base}/api/sessions/${id}/messages`, { text: 'again' })).status).toBe(202)
    await stream.until((m) => hasEnd(m, 2))
    expect(stream.messages.at(-1)).toMatchObject({ event: 'final' })
    const seqs = logOf(stream.messages).map(([seq]) => Number(seq))
    expect(seqs).toEqual(Array.from({ length: seqs.length }, (_, i) => i + 1))
    stream.close()
  })

  test('Redis lost: /readyz 503, new work 503 with a sentence; open streams wait and resume with no gap and no duplicate', async () => {
    const id = await newSession(a.base)
    const streams = await Promise.all([a, b].map((s) => SseReader.open(`${s.base}/api/sessions/${id}/stream`)))
    expect((await post(`${b.base}/api/sessions/${id}/messages`, { text: 'before' })).status).toBe(202)
    await Promise.all(streams.map((s) => s.until((m) => hasEnd(m))))
    await redis.stop()
    for (const server of [a, b]) {
      const ready = await fetch(`${server.base}/readyz`)
      expect(ready.status).toBe(503)
      const refused = await post(`${server.base}/api/sessions/${id}/messages`, { text: 'lost' })
      expect(refused.status).toBe(503)
      expect(refused.headers.get('retry-after')).toBeTruthy()
      expect(((await refused.json()) as { error: { message: string } }).error.message).toMatch(/its Redis store cannot be reached/)
      expect((await post(`${server.base}/api/sessions`, {})).status).toBe(503)
    }
    await redis.start()
    const ready = async (server: SpawnedServer) => (await fetch(`${server.base}/readyz`)).status === 200
    await until(async () => (await ready(a)) && (await ready(b)), {
      timeoutMs: READY_MS,
      what: 'both instances to be ready again once Redis is back',
      everyMs: 50,
    })
    expect((await post(`${a.base}/api/sessions/${id}/messages`, { text: 'after' })).status).toBe(202)
    await Promise.all(streams.map((s) => s.until((m) => hasEnd(m, 2))))
    for (const s of streams) {
      const seqs = logOf(s.messages).map(([seq]) => Number(seq))
      expect(seqs).toEqual(Array.from({ length: seqs.length }, (_, i) => i + 1))
      expect(s.messages.filter((m) => m.event === 'final').map((m) => JSON.parse(m.data).text)).toEqual(['before', 'after'])
      s.close()
    }
    expect(logOf(streams[0]!.messages)).toEqual(logOf(streams[1]!.messages))
  })
})

test.if(available)('Redis unreachable at start: one line on stderr and exit code 2', async () => {
  const proc = Bun.spawn([process.execPath, 'src/main.ts', '--store', 'redis://127.0.0.1:1', '--port', '0'], {
    stderr: 'pipe',
    stdout: 'ignore',
  })
  expect(await proc.exited).toBe(2)
  const stderr = await new Response(proc.stderr).text()
  expect(stderr.trim().split('\n')).toHaveLength(1)
  expect(stderr).toMatch(/^stepstream: cannot reach the Redis store at redis:\/\/127\.0\.0\.1:1: /)
})
