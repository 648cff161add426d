import { expect, test } from 'bun:test'
import type { AppError } from '../../src/errors.ts'
import { MemoryStore } from '../../src/store/memory-store.ts'
import { newId } from '../../src/session-id.ts'
import { partial, storeContract } from './store.contract.ts'
import { ECHO } from '../helpers/echo-spec.ts'

storeContract('memory', (options) => new MemoryStore(options))

test('memory store drops the oldest events past its bound and never reuses a seq', async () => {
  const store = new MemoryStore({ maxEventsPerSession: 10 })
  const id = newId()
  await store.createSession(id, ECHO)
  for (let i = 0; i < 25; i++) await store.append(id, partial(String(i)))
  const kept = await store.read(id, 0)
  expect(kept.length).toBeLessThanOrEqual(10)
  expect(kept.at(-1)?.seq).toBe(25)
  expect(kept[0]!.seq).toBeGreaterThan(1)
  expect(kept.map((e) => e.seq)).toEqual(Array.from({ length: kept.length }, (_, i) => kept[0]!.seq + i))
})

test('memory store: past its store-wide byte budget new events get 503 STORE_FULL naming the flag; closing events still land', async () => {
  const store = new MemoryStore({ maxStoreBytes: 256 * 1024 })
  const ids = [newId(), newId(), newId()]
  for (const id of ids) await store.createSession(id, ECHO)
  let refused: AppError | undefined
  for (let i = 0; i < 50 && !refused; i++) {
    refused = await store.append(ids[i % 3]!, partial(String(i).padEnd(20_000, 'x'))).then(
      () => undefined,
      (error: AppError) => error,
    )
  }
  expect(refused).toMatchObject({ code: 'STORE_FULL', status: 503 })
  expect(refused?.message).toContain('--max-store-bytes')
  const final = await store.append(ids[2]!, { type: 'final', step_id: 'step-1', ts: new Date().toISOString(), text: 'done' })
  expect(final.seq).toBeGreaterThan(0)
  // Retention frees the room of what it deletes.
  await store.prune({ idleMs: 1e12, compactAfterMs: 1e12, maxEventsPerSession: 1 })
  expect((await store.append(ids[0]!, partial('x'.repeat(20_000)))).seq).toBeGreaterThan(0)
})
