import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { publishApi } from '../helpers/publish-api.ts'
import { redisAvailable, startRedis, type TestRedis } from '../helpers/redis-server.ts'
import { slowTests } from '../helpers/slow-tests.ts'
import { spawnServer } from '../helpers/spawn-server.ts'

/**
 * On Redis a producer's state is stored by the script that stores its events, so any server process on that Redis
 * answers a retry: one started after the first, or one beside it.
 */

slowTests()

const available = redisAvailable('the producer tests on Redis')

const instance = (redis: TestRedis) =>
  spawnServer([process.execPath, 'src/main.ts'], { args: ['--store', redis.url, '--rate-limit', 'off', '--log-level', 'info'] })

const seq = (producer: string, n: number) => ({ 'producer-id': producer, 'producer-seq': String(n) })

describe.if(available)('producer state on Redis', () => {
  let redis: TestRedis
  beforeAll(async () => {
    redis = await startRedis()
  })
  afterAll(async () => {
    await redis?.destroy()
  })

  test('a retry sent to a second server process is answered as a duplicate with the first answer, and stores nothing', async () => {
    const a = await instance(redis)
    const b = await instance(redis)
    try {
      const onA = publishApi(a.base)
      const onB = publishApi(b.base)
      const p = await onA.publisher()
      const run = await onA.openRun(p)
      const events = [
        { type: 'partial', delta: 'stored ' },
        { type: 'final', text: 'stored once' },
      ]
      const answered = await onA.append(p, run, events, { headers: seq('agent', 0) })
      expect(answered.status).toBe(200)
      const answer = await answered.json()
      expect(answer).toEqual({ run_id: run, appended: 2, closed: true })
      const before = await onB.events(p.id)
      expect(before.map((e) => e.type)).toEqual(['start', 'partial', 'final'])
      const retried = await onB.append(p, run, events, { headers: seq('agent', 0) })
      expect(retried.status).toBe(200)
      expect(await retried.json()).toEqual(answer)
      // And on a server started after the request was answered, once the first has gone.
      await a.stop()
      const c = await instance(redis)
      try {
        const onC = publishApi(c.base)
        const again = await onC.append(p, run, events, { headers: seq('agent', 0) })
        expect(again.status).toBe(200)
        expect(await again.json()).toEqual(answer)
        expect(await onC.events(p.id)).toEqual(before)
      } finally {
        await c.stop()
      }
    } finally {
      await Promise.allSettled([a.stop(), b.stop()])
    }
  })
})
