import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { RedisClient } from 'bun'
import { SessionSignal } from '../../src/bus/session-signal.ts'
import { APPEND } from '../../src/log/backends/redis-backend-scripts.ts'
import { silentLogger } from '../../src/log.ts'
import { openRedis } from '../../src/redis/redis-open.ts'
import { newId } from '../../src/session-id.ts'
import { redisAvailable, startRedis, type TestRedis } from '../helpers/redis-server.ts'
import { TcpProxy } from '../helpers/tcp-proxy.ts'
import { until, WAIT_MS } from '../helpers/wait.ts'
import { type ContractOptions, partial, storeContract } from './store.contract.ts'
import { ECHO } from '../helpers/echo-spec.ts'
import { slowTests } from '../helpers/slow-tests.ts'

// These tests start redis-server, which may take up to READY_MS on a loaded machine.
slowTests()
const available = redisAvailable('the Redis store contract')
let redis: TestRedis
beforeAll(async () => {
  if (available) redis = await startRedis()
})
afterAll(async () => {
  await redis?.destroy()
})

// Each store gets its own key prefix, so that retention in one test never sees another test's sessions.
const open = async (options: ContractOptions = {}) =>
  (await openRedis(redis.url, { prefix: `t${newId()}:`, log: silentLogger, ...options })).store

if (available) {
  storeContract('redis', open)

  /** Scripts Redis has run so far (EVALSHA and EVAL), from INFO commandstats. */
  const scriptCalls = async () => {
    const client = new RedisClient(redis.url)
    const info = (await client.send('INFO', ['commandstats'])) as string
    client.close()
    return [...info.matchAll(/^cmdstat_eval(?:sha)?:calls=(\d+)/gm)].reduce((sum, m) => sum + Number(m[1]), 0)
  }

  /** Two instances on one Redis, under a key prefix of their own. */
  const twoInstances = () => {
    const prefix = `t${newId()}:`
    return Promise.all([openRedis(redis.url, { prefix, log: silentLogger }), openRedis(redis.url, { prefix, log: silentLogger })])
  }

  describe('redis store', () => {
    test('two stores on one Redis (two instances) append to one session without colliding or reordering', async () => {
      const [a, b] = await twoInstances()
      const id = newId()
      await a.store.createSession(id, ECHO)
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
      const prefix = `t${newId()}:`
      // A's own wake-ups, to see its wait register: appended before, B's event would be read, not woken for.
      const signal = new SessionSignal()
      const [a, b] = await Promise.all([
        openRedis(redis.url, { prefix, log: silentLogger, notifier: signal }),
        openRedis(redis.url, { prefix, log: silentLogger }),
      ])
      const id = newId()
      await a.store.createSession(id, ECHO)
      const waiting = a.store.waitFor(id, 0, new AbortController().signal, WAIT_MS)
      await until(() => signal.waiting > 0, { what: "A's wait to register" })
      await b.store.append(id, partial('x'))
      expect(await waiting).toBe(false)
      await Promise.all([a.store.close(), b.store.close()])
    })

    test("what an instance keeps in memory never hides another instance's appends, trims or compactions", async () => {
      const [a, b] = await twoInstances()
      const id = newId()
      await a.store.createSession(id, ECHO)
      for (let i = 1; i <= 5; i++) await a.store.append(id, partial(String(i)))
      const never = new AbortController().signal
      expect(await b.store.waitFor(id, 0, never, 5000)).toBe(false)
      expect((await b.store.read(id, 0)).map((e) => e.seq)).toEqual([1, 2, 3, 4, 5])
      // B is caught up and waits; A's next append wakes it, and B reads that event though it kept 1–5.
      const waiting = b.store.waitFor(id, 5, never, 5000)
      await a.store.append(id, partial('6'))
      expect(await waiting).toBe(false)
      expect((await b.store.read(id, 5)).map((e) => e.seq)).toEqual([6])
      await b.store.append(id, partial('7'))
      expect((await b.store.read(id, 0)).map((e) => e.seq)).toEqual([1, 2, 3, 4, 5, 6, 7])
      // A trims the session to its newest 3: B, told by the wake message, no longer answers with what was removed.
      await a.store.prune({ idleMs: 3_600_000, compactAfterMs: 3_600_000, maxEventsPerSession: 3 })
      let seen = await b.store.read(id, 0)
      const trimmed = async () => {
        seen = await b.store.read(id, 0)
        return seen[0]?.seq === 5
      }
      await until(trimmed, { what: 'B to read the session as trimmed', describe: () => seen.map((e) => e.seq) })
      expect(seen.map((e) => e.seq)).toEqual([5, 6, 7])
      await Promise.all([a.store.close(), b.store.close()])
    })

    test('appends made in one turn go to Redis together, yet each is answered alone: a refused one fails only itself', async () => {
      const store = await open()
      const [one, two] = [newId(), newId()]
      await store.createSession(one, ECHO)
      await store.createSession(two, ECHO)
      // Redis has the script from here on (a first call sends its text after NOSCRIPT: two calls).
      const warm = newId()
      await store.createSession(warm, ECHO)
      await store.append(warm, partial('x'))
      const calls = await scriptCalls()
      const results = await Promise.allSettled([
        store.append(one, partial('a')),
        store.append(newId(), partial('lost')),
        store.append(two, partial('b')),
        store.append(one, partial('c')),
      ])
      expect(results.map((r) => (r.status === 'fulfilled' ? r.value.seq : (r.reason as { code: string }).code))).toEqual([
        1,
        'SESSION_NOT_FOUND',
        1,
        2,
      ])
      expect(await scriptCalls()).toBe(calls + 1)
      expect((await store.read(one, 0)).map((e) => (e.type === 'partial' ? e.delta : ''))).toEqual(['a', 'c'])
      await store.close()
    })

    test("a Redis that lost its scripts (restarted) still stores one session's appends in the order they were made", async () => {
      // Replies are held while the first append is refused with NOSCRIPT and another instance loads the script: the
      // appends made meanwhile would find it loaded, and must not overtake the first when it is sent again.
      const proxy = new TcpProxy(redis.port)
      const port = await proxy.start()
      const { store } = await openRedis(`redis://127.0.0.1:${port}`, { prefix: `t${newId()}:`, log: silentLogger })
      const id = newId()
      await store.createSession(id, ECHO)
      const client = new RedisClient(redis.url)
      await client.send('SCRIPT', ['FLUSH'])
      proxy.holdReplies()
      const appends = [store.append(id, partial('0'))]
      await until(() => proxy.heldReplies > 0, { what: "Redis's NOSCRIPT answer to the first append" })
      await client.send('SCRIPT', ['LOAD', APPEND])
      client.close()
      for (let i = 1; i < 30; i++) appends.push(store.append(id, partial(String(i))))
      proxy.releaseReplies()
      await Promise.all(appends)
      const deltas = (await store.read(id, 0)).map((e) => (e.type === 'partial' ? Number(e.delta) : -1))
      expect(deltas).toEqual(Array.from({ length: 30 }, (_, i) => i))
      await store.close()
      proxy.stop()
    })

    test('an instance that lost its subscription forgets what it kept: appends it was not told of are read', async () => {
      const prefix = `t${newId()}:`
      const proxy = new TcpProxy(redis.port)
      const a = await openRedis(redis.url, { prefix, log: silentLogger })
      const b = await openRedis(`redis://127.0.0.1:${await proxy.start()}`, { prefix, log: silentLogger })
      const id = newId()
      await a.store.createSession(id, ECHO)
      await a.store.append(id, partial('1'))
      // B knows the head and keeps the newest events: its reads are answered from memory.
      expect(await b.store.waitFor(id, 0, new AbortController().signal, 5000)).toBe(false)
      expect((await b.store.read(id, 0)).map((e) => e.seq)).toEqual([1])
      proxy.cut()
      // Published while B's subscriber is gone: B never hears of it.
      await a.store.append(id, partial('2'))
      proxy.restore()
      await until(
        () =>
          b.store.ping().then(
            () => true,
            () => false,
          ),
        { what: 'B to reconnect and subscribe again' },
      )
      expect((await b.store.read(id, 1)).map((e) => e.seq)).toEqual([2])
      await Promise.all([a.store.close(), b.store.close()])
      proxy.stop()
    })

    test('an unreachable Redis is refused at open with its reason', async () => {
      await expect(openRedis('redis://127.0.0.1:1', { log: silentLogger })).rejects.toThrow()
    })
  })
}

if (available) {
  test('redis store: a chat byte budget is counted in Redis, so a second instance (or a restarted one) meets it too', async () => {
    const prefix = `t${newId()}:`
    const options = { prefix, log: silentLogger, maxSessionBytes: 256 * 1024 }
    const [a, b] = await Promise.all([openRedis(redis.url, options), openRedis(redis.url, options)])
    const id = newId()
    await a.store.createSession(id, ECHO)
    const big = (i: number) => partial(String(i).padEnd(20_000, 'x'))
    for (let i = 0; i < 9; i++) await a.store.append(id, big(i))
    await a.store.close()
    await expect(b.store.append(id, big(9))).rejects.toMatchObject({ code: 'SESSION_FULL', status: 413 })
    await b.store.close()
  })

  test('redis store: retention gives back the bytes of the events it trims', async () => {
    const store = await open({ maxSessionBytes: 256 * 1024 })
    const id = newId()
    await store.createSession(id, ECHO)
    const big = (i: number) => partial(String(i).padEnd(20_000, 'x'))
    for (let i = 0; i < 9; i++) await store.append(id, big(i))
    await expect(store.append(id, big(9))).rejects.toMatchObject({ code: 'SESSION_FULL' })
    await store.prune({ idleMs: 1e12, compactAfterMs: 1e12, maxEventsPerSession: 4 })
    for (let i = 9; i < 14; i++) await store.append(id, big(i))
    await store.close()
  })
}
