import { expect, test } from 'bun:test'
import { MemoryStore } from '../../src/store/memory-store.ts'
import { newId } from '../../src/session-id.ts'
import { partial, storeContract } from './store.contract.ts'

storeContract('memory', () => new MemoryStore())

test('memory store drops the oldest events past its bound and never reuses a seq', async () => {
  const store = new MemoryStore({ maxEventsPerSession: 10 })
  const id = newId()
  await store.createSession(id)
  for (let i = 0; i < 25; i++) await store.append(id, partial(String(i)))
  const kept = await store.read(id, 0)
  expect(kept.length).toBeLessThanOrEqual(10)
  expect(kept.at(-1)?.seq).toBe(25)
  expect(kept[0]!.seq).toBeGreaterThan(1)
  expect(kept.map((e) => e.seq)).toEqual(Array.from({ length: kept.length }, (_, i) => kept[0]!.seq + i))
})
