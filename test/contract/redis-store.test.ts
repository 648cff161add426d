import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { silentLogger } from '../../src/log.ts'
import { openRedis } from '../../src/redis/redis-open.ts'
import { newId } from '../../src/session-id.ts'
import { redisAvailable, startRedis, type TestRedis } from '../helpers/redis-server.ts'
import { partial, storeContract } from './store.contract.ts'

const available = redisAvailable('the Redis store contract')
let redis: TestRedis
beforeAll(async () => {
  if (available) redis = await startRedis()
})
afterAll(async () => {
  await redis?.destroy()
})

// Each store gets its own key prefix, so that retention in one test never sees another test's sessions.
const open = async () => (await openRedis(redis.url, { prefix: `t${newId()}:`, log: silentLogger })).store

if (available) {
  storeContract('redis', open)

  /** Two instances on one Redis, under a key prefix of their own. */
  const twoInstances = () => {
    const prefix = `t${newId()}:`
    return Promise.all([openRedis(redis.url, { prefix, log: silentLogger }), openRedis(redis.url, { prefix, log: silentLogger })])
  }

  describe('redis store', () => {
    test('two stores on one Redis (two instances) append to one session without colliding or reordering', async () => {
      const [a, b] = await twoInstances()
      const id = newId()
      await a.store.createSession(id)
      const writes = Array.from({ length: 40 }, (_, i) => (i % 2 === 0 ? a : b).store.append(id, partial(String(i), `w${i % 2}`)))
      const stored = await Promise.all(writes)
      expect(new Set(stored.map((e) => e.seq)).size).toBe(40)
      const read = await b.store.read(id, 0)
      expect(read.map((e) => e.seq)).toEqual(Array.from({ length: 40 }, (_, i) => i + 1))
      for (const writer of ['w0', 'w1']) {
        const mine = read.filter((e) => e.step_id === writer).map((e) => Number(e.type === 'partial' ? e.delta : -1))
        expect(mine).toEqual([...mine].sort((x, y) => x - y))
      }
      expect(await a.store.getSession(id)).toEqual(await b.store.getSession(id))
      await Promise.all([a.store.close(), b.store.close()])
    })

    test('a stream on one instance wakes on an append made by the other', async () => {
      const [a, b] = await twoInstances()
      const id = newId()
      await a.store.createSession(id)
      const waiting = a.store.waitFor(id, 0, new AbortController().signal, 5000)
      await Bun.sleep(20)
      await b.store.append(id, partial('x'))
      expect(await waiting).toBe(false)
      await Promise.all([a.store.close(), b.store.close()])
    })

    test('an unreachable Redis is refused at open with its reason', async () => {
      await expect(openRedis('redis://127.0.0.1:1', { log: silentLogger })).rejects.toThrow()
    })
  })
}
