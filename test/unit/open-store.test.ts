import { afterEach, describe, expect, test } from 'bun:test'
import type { AppError } from '../../src/errors.ts'
import type { NewEvent } from '../../src/events.ts'
import { silentLogger } from '../../src/log.ts'
import type { EventStore } from '../../src/log/event-store.ts'
import { Metrics } from '../../src/metrics.ts'
import { openStore, type StoreLimits } from '../../src/open-store.ts'
import { newId } from '../../src/session-id.ts'
import { ECHO } from '../helpers/echo-spec.ts'

const partial = (delta: string): NewEvent => ({ type: 'partial', step_id: 'r', ts: new Date().toISOString(), delta })

const refusal = (attempt: Promise<unknown>) =>
  attempt.then(
    () => undefined,
    (error: AppError) => error,
  )

let store: EventStore | undefined
afterEach(() => store?.close())

const opened = async (storeLimits: StoreLimits) => {
  store = (await openStore({ kind: 'memory' }, { storeLimits, redis: {}, metrics: new Metrics(), log: silentLogger })).store
  return store
}

describe('openStore hands the store it builds the one storeLimits', () => {
  test('maxSessions', async () => {
    const store = await opened({ maxSessions: 1 })
    await store.createSession(newId(), ECHO)
    expect((await refusal(store.createSession(newId(), ECHO)))?.message).toContain('--max-sessions')
  })

  test('maxEvents', async () => {
    const store = await opened({ maxEvents: 1 })
    const id = newId()
    await store.createSession(id, ECHO)
    await store.append(id, partial('a'))
    expect((await refusal(store.append(id, partial('b'))))?.message).toContain('--max-events')
  })

  test('maxStoreBytes', async () => {
    const store = await opened({ maxStoreBytes: 128 * 1024 })
    const id = newId()
    await store.createSession(id, ECHO)
    expect((await refusal(store.append(id, partial('x'.repeat(100 * 1024)))))?.message).toContain('--max-store-bytes')
  })

  test('maxEventsPerSession', async () => {
    const store = await opened({ maxEventsPerSession: 10 })
    const id = newId()
    await store.createSession(id, ECHO)
    for (let i = 0; i < 25; i++) await store.append(id, partial(String(i)))
    expect((await store.read(id, 0)).length).toBeLessThanOrEqual(10)
  })
})
