import { describe, expect, test } from 'bun:test'
import type { NewEvent } from '../../src/events.ts'
import { MemoryBackend } from '../../src/log/backends/memory-backend.ts'
import { CUT_NOTE, eventBytes } from '../../src/log/byte-budget.ts'
import { newId } from '../../src/session-id.ts'
import { MemoryStore } from '../../src/store/memory-store.ts'
import { ECHO } from '../helpers/echo-spec.ts'

/**
 * Issue 20: the memory store held events parsed, so 112 tool calls of 99,000 `{}` (33 MB of JSON) held 875 MB under a
 * 32 MiB --max-store-bytes. It now holds each event as its JSON string, which is what every budget counts, and what
 * it hands out is a copy, so a parsed event lives only as long as a reader (or the core's small cache) keeps it.
 */
const emptyObjects = (i: number): NewEvent => ({
  type: 'tool-call',
  step_id: 'r',
  ts: new Date().toISOString(),
  tool_call: { id: `c${i}`, name: 'n', input: Array.from({ length: 99_000 }, () => ({})) },
})

describe('the memory store holds events as their JSON', () => {
  test('the backend keeps data strings and hands out copies of its entries', async () => {
    const backend = new MemoryBackend()
    await backend.create({ log: 'a', meta: '{}' }, 0)
    await backend.append([{ log: 'a', data: '{"x":1}', bytes: 7, exempt: false }], { maxLogBytes: 100, reserveBytes: 0 }, 0)
    const [first, second] = [await backend.read('a', 0, 1), await backend.read('a', 0, 1)]
    expect(first).toEqual([{ seq: 1, data: '{"x":1}' }])
    expect(first[0]).not.toBe(second[0])
  })

  test('readers of a live chat share one parsed copy of a text event, never of one holding outside JSON', async () => {
    const store = new MemoryStore()
    const id = newId()
    await store.createSession(id, ECHO)
    await store.append(id, { type: 'partial', step_id: 'r', ts: new Date().toISOString(), delta: 'x' })
    await store.append(id, {
      type: 'tool-call',
      step_id: 'r',
      ts: new Date().toISOString(),
      tool_call: { id: 'c', name: 'n', input: [{}, {}] },
    })
    const [first, second] = [await store.read(id, 0), await store.read(id, 0)]
    expect(first).toEqual(second)
    expect(first[0]).toBe(second[0]!)
    expect(first[1]).not.toBe(second[1]!)
  })

  test('a store of 8 MiB takes such events up to their JSON, and a run going still gets its closing event, cut to fit', async () => {
    const store = new MemoryStore({ maxStoreBytes: 8 * 1024 * 1024 })
    const id = newId()
    await store.createSession(id, ECHO)
    let stored = 0
    for (let i = 0; i < 40; i++) {
      const refused = await store.append(id, emptyObjects(i)).then(
        () => undefined,
        (error) => error,
      )
      if (refused) {
        expect(refused).toMatchObject({ code: 'STORE_FULL', status: 503 })
        break
      }
      stored++
    }
    expect(stored).toBe(Math.floor((8 * 1024 * 1024 - 64 * 1024) / eventBytes(emptyObjects(10))))
    const final = await store.append(id, { type: 'final', step_id: 'r', ts: new Date().toISOString(), text: 'y'.repeat(1_000_000) })
    expect((final as { text: string }).text).toEndWith(CUT_NOTE)
  })
})
