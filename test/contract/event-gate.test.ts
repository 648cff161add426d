import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import type { NewEvent } from '../../src/events.ts'
import { EVENT_TEXT_MAX_CHARS } from '../../src/limits.ts'
import { silentLogger } from '../../src/log.ts'
import { openRedis } from '../../src/redis/redis-open.ts'
import { newId } from '../../src/session-id.ts'
import type { EventStore } from '../../src/log/event-store.ts'
import { MemoryStore } from '../../src/store/memory-store.ts'
import { SqliteStore } from '../../src/store/sqlite-store.ts'
import { redisAvailable, startRedis, type TestRedis } from '../helpers/redis-server.ts'
import { ECHO } from '../helpers/echo-spec.ts'

/**
 * The event gate sits in the core (validateNewEvent), so every store gives the same answers: an event nested past
 * the limit is a 422, one past the bytes an event may weigh a 413, each before it takes a seq or reaches a backend.
 */
const ts = () => new Date().toISOString()
const deep = JSON.parse(`${'['.repeat(60_000)}${']'.repeat(60_000)}`)
const DEEP = { type: 'tool-call', step_id: 'r', ts: ts(), tool_call: { id: 'c', name: 'n', input: deep } } as NewEvent
const text = 'x'.repeat(EVENT_TEXT_MAX_CHARS)
const HEAVY = { type: 'agent-state', step_id: 'r', ts: ts(), state: [text, text, text, text, text, text, text] } as NewEvent

const redisUp = redisAvailable('the event gate on the Redis store')
let redis: TestRedis | undefined
beforeAll(async () => {
  if (redisUp) redis = await startRedis()
})
afterAll(() => redis?.destroy())

const stores: [string, () => Promise<EventStore>][] = [
  ['memory', async () => new MemoryStore()],
  ['sqlite', async () => new SqliteStore(':memory:')],
  ...(redisUp
    ? [
        ['redis', async () => (await openRedis(redis!.url, { prefix: `t${newId()}:`, log: silentLogger })).store] as [
          string,
          () => Promise<EventStore>,
        ],
      ]
    : []),
]

describe.each(stores)('the event gate (%s store)', (_name, open) => {
  test('an event nested too deep is refused with a 422, one too heavy with a 413; neither takes a seq', async () => {
    const store = await open()
    try {
      const id = newId()
      await store.createSession(id, ECHO)
      await expect(store.append(id, DEEP)).rejects.toMatchObject({
        status: 422,
        message: 'tool-call event is nested more than 64 levels deep (the limit).',
      })
      await expect(store.append(id, HEAVY)).rejects.toMatchObject({
        status: 413,
        code: 'EVENT_TOO_LARGE',
        message: 'agent-state event is more than 6,291,456 bytes of JSON (the limit).',
      })
      const ok = await store.append(id, { type: 'partial', step_id: 'r', ts: ts(), delta: 'ok' })
      expect(ok.seq).toBe(1)
    } finally {
      await store.close()
    }
  })
})
