import { describe, expect, test } from 'bun:test'
import { checkNewEvent, type NewEvent } from '../../src/events.ts'
import { newId } from '../../src/session-id.ts'
import { CUT_NOTE, eventBytes } from '../../src/store/byte-budget.ts'
import { heldBytes, MemoryStore } from '../../src/store/memory-store.ts'

/**
 * Issue 20: the memory store counted an event's JSON, but holds it parsed: 112 tool calls of 99,000 `{}` (33 MB of
 * JSON) held 875 MB under a 32 MiB --max-store-bytes. It charges what an event costs to hold.
 */
const emptyObjects = (i: number): NewEvent => ({
  type: 'tool-call',
  step_id: 'r',
  ts: new Date().toISOString(),
  tool_call: { id: `c${i}`, name: 'n', input: Array.from({ length: 99_000 }, () => ({})) },
})

describe('the memory store charges what an event costs to hold', () => {
  test('99,000 `{}` are charged far more than their 297 KB of JSON; text is charged about its JSON', () => {
    const many = emptyObjects(0)
    const json = eventBytes(many)
    expect(heldBytes(json, checkNewEvent(many))).toBeGreaterThan(20 * json)
    const text: NewEvent = { type: 'partial', step_id: 'r', ts: new Date().toISOString(), delta: 'x'.repeat(100_000) }
    expect(heldBytes(eventBytes(text), checkNewEvent(text))).toBeLessThan(1.01 * eventBytes(text))
  })

  test('a store of 8 MiB refuses the second such event, where their JSON would let 26 in', async () => {
    const store = new MemoryStore({ maxStoreBytes: 8 * 1024 * 1024 })
    const id = newId()
    await store.createSession(id)
    let stored = 0
    for (let i = 0; i < 30; i++) {
      try {
        await store.append(id, emptyObjects(i))
        stored++
      } catch (error) {
        expect(error).toMatchObject({ code: 'STORE_FULL', status: 503 })
        break
      }
    }
    expect(stored).toBe(1)
  })

  test('a run going into a store full of them still gets its closing event, cut to fit', async () => {
    const store = new MemoryStore({ maxStoreBytes: 8 * 1024 * 1024 })
    const id = newId()
    await store.createSession(id)
    await store.append(id, emptyObjects(0))
    const final = await store.append(id, { type: 'final', step_id: 'r', ts: new Date().toISOString(), text: 'y'.repeat(1_000_000) })
    expect(final.type).toBe('final')
    // Cut to what the store has left after what the first event costs to hold, not after its JSON.
    expect((final as { text: string }).text).toEndWith(CUT_NOTE)
  })
})
