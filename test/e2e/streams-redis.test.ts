import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { redisAvailable, startRedis, type TestRedis } from '../helpers/redis-server.ts'
import { slowTests } from '../helpers/slow-tests.ts'
import { type SpawnedServer, spawnServer } from '../helpers/spawn-server.ts'
import { until } from '../helpers/wait.ts'

slowTests()

/**
 * Durable Streams across two instances on one Redis: what one instance acknowledges, the other reads, live readers on
 * one are woken by appends on the other, and producers, forks, deletes and closes are judged alike by both.
 */

/**
 * Longer than any test waits for a live read to answer: a long-poll that missed the other instance's append would
 * answer 204 only after it, and fail the test instead of passing by luck. Milliseconds.
 */
const LONG_POLL_MS = 15_000

const available = redisAvailable('Durable Streams across two instances')

const instance = (redis: TestRedis) =>
  spawnServer([process.execPath, 'src/main.ts'], {
    // One live read per client address: a probe refused 429 tells the test its long-poll is parked (`parked`).
    args: ['--store', redis.url, '--rate-limit', 'off', '--long-poll-ms', String(LONG_POLL_MS), '--max-connections-per-ip', '1'],
  })

const text = { 'content-type': 'text/plain' }
const put = (url: string, headers: Record<string, string> = text) => fetch(url, { method: 'PUT', headers })
const post = (url: string, body: string, headers: Record<string, string> = {}) =>
  fetch(url, { method: 'POST', headers: { ...text, ...headers }, body })

describe.if(available)('Durable Streams on two instances of one Redis', () => {
  let redis: TestRedis
  let a: SpawnedServer
  let b: SpawnedServer
  beforeAll(async () => {
    redis = await startRedis()
    ;[a, b] = await Promise.all([instance(redis), instance(redis)])
  })
  afterAll(async () => {
    await Promise.all([a?.stop(), b?.stop()])
    await redis?.destroy()
  })

  const at = (server: SpawnedServer, name: string) => `${server.base}/v1/stream/${name}`

  /**
   * Resolves once a live read holds the server's one connection for this address: a long-poll of a stream with data
   * to answer at once (which frees its place at once) is refused 429 only while another holds it.
   */
  async function parked(server: SpawnedServer): Promise<void> {
    if ((await put(at(server, 'probe'))).status === 201) await post(at(server, 'probe'), 'probe;')
    await until(async () => (await fetch(`${at(server, 'probe')}?offset=-1&live=long-poll`)).status === 429, {
      what: 'the long-poll to be parked on the other instance',
    })
  }

  test('appended on one, read on the other: the same data at the same offsets', async () => {
    expect((await put(at(a, 'shared'))).status).toBe(201)
    const offsets: string[] = []
    for (const piece of ['one;', 'two;', 'three;']) {
      const answer = await post(at(a, 'shared'), piece)
      expect(answer.status).toBe(204)
      offsets.push(answer.headers.get('stream-next-offset')!)
    }
    const all = await fetch(`${at(b, 'shared')}?offset=-1`)
    expect(await all.text()).toBe('one;two;three;')
    expect(all.headers.get('stream-next-offset')).toBe(offsets[2]!)
    expect(await (await fetch(`${at(b, 'shared')}?offset=${offsets[0]}`)).text()).toBe('two;three;')
    expect((await fetch(at(b, 'shared'), { method: 'HEAD' })).headers.get('stream-next-offset')).toBe(offsets[2]!)
  })

  test("a long-poll on one is answered by the other's append, and by its close", async () => {
    const head = (await put(at(a, 'woken'))).headers.get('stream-next-offset')!
    const polled = fetch(`${at(b, 'woken')}?offset=${head}&live=long-poll`)
    await parked(b)
    const appended = await post(at(a, 'woken'), 'late;')
    const answer = await polled
    // 204 would mean b only heard of it when its wait ran out.
    expect(answer.status).toBe(200)
    expect(await answer.text()).toBe('late;')
    const next = answer.headers.get('stream-next-offset')!
    expect(next).toBe(appended.headers.get('stream-next-offset')!)
    const closing = fetch(`${at(b, 'woken')}?offset=${next}&live=long-poll`)
    await parked(b)
    expect((await post(at(a, 'woken'), '', { 'stream-closed': 'true' })).status).toBe(204)
    const closed = await closing
    expect(closed.status).toBe(204)
    expect(closed.headers.get('stream-closed')).toBe('true')
  })

  test('an SSE reader on one sees the appends made on the other, live', async () => {
    await put(at(a, 'sse'))
    const controller = new AbortController()
    const response = await fetch(`${at(b, 'sse')}?offset=-1&live=sse`, { signal: controller.signal })
    expect(response.status).toBe(200)
    const reader = response.body!.getReader()
    let seen = ''
    const reading = (async () => {
      const decoder = new TextDecoder()
      for (let chunk = await reader.read(); !chunk.done; chunk = await reader.read()) seen += decoder.decode(chunk.value)
    })().catch(() => undefined)
    for (const piece of ['x1;', 'x2;', 'x3;']) await post(at(a, 'sse'), piece)
    // The data events' payloads, in order (one event may carry several appends).
    const data = () => [...seen.matchAll(/event: data\ndata:(.*)\n/g)].map((match) => match[1]).join('')
    await until(() => data() === 'x1;x2;x3;', {
      what: 'the three appends in the SSE reader on the other instance',
      describe: () => seen,
    })
    controller.abort()
    await reading
  })

  test('one producer request sent to both at once is stored once; the other instance answers it as a duplicate', async () => {
    await put(at(a, 'producer'))
    for (let seq = 0; seq < 10; seq++) {
      const headers = { 'producer-id': 'p', 'producer-epoch': '0', 'producer-seq': String(seq) }
      const answers = await Promise.all([post(at(a, 'producer'), `${seq};`, headers), post(at(b, 'producer'), `${seq};`, headers)])
      expect(answers.map((answer) => answer.status).sort()).toEqual([200, 204])
    }
    expect(await (await fetch(`${at(a, 'producer')}?offset=-1`)).text()).toBe('0;1;2;3;4;5;6;7;8;9;')
    // A newer epoch on one fences the older on the other.
    expect((await post(at(b, 'producer'), 'e1;', { 'producer-id': 'p', 'producer-epoch': '1', 'producer-seq': '0' })).status).toBe(200)
    const fenced = await post(at(a, 'producer'), 'e0;', { 'producer-id': 'p', 'producer-epoch': '0', 'producer-seq': '10' })
    expect(fenced.status).toBe(403)
    expect(fenced.headers.get('producer-epoch')).toBe('1')
  })

  test('forked on one, its source deleted on the other: 410 on both until the fork goes, then none', async () => {
    await put(at(a, 'source'))
    await post(at(a, 'source'), 'kept;')
    expect((await put(at(b, 'fork'), { ...text, 'stream-forked-from': '/v1/stream/source' })).status).toBe(201)
    expect((await fetch(at(a, 'source'), { method: 'DELETE' })).status).toBe(204)
    for (const server of [a, b]) expect((await fetch(at(server, 'source'), { method: 'HEAD' })).status).toBe(410)
    expect(await (await fetch(`${at(a, 'fork')}?offset=-1`)).text()).toBe('kept;')
    expect((await fetch(at(b, 'fork'), { method: 'DELETE' })).status).toBe(204)
    for (const server of [a, b]) expect((await fetch(at(server, 'source'), { method: 'HEAD' })).status).toBe(404)
    expect((await put(at(b, 'source'))).status).toBe(201)
  })
})
