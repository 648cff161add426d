import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { RedisClient } from 'bun'
import { RedisBackend } from '../../src/log/backends/redis-backend.ts'
import { APPEND, DELETE } from '../../src/log/backends/redis-backend-scripts.ts'
import { type LogBackend, StoreFailure } from '../../src/log/log-backend.ts'
import { LogCore } from '../../src/log/log-core.ts'
import { redisLogKeys } from '../../src/redis/redis-keys.ts'
import { RedisLink } from '../../src/redis/redis-link.ts'
import { RedisSubscriber } from '../../src/redis/redis-subscriber.ts'
import { newId } from '../../src/session-id.ts'
import { redisAvailable, startRedis, type TestRedis } from '../helpers/redis-server.ts'
import { TcpProxy } from '../helpers/tcp-proxy.ts'
import { eventually, QUIET_MS, until, within } from '../helpers/wait.ts'
import { backendContract, entry } from './backend.contract.ts'
import { slowTests } from '../helpers/slow-tests.ts'

// These tests start redis-server, which may take up to READY_MS on a loaded machine.
slowTests()
const available = redisAvailable('the Redis log backend contract')
let redis: TestRedis
beforeAll(async () => {
  if (available) redis = await startRedis()
})
afterAll(async () => {
  await redis?.destroy()
})

const LIMITS = { maxLogBytes: 64 * 1024 * 1024, reserveBytes: 1024 }
const NOW = 1_700_000_000_000

/** A backend as an instance runs it: a command connection and a subscribed one, under `prefix`. */
async function openBackend(prefix: string, url = redis.url, subscriberUrl = url): Promise<RedisBackend> {
  const link = await RedisLink.open(url)
  const subscriber = new RedisSubscriber(await RedisLink.open(subscriberUrl))
  const backend = new RedisBackend({ link, keys: redisLogKeys(prefix), subscriber, onClose: () => subscriber.close() })
  await backend.listen()
  return backend
}

/** One command on a connection of the test's own. */
async function command(name: string, args: string[]): Promise<unknown> {
  const client = new RedisClient(redis.url)
  try {
    return await client.send(name, args)
  } finally {
    client.close()
  }
}

/** How many times Redis has run the commands matching `name` so far, from INFO commandstats. */
const calls = async (name: RegExp) => {
  const info = (await command('INFO', ['commandstats'])) as string
  return [...info.matchAll(new RegExp(`^cmdstat_${name.source}:calls=(\\d+)`, 'gm'))].reduce((sum, m) => sum + Number(m[1]), 0)
}
/** Scripts Redis has run so far (EVALSHA and EVAL). */
const scriptCalls = () => calls(/eval(?:sha)?/)

if (available) {
  // Each backend gets its own key prefix, so totals and indexes start empty; `reopen` opens one on the same prefix.
  let prefix = ''
  const fresh = () => {
    prefix = `t${newId()}:`
    return openBackend(prefix)
  }
  backendContract('redis', fresh, () => openBackend(prefix))

  describe('redis backend', () => {
    const two = async (): Promise<[RedisBackend, RedisBackend]> => {
      const shared = `t${newId()}:`
      return [await openBackend(shared), await openBackend(shared)]
    }
    const closeAll = (...backends: LogBackend[]) => Promise.all(backends.map((b) => b.close()))

    test('two instances appending to one log take consecutive seqs, never colliding', async () => {
      const [a, b] = await two()
      const log = newId()
      await a.create({ log, meta: '' }, NOW)
      const outcomes = await Promise.all(
        Array.from({ length: 20 }, (_, i) => (i % 2 ? a : b).append([entry(log, String(i)), entry(log, String(i))], LIMITS, NOW)),
      )
      expect(outcomes.flat().sort((x, y) => Number(x) - Number(y))).toEqual(Array.from({ length: 40 }, (_, i) => i + 1))
      expect(await b.state(log)).toMatchObject({ head: 40, count: 40 })
      await closeAll(a, b)
    })

    test('two instances deciding from one read of a producer: exactly one stores its entry, the other is told STALE', async () => {
      const [a, b] = await two()
      const log = newId()
      await a.create({ log, meta: '' }, NOW)
      for (let round = 0; round < 10; round++) {
        const held = (await a.producer(log, 'p')) ?? null
        const write = (backend: RedisBackend, who: string) =>
          backend.append(
            [entry(log, `"${who}${round}"`, { producers: [{ key: 'p', value: `${who}${round}`, expect: held }] })],
            LIMITS,
            NOW,
          )
        const outcomes = (await Promise.all([write(a, 'a'), write(b, 'b')])).flat()
        expect(outcomes.filter((o) => o === 'STALE')).toHaveLength(1)
        expect(outcomes.filter((o) => typeof o === 'number')).toEqual([round + 1])
      }
      expect(await b.state(log)).toMatchObject({ head: 10, count: 10 })
      await closeAll(a, b)
    })

    test('a log soft-deleted on one instance is gone on the other, and goes there with its last fork', async () => {
      const [a, b] = await two()
      const [coreA, coreB] = [new LogCore(a), new LogCore(b)]
      const [source, fork] = [newId(), newId()]
      await coreA.create({ log: source, meta: '', entries: ['"1"'] })
      await coreA.fork(source, 1, { log: fork, meta: '' })
      await coreB.append({ log: source, data: '"2"', exempt: false })
      // A waiter there, parked at the head, is woken (by its own append's answer, then by the delete's message) and told at last.
      const waiting = (async () => {
        for (;;) await coreB.waitFor(source, 2, new AbortController().signal, 3_600_000)
      })()
      expect(await coreA.delete(source)).toBe('SOFT')
      await expect(within(waiting, { what: 'GONE on the other instance' })).rejects.toMatchObject({ code: 'GONE' })
      await expect(coreB.append({ log: source, data: '"3"', exempt: false })).rejects.toMatchObject({ code: 'GONE' })
      expect(await coreB.delete(fork)).toEqual({ logs: 2, entries: 3, bytes: 9 })
      expect(await coreA.state(source)).toBeUndefined()
      await closeAll(a, b)
    })

    test('DELETE refuses a chain that is not as its caller read it, and changes nothing', async () => {
      const prefix = `t${newId()}:`
      const backend = await openBackend(prefix)
      const k = redisLogKeys(prefix)
      const [source, fork] = [newId(), newId()]
      await backend.create({ log: source, meta: '' }, NOW)
      await backend.fork(source, 0, { log: fork, meta: '' }, NOW)
      expect(await backend.delete(source, NOW)).toBe('SOFT')
      const group = (log: string) => [k.state(log), k.entries(log), k.producers(log), k.aliases(log), k.runs(log), k.lease(log)]
      const shared = [k.activity, k.expiry, k.openRuns, k.totals]
      const del = (keys: string[], args: string[]) =>
        command('EVAL', [DELETE, String(keys.length), ...keys, ...[k.wakeChannel, '', String(NOW), ...args]])
      // Read before the source was deleted: its source is only lowered. It is soft-deleted and would be left without forks.
      expect(await del([...shared, k.state(source), ...group(fork)], [source, '1', fork, '0'])).toBe(-1)
      // Read as having no source at all.
      expect(await del([...shared, ...group(fork)], ['', '1', fork, '0'])).toBe(-1)
      // Read as taking its source along, which is live (not soft-deleted).
      const [live, branch] = [newId(), newId()]
      await backend.create({ log: live, meta: '' }, NOW)
      await backend.fork(live, 0, { log: branch, meta: '' }, NOW)
      expect(await del([...shared, ...group(branch), ...group(live)], ['', '2', branch, '0', live, '0'])).toBe(-1)
      expect(await backend.state(live)).toMatchObject({ forks: 1 })
      expect((await backend.state(source))?.forks).toBe(1)
      expect(await backend.state(fork)).toBeDefined()
      expect(await backend.delete(fork, NOW)).toEqual({ logs: 2, entries: 0, bytes: 0 })
      await backend.close()
    })

    test("two instances' totals drift only until a recount: then each counts the store as Redis does", async () => {
      const [a, b] = await two()
      const [coreA, coreB] = [new LogCore(a, { maxEntriesPerLog: 8 }), new LogCore(b, { maxEntriesPerLog: 8 })]
      const logs = [newId(), newId(), newId()]
      for (const log of logs) await coreA.create({ log, meta: '' })
      const appends = (core: LogCore, log: string) =>
        Array.from({ length: 10 }, (_, i) => core.append({ log, data: `"${i}"`, exempt: false }).catch(() => undefined))
      // Each appends to logs the other trims, compacts and deletes.
      await Promise.all([
        ...logs.flatMap((log) => [...appends(coreA, log), ...appends(coreB, log)]),
        coreA.keepNewest(logs[0]!, 2),
        coreB.deleteEntries(logs[1]!, [1, 2, 3]),
        coreA.delete(logs[2]!),
      ])
      await Promise.all([coreA.settled(), coreB.settled()])
      const truth = await a.totals()
      expect([await coreA.totals(), await coreB.totals()]).not.toEqual([truth, truth])
      await Promise.all([coreA.recount(), coreB.recount()])
      expect(await coreA.totals()).toEqual(truth)
      expect(await coreB.totals()).toEqual(truth)
      await Promise.all([coreA.close(), coreB.close()])
    })

    test("another instance hears each batch's new head, and a bare change for deletes, trims and compactions", async () => {
      const [a, b] = await two()
      const heard: [string, number | undefined][] = []
      b.onRemoteChange((log, head) => heard.push([log, head]))
      const [one, other] = [newId(), newId()]
      await a.create({ log: one, meta: '' }, NOW)
      await a.create({ log: other, meta: '' }, NOW)
      await a.append([entry(one, '1'), entry(other, '1'), entry(one, '2')], LIMITS, NOW)
      await until(() => heard.length >= 2, { what: 'the wake message' })
      expect(heard).toEqual([
        [one, 2],
        [other, 1],
      ])
      heard.length = 0
      await a.deleteEntries(one, [1])
      await a.keepNewest(one, 0)
      await a.delete(other, NOW)
      await until(() => heard.length >= 3, { what: 'the change messages' })
      expect(heard).toEqual([
        [one, undefined],
        [one, undefined],
        [other, undefined],
      ])
      // A log whose id holds a newline, or what looks like an encoding, is still named whole.
      heard.length = 0
      const odd = 'x 7\ny%0A%'
      await a.create({ log: odd, meta: '' }, NOW)
      await a.append([entry(odd, '1')], LIMITS, NOW)
      await until(() => heard.length >= 1, { what: 'the wake message' })
      expect(heard).toEqual([[odd, 1]])
      await closeAll(a, b)
    })

    test('another instance hears that a batch closed a log, with its head', async () => {
      const [a, b] = await two()
      const heard: [string, number | undefined, boolean | undefined][] = []
      b.onRemoteChange((log, head, closed) => heard.push([log, head, closed]))
      const [open, shut] = [newId(), newId()]
      await a.create({ log: open, meta: '' }, NOW)
      await a.create({ log: shut, meta: '' }, NOW)
      await a.append([entry(open, '1'), entry(shut, '1'), entry(shut, null, { closesLog: true })], LIMITS, NOW)
      await until(() => heard.length >= 2, { what: 'the wake message' })
      expect(heard).toEqual([
        [open, 1, false],
        [shut, 1, true],
      ])
      await closeAll(a, b)
    })

    test('a lost subscription reports every log as changed once it is back', async () => {
      const backend = await openBackend(`t${newId()}:`)
      let resets = 0
      backend.onRemoteReset(() => resets++)
      await command('CLIENT', ['KILL', 'TYPE', 'pubsub'])
      await until(() => resets > 0, { what: 'the reset' })
      await backend.close()
    })

    test("a leased run's entries are stored only while it is the open run and holds the lease", async () => {
      const prefix = `t${newId()}:`
      const backend = await openBackend(prefix)
      const keys = redisLogKeys(prefix)
      const log = newId()
      await backend.create({ log, meta: '' }, NOW)
      // What the run coordinator's CLAIM does: the lease, the open run, and the run recorded as leased.
      await command('SET', [keys.lease(log), 'r1'])
      await command('SADD', [keys.runs(log), 'r1'])
      await command('HSET', [keys.state(log), 'open_run', 'r1', 'run_from', '0'])
      const fenced = (data: string, more = {}) => entry(log, data, { run: 'r1', fenced: true, ...more })
      expect(await backend.append([fenced('"a"', { opensRun: true })], LIMITS, NOW)).toEqual([1])
      await command('SET', [keys.lease(log), 'r2'])
      expect(await backend.append([fenced('"b"')], LIMITS, NOW)).toEqual(['FENCED'])
      // Recovery waits for the lease to be gone, then closes the run once.
      const recover = entry(log, '"interrupt"', { run: 'r1', closesRun: true, exempt: true, recovers: true })
      expect(await backend.append([recover], LIMITS, NOW)).toEqual(['FENCED'])
      await command('DEL', [keys.lease(log)])
      expect(await backend.append([recover, fenced('"late"')], LIMITS, NOW)).toEqual([2, 'FENCED'])
      // A run never leased (a single instance's, or a publisher's) is not fenced.
      expect(await backend.append([entry(log, '"free"', { run: 'r9', fenced: true })], LIMITS, NOW)).toEqual([3])
      await backend.close()
    })

    test('readers asking the same at once share one request', async () => {
      const backend = await openBackend(`t${newId()}:`)
      const log = newId()
      await backend.create({ log, meta: '' }, NOW)
      await backend.append([entry(log, '1'), entry(log, '2')], LIMITS, NOW)
      const [reads, looks] = [await calls(/xrange/), await calls(/hgetall/)]
      const answers = await Promise.all(Array.from({ length: 50 }, () => backend.read(log, 0, 10)))
      const states = await Promise.all(Array.from({ length: 50 }, () => backend.state(log)))
      // Each caller gets its own copy: one that changes its answer changes nobody else's.
      expect(answers.every((a, i) => a.length === 2 && (i === 0 || a !== answers[0]))).toBe(true)
      expect(states.every((s) => s?.head === 2)).toBe(true)
      expect([await calls(/xrange/), await calls(/hgetall/)]).toEqual([reads + 1, looks + 1])
      await backend.close()
    })

    /** A core whose instance's commands go through a proxy the test can hold or cut; its subscription is direct. */
    const proxied = async () => {
      const proxy = new TcpProxy(redis.port)
      const backend = await openBackend(`t${newId()}:`, `redis://127.0.0.1:${await proxy.start()}`, redis.url)
      const core = new LogCore(backend)
      const log = newId()
      await core.create({ log, meta: '', entries: ['"1"'] })
      // A first wait looks the log's state up: from then on its head and expiry are known here.
      expect(await core.waitFor(log, 0, new AbortController().signal)).toBe(false)
      return { proxy, core, log }
    }

    test("an instance's own append reaches its readers from what it holds: its wake message, heard before the script's answer, sends none to Redis", async () => {
      const { proxy, core, log } = await proxied()
      const woken = core.waitFor(log, 1, new AbortController().signal, 3_600_000).then(() => core.read(log, 1, 10))
      const [reads, scripts] = [await calls(/xrange/), await scriptCalls()]
      proxy.holdReplies()
      const appended = core.append({ log, data: '"2"', exempt: false })
      await until(async () => (await scriptCalls()) > scripts, { what: 'the append to run' })
      // Redis has run the script and published its message; the answer is held. A reader woken by the message would
      // find the head past what is cached, and read Redis now.
      const readBack = until(async () => (await calls(/xrange/)) > reads, { timeoutMs: QUIET_MS }).then(
        () => true,
        () => false,
      )
      expect(await readBack).toBe(false)
      proxy.releaseReplies()
      expect(await appended).toEqual({ seq: 2, data: '"2"' })
      expect(await woken).toEqual([{ seq: 2, data: '"2"' }])
      expect(await calls(/xrange/)).toBe(reads)
      await core.close()
      proxy.stop()
    })

    test("an append whose answer is lost wakes the instance's readers (its own message is skipped), who find what it stored", async () => {
      const { proxy, core, log } = await proxied()
      const woken = core.waitFor(log, 1, new AbortController().signal, 3_600_000)
      const scripts = await scriptCalls()
      proxy.holdReplies()
      const appended = core.append({ log, data: '"2"', exempt: false })
      await until(async () => (await scriptCalls()) > scripts, { what: 'the append to run' })
      proxy.cut()
      await expect(appended).rejects.toMatchObject({ code: 'STORE_UNAVAILABLE' })
      expect(await within(woken, { what: 'the reader to be woken' })).toBe(false)
      proxy.releaseReplies()
      proxy.restore()
      const found = await eventually(() =>
        core.read(log, 1, 10).then(
          (entries) => (entries.length > 0 ? entries : undefined),
          () => undefined,
        ),
      )
      expect(found).toEqual([{ seq: 2, data: '"2"' }])
      await core.close()
      proxy.stop()
    })

    test('a read asked after a wake message is not answered by one asked before it', async () => {
      // A's commands answer 100 ms late; its wake messages come at once.
      const proxy = new TcpProxy(redis.port, 100)
      const shared = `t${newId()}:`
      const a = await openBackend(shared, `redis://127.0.0.1:${await proxy.start()}`, redis.url)
      const b = await openBackend(shared)
      const log = newId()
      await b.create({ log, meta: '' }, NOW)
      let woken = false
      a.onRemoteChange(() => {
        woken = true
      })
      const reads = await calls(/xrange/)
      const before = a.read(log, 0, 10)
      // Redis has answered it (the answer is on its way, late) before B appends.
      await until(async () => (await calls(/xrange/)) > reads, { what: 'the first read to reach Redis' })
      await b.append([entry(log, '"new"')], LIMITS, NOW)
      await until(() => woken, { what: 'the wake message' })
      const after = a.read(log, 0, 10)
      expect(await before).toEqual([])
      expect(await after).toEqual([{ seq: 1, data: '"new"' }])
      await Promise.all([a.close(), b.close()])
      proxy.stop()
    })

    test('edges: a fork at 0, keeping as many as there are, reads before 1 and before 0', async () => {
      const backend = await openBackend(`t${newId()}:`)
      const log = newId()
      await backend.create({ log, meta: '' }, NOW)
      await backend.append([entry(log, '1')], LIMITS, NOW)
      const target = newId()
      expect(await backend.fork(log, 0, { log: target, meta: '' }, NOW)).toEqual({ entries: 0, bytes: 0 })
      expect(await backend.state(target)).toMatchObject({ head: 0, count: 0, bytes: 0 })
      expect(await backend.keepNewest(log, 1)).toEqual({ entries: 0, bytes: 0 })
      expect(await backend.state(log)).toMatchObject({ head: 1, tail: 0, count: 1 })
      expect(await backend.readBefore(log, 1, 100)).toEqual([])
      expect(await backend.readBefore(log, 0, 100)).toEqual([])
      await backend.close()
    })

    test('an entry without data takes no room: a full log can still be closed', async () => {
      const backend = await openBackend(`t${newId()}:`)
      const log = newId()
      await backend.create({ log, meta: '' }, NOW)
      const tight = { maxLogBytes: 100, reserveBytes: 10 }
      await backend.append([entry(log, 'x'.repeat(95), { exempt: true })], tight, NOW)
      expect(await backend.append([entry(log, '1'), entry(log, null, { closesLog: true })], tight, NOW)).toEqual(['FULL', 1])
      await backend.close()
    })

    test('a big batch goes in parts of at most 256 entries, one script call each, in order', async () => {
      const backend = await openBackend(`t${newId()}:`)
      const log = newId()
      await backend.create({ log, meta: '' }, NOW)
      await backend.append([entry(log, '0')], LIMITS, NOW)
      const calls = await scriptCalls()
      const outcomes = await backend.append(
        Array.from({ length: 600 }, (_, i) => entry(log, String(i + 1))),
        LIMITS,
        NOW,
      )
      expect(outcomes).toEqual(Array.from({ length: 600 }, (_, i) => i + 2))
      expect(await scriptCalls()).toBe(calls + 3)
      await backend.close()
    })

    test('a fork and a cap of a large log go in bounded script calls, and count what they moved', async () => {
      const backend = await openBackend(`t${newId()}:`)
      const log = newId()
      await backend.create({ log, meta: '' }, NOW)
      const data = 'x'.repeat(1000)
      for (let i = 0; i < 6; i++)
        await backend.append(
          Array.from({ length: 500 }, () => entry(log, data)),
          LIMITS,
          NOW,
        )
      const target = newId()
      let calls = await scriptCalls()
      expect(await backend.fork(log, 2500, { log: target, meta: '' }, NOW)).toEqual({ entries: 2500, bytes: 2_500_000 })
      expect(await scriptCalls()).toBeGreaterThan(calls + 3)
      expect(await backend.state(target)).toMatchObject({ head: 2500, count: 2500, bytes: 2_500_000 })
      expect((await backend.read(target, 2498, 10)).map((e) => e.seq)).toEqual([2499, 2500])
      calls = await scriptCalls()
      expect(await backend.keepNewest(log, 1000)).toEqual({ entries: 2000, bytes: 2_000_000 })
      expect(await scriptCalls()).toBeGreaterThan(calls + 2)
      expect(await backend.state(log)).toMatchObject({ head: 3000, tail: 2000, count: 1000, bytes: 1_000_000 })
      expect((await backend.totals()).entries).toBe(3500)
      await backend.close()
    })

    test('an append to a fork still being copied finds no log, and the copy never mixes with it', async () => {
      const prefix = `t${newId()}:`
      const [a, b] = [await openBackend(prefix), await openBackend(prefix)]
      const log = newId()
      await a.create({ log, meta: '' }, NOW)
      for (let i = 0; i < 4; i++)
        await a.append(
          Array.from({ length: 250 }, () => entry(log, 'y'.repeat(2000))),
          LIMITS,
          NOW,
        )
      const target = newId()
      const forking = a.fork(log, 1000, { log: target, meta: '' }, NOW)
      const early = await b.append([entry(target, '"early"')], LIMITS, NOW)
      expect(await forking).toEqual({ entries: 1000, bytes: 2_000_000 })
      expect(['NO_LOG', 1001]).toContain(early[0]!)
      const seqs = (await b.read(target, 0, 2000)).map((e) => e.seq)
      expect(seqs).toEqual(Array.from({ length: seqs.length }, (_, i) => i + 1))
      await closeAll(a, b)
    })

    test("a batch refused with NOSCRIPT (Redis restarted) is stored before the log's next batch, sent while it was refused", async () => {
      const proxy = new TcpProxy(redis.port)
      const backend = await openBackend(`t${newId()}:`, `redis://127.0.0.1:${await proxy.start()}`, redis.url)
      const log = newId()
      await backend.create({ log, meta: '' }, NOW)
      await command('SCRIPT', ['FLUSH'])
      proxy.holdReplies()
      const first = backend.append([entry(log, '"first"')], LIMITS, NOW)
      await until(() => proxy.heldReplies > 0, { what: "Redis's NOSCRIPT answer to the first batch" })
      // Another instance loads the script meanwhile: a second batch sent now would be run at once, before the first
      // is sent again with the script's text.
      await command('SCRIPT', ['LOAD', APPEND])
      const second = backend.append([entry(log, '"second"')], LIMITS, NOW)
      // The second waits for the first to be answered. Nothing tells that a batch was NOT sent: a quiet while would
      // let one that was reach Redis and be answered.
      const secondRan = until(() => proxy.heldReplies > 1, { timeoutMs: QUIET_MS }).then(
        () => true,
        () => false,
      )
      expect(await secondRan).toBe(false)
      proxy.releaseReplies()
      expect(await Promise.all([first, second])).toEqual([[1], [2]])
      expect((await backend.read(log, 0, 10)).map((e) => e.data)).toEqual(['"first"', '"second"'])
      await backend.close()
      proxy.stop()
    })

    test('a Redis that cannot be reached fails the call with a StoreFailure and a reason', async () => {
      const proxy = new TcpProxy(redis.port)
      const port = await proxy.start()
      const backend = await openBackend(`t${newId()}:`, `redis://127.0.0.1:${port}`)
      const log = newId()
      await backend.create({ log, meta: '' }, NOW)
      proxy.cut()
      await until(
        async () =>
          await backend.ping().then(
            () => false,
            () => true,
          ),
        { what: 'the connection to drop' },
      )
      const failed = await backend.append([entry(log, '1')], LIMITS, NOW).catch((error: unknown) => error)
      expect(failed).toBeInstanceOf(StoreFailure)
      expect((failed as StoreFailure).reason).toBe('its Redis store cannot be reached right now')
      await expect(backend.state(log)).rejects.toBeInstanceOf(StoreFailure)
      await backend.close()
      proxy.stop()
    })
  })
}
