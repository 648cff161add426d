import { afterAll, describe, expect, test } from 'bun:test'
import { silentLogger } from '../../src/log.ts'
import type { EventStore } from '../../src/log/event-store.ts'
import type { KeepsProducers, ProducerState } from '../../src/log/producer-state.ts'
import { PUBLISHED_STEP } from '../../src/publish/published-session.ts'
import { Publishing } from '../../src/publish/publishing.ts'
import { openRedis } from '../../src/redis/redis-open.ts'
import { Runner } from '../../src/runs/runner.ts'
import { newId } from '../../src/session-id.ts'
import { echoStep } from '../../src/steps/echo-step.ts'
import { StepRegistry } from '../../src/steps/step-registry.ts'
import { MemoryStore } from '../../src/store/memory-store.ts'
import { SqliteStore } from '../../src/store/sqlite-store.ts'
import { tempDir } from '../durability/helpers.ts'
import { redisAvailable, startRedis, type TestRedis } from '../helpers/redis-server.ts'
import { slowTests } from '../helpers/slow-tests.ts'

/**
 * A producer's request decided from a state read before another request of it was committed (two deciders from one
 * read: a path round the per-producer queue, or another instance) must not be stored twice: the store compares the
 * mark with the state it was decided from, refuses it STALE, and the request is decided again, a duplicate now.
 */

slowTests()

const tmp = tempDir('stepstream-producer-stale-')
let redis: TestRedis | undefined
afterAll(async () => {
  tmp.remove()
  await redis?.destroy()
})

type Store = EventStore & KeepsProducers

/** The store, but its next `producerState` read answers `before`: what a decider that read earlier saw. */
function readingStale(store: Store) {
  let next: { state: ProducerState | undefined } | undefined
  const proxy = new Proxy(store, {
    get(target, property) {
      if (property === 'producerState') {
        return (...args: Parameters<Store['producerState']>) => {
          const answer = next
          next = undefined
          return answer ? Promise.resolve(answer.state) : target.producerState(...args)
        }
      }
      const value = Reflect.get(target, property, target)
      return typeof value === 'function' ? value.bind(target) : value
    },
  })
  return { store: proxy, readsNext: (state: ProducerState | undefined) => (next = { state }) }
}

function staleSuite(backend: string, open: () => Promise<Store>) {
  describe(`a producer's request decided from a stale read (${backend})`, () => {
    test('is refused STALE by the store and decided again: a duplicate, stored once', async () => {
      const real = await open()
      const { store, readsNext } = readingStale(real)
      const runner = new Runner({ store, steps: new StepRegistry([echoStep(0)]), log: silentLogger })
      const publishing = new Publishing({ store, runner, timeoutMs: 60_000 })
      try {
        const session = await store.createSession(newId(), { name: PUBLISHED_STEP })
        const runId = await publishing.openRun(session)
        const send = (seq: number, delta: string) =>
          publishing.publish(
            session,
            runId,
            { json: [{ type: 'partial', delta }] },
            { format: 'stepstream', producer: { id: 'p', seq, epoch: 0 } },
          )
        expect(await send(0, 'zero')).toMatchObject({ result: { appended: 1 } })
        const afterZero = await real.producerState(session.id, runId, 'p')
        // Seq 0 again, decided from a read of before seq 0 was stored (no state: new data).
        readsNext(undefined)
        expect(await send(0, 'zero')).toMatchObject({ duplicate: { epoch: 0, seq: 0 } })
        expect(await send(1, 'one')).toMatchObject({ result: { appended: 1 } })
        // Seq 1 again, decided from a read of before seq 1 was stored.
        readsNext(afterZero)
        expect(await send(1, 'one')).toMatchObject({ duplicate: { epoch: 0, seq: 1 } })
        const deltas = (await real.read(session.id, 0)).flatMap((e) => (e.type === 'partial' ? [e.delta] : []))
        expect(deltas).toEqual(['zero', 'one'])
      } finally {
        await runner.shutdown()
        await real.close()
      }
    })
  })
}

staleSuite('memory', async () => new MemoryStore())
staleSuite('SQLite', async () => new SqliteStore(tmp.file()))
if (redisAvailable('the stale producer reads on Redis')) {
  staleSuite('Redis', async () => {
    redis ??= await startRedis()
    return (await openRedis(redis.url, { prefix: `t${newId()}:`, log: silentLogger })).store
  })
}
