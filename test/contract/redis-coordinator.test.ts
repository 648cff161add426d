import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { silentLogger } from '../../src/log.ts'
import { redisKeys } from '../../src/redis/redis-keys.ts'
import { openRedis, type RedisDeployment } from '../../src/redis/redis-open.ts'
import { newId } from '../../src/session-id.ts'
import { redisAvailable, startRedis, type TestRedis } from '../helpers/redis-server.ts'
import { partial } from './store.contract.ts'
import { ECHO } from '../helpers/echo-spec.ts'
import { until } from '../helpers/wait.ts'
import { slowTests } from '../helpers/slow-tests.ts'

// These tests start redis-server, which may take up to READY_MS on a loaded machine.
slowTests()
const available = redisAvailable('the Redis run coordinator')
let redis: TestRedis
beforeAll(async () => {
  if (available) redis = await startRedis()
})
afterAll(async () => {
  await redis?.destroy()
})

/** Two instances on one Redis, with a lease short enough for a test. */
async function twoInstances(leaseMs = 600): Promise<[RedisDeployment, RedisDeployment, string]> {
  const prefix = `c${newId()}:`
  const options = { prefix, leaseMs, log: silentLogger }
  const [a, b] = await Promise.all([openRedis(redis.url, options), openRedis(redis.url, options)])
  return [a, b, prefix]
}

describe.if(available)('Redis run ownership', () => {
  test('one run per session across instances: a second claim, here or there, is refused until the first releases', async () => {
    const [a, b] = await twoInstances()
    const id = newId()
    await a.store.createSession(id, ECHO)
    const claim = await a.coordinator.claim(id, 'run-1')
    expect(claim?.runId).toBe('run-1')
    expect(await b.coordinator.claim(id, 'run-2')).toBeUndefined()
    expect(await a.coordinator.claim(id, 'run-3')).toBeUndefined()
    expect(await b.coordinator.current(id)).toBe('run-1')
    await a.store.append(id, { type: 'final', step_id: 'run-1', ts: new Date().toISOString(), text: '' })
    await claim!.release()
    expect(await b.coordinator.current(id)).toBeUndefined()
    expect((await b.coordinator.claim(id, 'run-4'))?.runId).toBe('run-4')
    await Promise.all([a.store.close(), b.store.close()])
  })

  test('the lease is renewed while the run goes on, so a live run outlasts many lease times', async () => {
    const [a, b, prefix] = await twoInstances(1000)
    const id = newId()
    await a.store.createSession(id, ECHO)
    const claim = await a.coordinator.claim(id, 'run-1')
    // Renewed every third of the lease: nine renewals seen in Redis are three lease times, with the lease never gone.
    await leaseRenewals(redisKeys(prefix).log.lease(id), 9)
    expect(claim!.cancelled.aborted).toBe(false)
    expect(await b.store.recoverOpenRuns()).toEqual([])
    expect((await a.store.append(id, partial('still here', 'run-1'))).seq).toBe(1)
    await Promise.all([a.store.close(), b.store.close()])
  })

  test('a cancel asked on B reaches the claim held on A', async () => {
    const [a, b] = await twoInstances()
    const id = newId()
    await a.store.createSession(id, ECHO)
    const claim = await a.coordinator.claim(id, 'run-1')
    expect(await b.coordinator.cancel(id)).toBe('run-1')
    await until(() => claim!.cancelled.aborted, { what: 'the cancel to abort the claim on A' })
    await Promise.all([a.store.close(), b.store.close()])
  })

  test('a run left open after its owner released the session is closed by the next claim, on any instance', async () => {
    const [a, b] = await twoInstances(60_000)
    const id = newId()
    await a.store.createSession(id, ECHO)
    const first = await a.coordinator.claim(id, 'run-1')
    await a.store.append(id, { type: 'user', step_id: 'run-1', ts: new Date().toISOString(), text: 'q' })
    await a.store.append(id, partial('half', 'run-1'))
    // Its closing event could not be stored (Redis was lost for a moment); the runner released the session anyway.
    await first!.release()
    // No lease, an open run: the claim finds it stale, closes it with what it streamed, then takes the session.
    expect((await b.coordinator.claim(id, 'run-2'))?.runId).toBe('run-2')
    expect((await b.store.read(id, 0)).at(-1)).toMatchObject({ seq: 3, type: 'interrupt', step_id: 'run-1', text: 'half' })
    // What the runner asks next of the session it claimed leaves its own run alone.
    expect(await b.store.recoverSession(id, 'run-2')).toBeUndefined()
    expect(await b.coordinator.current(id)).toBe('run-2')
    await Promise.all([a.store.close(), b.store.close()])
  })

  test('a run whose lease expired is closed once with interrupt, and its late owner can never append again', async () => {
    const [a, b, prefix] = await twoInstances(60_000)
    const id = newId()
    await a.store.createSession(id, ECHO)
    // As the runner does: the run takes the session, then its user message opens it in the log.
    await a.coordinator.claim(id, 'run-1')
    await a.store.append(id, { type: 'user', step_id: 'run-1', ts: new Date().toISOString(), text: 'q' })
    await a.store.append(id, partial('he', 'run-1'))
    await a.store.append(id, partial('llo', 'run-1'))
    // The owner stops renewing (it hangs, or loses Redis) and its lease runs out.
    a.coordinator.close()
    // While the lease holds, nobody closes the run, however quiet it is.
    expect(await b.store.recoverSession(id)).toBeUndefined()
    await redisDel(redisKeys(prefix).log.lease(id))
    const closed = await b.store.recoverOpenRuns()
    expect(closed).toEqual([{ sessionId: id, stepId: 'run-1', seq: 4 }])
    expect(await a.store.recoverOpenRuns()).toEqual([])
    await expect(a.store.append(id, partial('late', 'run-1'))).rejects.toMatchObject({ code: 'RUN_ENDED' })
    await expect(a.store.append(id, { type: 'final', step_id: 'run-1', ts: new Date().toISOString(), text: 'x' })).rejects.toMatchObject({
      code: 'RUN_ENDED',
    })
    const log = await b.store.read(id, 0)
    expect(log.map((e) => [e.seq, e.type])).toEqual([
      [1, 'user'],
      [2, 'partial'],
      [3, 'partial'],
      [4, 'interrupt'],
    ])
    expect(log.at(-1)).toMatchObject({ step_id: 'run-1', text: 'hello' })
    // The session is free again, and appends outside leased runs are untouched by the fence.
    expect((await b.coordinator.claim(id, 'run-2'))?.runId).toBe('run-2')
    expect((await a.store.append(id, partial('free', 'other'))).seq).toBe(5)
    await Promise.all([a.store.close(), b.store.close()])
  })
})

/**
 * Resolves once the lease at `key` has been renewed `count` times (its time to live seen rising), watching it from a
 * client of its own; fails at once if the lease is ever gone meanwhile (a renewal came too late).
 */
async function leaseRenewals(key: string, count: number): Promise<void> {
  const client = new Bun.RedisClient(redis.url)
  try {
    let [renewals, last] = [0, Number.POSITIVE_INFINITY]
    await until(
      async () => {
        const ttl = (await client.send('PTTL', [key])) as number
        if (ttl < 0) throw new Error(`the lease ${key} is gone (PTTL ${ttl}) after ${renewals} renewals`)
        if (ttl > last) renewals++
        last = ttl
        return renewals >= count
      },
      { what: `${count} renewals of the lease`, everyMs: 5, describe: () => `${renewals} renewals` },
    )
  } finally {
    client.close()
  }
}

/** Deletes a key as an expiring lease would vanish (a test cannot wait out a long lease). */
async function redisDel(key: string): Promise<void> {
  const client = new Bun.RedisClient(redis.url)
  await client.send('DEL', [key])
  client.close()
}
