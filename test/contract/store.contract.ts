import { afterEach, beforeEach, describe, expect, test } from 'bun:test'
import type { Notifier } from '../../src/bus/notifier.ts'
import type { AppError } from '../../src/errors.ts'
import type { NewEvent, StoredEvent } from '../../src/events.ts'
import { CLOSING_RESERVE_BYTES } from '../../src/limits.ts'
import { CUT_NOTE, storedBytes } from '../../src/log/byte-budget.ts'
import { canPrune, type EventStore } from '../../src/log/event-store.ts'
import { canKeepProducers, type ProducerMark, withProducerMark } from '../../src/log/producer-state.ts'
import { ID_PATTERN, newId } from '../../src/session-id.ts'
import { ECHO } from '../helpers/echo-spec.ts'
import { QUIET_MS, settlesWithin, within } from '../helpers/wait.ts'
import { storeRules } from './store-rules.contract.ts'

const ts = () => new Date().toISOString()
const DAY = 24 * 60 * 60 * 1000
export const partial = (delta: string, step_id = 'step-1'): NewEvent => ({ type: 'partial', step_id, ts: ts(), delta })

/**
 * What a wait on `id` comes to: the error code it was refused with, or that it woke, or that it still waited when a
 * yardstick ended — a wait on a quiet session of the same store, started first, that only its timeout can end. The
 * wait on `id` has the same timeout: parked too, it would time out after the yardstick (the older of two equal
 * timeouts ends first), and one that hangs without parking loses as well. No clock decides it: only a refusal that
 * does not wait beats the yardstick.
 */
async function waitOutcome(store: EventStore, id: string): Promise<string | undefined> {
  const quiet = newId()
  await store.createSession(quiet, ECHO)
  const stop = new AbortController()
  const yardstick = store.waitFor(quiet, 0, stop.signal, 3_000).then(() => 'still waiting when the quiet wait ended')
  try {
    return await Promise.race([
      store.waitFor(id, 0, new AbortController().signal, 3_000).then(
        () => 'woke',
        (error: { code?: string }) => error.code,
      ),
      yardstick,
    ])
  } finally {
    stop.abort()
  }
}

/** What the contract asks of a store besides its defaults. */
export interface ContractOptions {
  /** The store's per-session byte budget (`--max-session-bytes`). */
  maxSessionBytes?: number
  /** Events kept per session, enforced on append (`--max-events-per-session`). */
  maxEventsPerSession?: number
  /** Store-wide limits: sessions, events and their bytes (`--max-sessions`, `--max-events`, `--max-store-bytes`). */
  maxSessions?: number
  maxEvents?: number
  maxStoreBytes?: number
  /** The wake-ups the store uses (a spy, to see what it registers). */
  notifier?: Notifier
}

/** The one behaviour every EventStore must have; each implementation's test file calls this with a factory. */
export function storeContract(name: string, open: (options?: ContractOptions) => Promise<EventStore> | EventStore) {
  describe(`EventStore contract: ${name}`, () => {
    let store: EventStore
    beforeEach(async () => {
      store = await open()
    })
    afterEach(async () => {
      await store.close()
    })

    test('a new session has an empty log at seq 0', async () => {
      const id = newId()
      const created = await store.createSession(id, ECHO)
      expect(created.last_seq).toBe(0)
      expect(await store.getSession(id)).toMatchObject({ id, last_seq: 0 })
      expect(await store.read(id, 0)).toEqual([])
    })

    test('every session gets its own viewer id, which finds it; an owner id or an unknown id finds nothing', async () => {
      const ids = [newId(), newId(), newId()]
      const created = await Promise.all(ids.map((id) => store.createSession(id, ECHO)))
      const viewers = created.map((session) => session.viewer_id)
      expect(new Set([...ids, ...viewers]).size).toBe(6)
      for (const [i, viewer] of viewers.entries()) {
        expect(viewer).toMatch(ID_PATTERN)
        expect((await store.getSession(ids[i]!))?.viewer_id).toBe(viewer)
        expect(await store.getSessionByViewer(viewer)).toMatchObject({ id: ids[i]!, viewer_id: viewer, last_seq: 0 })
      }
      await store.append(ids[0]!, partial('x'))
      expect((await store.getSessionByViewer(viewers[0]!))?.last_seq).toBe(1)
      expect(await store.getSessionByViewer(ids[0]!)).toBeUndefined()
      expect(await store.getSessionByViewer(newId())).toBeUndefined()
      expect(await store.getSession(viewers[0]!)).toBeUndefined()
    })

    test('an unknown session is undefined and cannot be appended to', async () => {
      expect(await store.getSession(newId())).toBeUndefined()
      await expect(store.append(newId(), partial('x'))).rejects.toMatchObject({ code: 'SESSION_NOT_FOUND' })
    })

    test('creating the same session twice is refused', async () => {
      const id = newId()
      await store.createSession(id, ECHO)
      await expect(store.createSession(id, ECHO)).rejects.toMatchObject({ status: 400 })
    })

    test('append assigns 1, 2, 3… and read returns events after a cursor in order', async () => {
      const id = newId()
      await store.createSession(id, ECHO)
      for (const letter of 'abcde') await store.append(id, partial(letter))
      const all = await store.read(id, 0)
      expect(all.map((e) => e.seq)).toEqual([1, 2, 3, 4, 5])
      expect(all.map((e) => (e.type === 'partial' ? e.delta : ''))).toEqual(['a', 'b', 'c', 'd', 'e'])
      expect(all[0]).toMatchObject({ session_id: id, step_id: 'step-1', type: 'partial' })
      expect((await store.read(id, 3)).map((e) => e.seq)).toEqual([4, 5])
      expect((await store.read(id, 1, 2)).map((e) => e.seq)).toEqual([2, 3])
      expect(await store.read(id, 5)).toEqual([])
      expect((await store.getSession(id))?.last_seq).toBe(5)
    })

    test('every event type round-trips unchanged', async () => {
      const id = newId()
      await store.createSession(id, ECHO)
      const events: NewEvent[] = [
        { type: 'user', step_id: 's', ts: ts(), text: 'hi <b>' },
        { type: 'start', step_id: 's', ts: ts(), step_type: 'echo' },
        { type: 'partial', step_id: 's', ts: ts(), delta: '😀\r\n' },
        { type: 'tool-call', step_id: 's', ts: ts(), tool_call: { id: 'c1', name: 'add', input: { a: 1, b: [2] } } },
        { type: 'tool-result', step_id: 's', ts: ts(), tool_result: { id: 'c1', result: 3 } },
        { type: 'final', step_id: 's', ts: ts(), text: 'done' },
        { type: 'interrupt', step_id: 's', ts: ts(), text: 'do' },
        { type: 'error', step_id: 's', ts: ts(), error: 'The model is unavailable.' },
      ]
      for (const event of events) await store.append(id, event)
      const read = await store.read(id, 0)
      expect(read).toEqual(events.map((e, i) => ({ ...e, seq: i + 1, session_id: id })) as never)
    })

    test('invalid events are refused with a sentence and take no seq', async () => {
      const id = newId()
      await store.createSession(id, ECHO)
      const bad = { type: 'partial', step_id: 's', ts: ts(), text: 'no delta' } as unknown as NewEvent
      await expect(store.append(id, bad)).rejects.toMatchObject({ code: 'INVALID_EVENT' })
      const unknownType = { type: 'telepathy', step_id: 's', ts: ts() } as unknown as NewEvent
      await expect(store.append(id, unknownType)).rejects.toThrow(/unknown event type/)
      expect((await store.append(id, partial('ok'))).seq).toBe(1)
    })

    test('sessions have independent sequences', async () => {
      const a = newId()
      const b = newId()
      await store.createSession(a, ECHO)
      await store.createSession(b, ECHO)
      await store.append(a, partial('a1'))
      await store.append(b, partial('b1'))
      await store.append(a, partial('a2'))
      expect((await store.read(a, 0)).map((e) => e.seq)).toEqual([1, 2])
      expect((await store.read(b, 0)).map((e) => e.seq)).toEqual([1])
    })

    test('concurrent appends to many sessions keep each sequence strictly consecutive', async () => {
      const ids = Array.from({ length: 50 }, newId)
      await Promise.all(ids.map((id) => store.createSession(id, ECHO)))
      const writers = ids.flatMap((id) =>
        Array.from({ length: 4 }, (_, w) =>
          (async () => {
            for (let i = 0; i < 10; i++) await store.append(id, partial(`${w}:${i}`, `step-${w}`))
          })(),
        ),
      )
      await Promise.all(writers)
      for (const id of ids) {
        const events = await store.read(id, 0)
        expect(events.map((e) => e.seq)).toEqual(Array.from({ length: 40 }, (_, i) => i + 1))
        for (let w = 0; w < 4; w++) {
          const mine = events.filter((e) => e.step_id === `step-${w}`).map((e) => (e.type === 'partial' ? e.delta : ''))
          expect(mine).toEqual(Array.from({ length: 10 }, (_, i) => `${w}:${i}`))
        }
      }
    })

    test('appends to one session issued without waiting get consecutive seqs in the order they were made', async () => {
      const id = newId()
      await store.createSession(id, ECHO)
      const stored = await Promise.all(Array.from({ length: 50 }, (_, i) => store.append(id, partial(String(i)))))
      expect(stored.map((e) => e.seq)).toEqual(Array.from({ length: 50 }, (_, i) => i + 1))
      const read = await store.read(id, 0)
      expect(read.map((e) => (e.type === 'partial' ? e.delta : ''))).toEqual(Array.from({ length: 50 }, (_, i) => String(i)))
    })

    test('once an append resolves, its event is readable and a waiter behind it returns at once', async () => {
      const id = newId()
      await store.createSession(id, ECHO)
      const stored = await store.append(id, partial('x'))
      expect(await store.read(id, stored.seq - 1)).toEqual([stored])
      expect((await store.getSession(id))?.last_seq).toBe(stored.seq)
      await store.waitFor(id, stored.seq - 1, new AbortController().signal)
    })

    test('waitFor resolves at once when the log is already past the cursor', async () => {
      const id = newId()
      await store.createSession(id, ECHO)
      await store.append(id, partial('x'))
      await store.waitFor(id, 0, new AbortController().signal)
    })

    test('waitFor wakes on the next append', async () => {
      const id = newId()
      await store.createSession(id, ECHO)
      const waiting = store.waitFor(id, 0, new AbortController().signal)
      // Nothing can tell that a wait has not ended yet: a quiet while without the append shows it does not end alone.
      expect(await settlesWithin(waiting, QUIET_MS)).toBe(false)
      await store.append(id, partial('x'))
      expect(await within(waiting, { what: 'the wait to wake on the append' })).toBe(false)
    })

    test('waitFor is released by its AbortSignal', async () => {
      const id = newId()
      await store.createSession(id, ECHO)
      const controller = new AbortController()
      const waiting = store.waitFor(id, 0, controller.signal)
      controller.abort()
      await waiting
      expect(await store.read(id, 0)).toEqual([])
    })

    test('many readers of one session all wake on one append', async () => {
      const id = newId()
      await store.createSession(id, ECHO)
      const readers = Array.from({ length: 20 }, () => store.waitFor(id, 0, new AbortController().signal))
      await store.append(id, partial('x'))
      await Promise.all(readers)
    })

    test('waitFor says when its timeout passed first, and not when an append woke it', async () => {
      const id = newId()
      await store.createSession(id, ECHO)
      expect(await store.waitFor(id, 0, new AbortController().signal, 10)).toBe(true)
      const woken = store.waitFor(id, 0, new AbortController().signal, 10_000)
      await store.append(id, partial('x'))
      expect(await woken).toBe(false)
    })

    test('an unknown session: reads nothing, and waiting on it is refused at once, not forever', async () => {
      const unknown = newId()
      expect(await store.read(unknown, 0)).toEqual([])
      expect(await waitOutcome(store, unknown)).toBe('SESSION_NOT_FOUND')
    })

    test('a cursor past the head reads nothing and waits for an event after it; getSession tells the head', async () => {
      const id = newId()
      await store.createSession(id, ECHO)
      for (const letter of 'abc') await store.append(id, partial(letter))
      expect(await store.read(id, 40)).toEqual([])
      expect((await store.getSession(id))?.last_seq).toBe(3)
      expect(await store.waitFor(id, 40, new AbortController().signal, 20)).toBe(true)
    })

    test('an already-aborted wait returns at once, and an abort releases a wait that watches several signals', async () => {
      const id = newId()
      await store.createSession(id, ECHO)
      const aborted = AbortSignal.abort()
      expect(await store.waitFor(id, 0, aborted, 10_000)).toBe(false)
      const [a, b] = [new AbortController(), new AbortController()]
      const waiting = store.waitFor(id, 0, [a.signal, b.signal], 10_000)
      b.abort()
      expect(await waiting).toBe(false)
      // The released wait left nothing behind that a later append would trip over.
      expect((await store.append(id, partial('x'))).seq).toBe(1)
    })

    test('a publisher session keeps its token hash; other sessions have none', async () => {
      const id = newId()
      const hash = 'ab'.repeat(32)
      const created = await store.createSession(id, { name: 'published' }, { publisherHash: hash })
      expect(created.publisher_hash).toBe(hash)
      expect((await store.getSession(id))?.publisher_hash).toBe(hash)
      const plain = await store.createSession(newId(), ECHO)
      expect(plain.publisher_hash).toBeUndefined()
      expect((await store.getSession(plain.id))?.publisher_hash).toBeUndefined()
    })

    test('the session step is recorded at creation and read back', async () => {
      const id = newId()
      const created = await store.createSession(id, { name: 'custom', options: { model: 'm', temperature: 0.5 } })
      expect(created.step).toEqual({ name: 'custom', options: { model: 'm', temperature: 0.5 } })
      expect((await store.getSession(id))?.step).toEqual({ name: 'custom', options: { model: 'm', temperature: 0.5 } })
      expect((await store.getSession((await store.createSession(newId(), ECHO)).id))?.step).toEqual({ name: 'echo' })
    })

    describe('retention, for a store that prunes', () => {
      const policy = { idleMs: 30 * DAY, maxEventsPerSession: 1000, compactAfterMs: 60 * 60 * 1000 }
      const prunable = () => {
        if (!canPrune(store)) throw new Error('every store prunes: retention must not be silently ignored')
        return store
      }
      const run = async (id: string, step: string, deltas: string, end?: 'final' | 'error') => {
        await store.append(id, { type: 'user', step_id: step, ts: ts(), text: 'q' })
        for (const delta of deltas) await store.append(id, partial(delta, step))
        if (end === 'final') await store.append(id, { type: 'final', step_id: step, ts: ts(), text: deltas })
        if (end === 'error') await store.append(id, { type: 'error', step_id: step, ts: ts(), error: 'It failed.' })
      }

      test('compaction leaves holes mid-log: reads stay ascending, limits count events, a cursor in a hole reads past it', async () => {
        const id = newId()
        await store.createSession(id, ECHO)
        await run(id, 'r1', 'abc', 'final') // 1 user, 2-4 partials, 5 final
        await run(id, 'r2', 'de', 'error') // 6 user, 7-8 partials (kept: an error has no text), 9 error
        const report = await prunable().prune(policy, new Date(Date.now() + 2 * 60 * 60 * 1000))
        expect(report.partialsCompacted).toBe(3)
        expect((await store.read(id, 0)).map((e) => e.seq)).toEqual([1, 5, 6, 7, 8, 9])
        expect((await store.read(id, 0, 3)).map((e) => e.seq)).toEqual([1, 5, 6])
        expect((await store.read(id, 2, 2)).map((e) => e.seq)).toEqual([5, 6])
        expect((await store.getSession(id))?.last_seq).toBe(9)
        expect((await store.append(id, partial('next'))).seq).toBe(10)
      })

      test('an idle session is deleted with its events; its waiting streams are woken and further waits refused', async () => {
        const id = newId()
        await store.createSession(id, ECHO)
        await run(id, 'r1', 'ab', 'final')
        const viewerId = (await store.getSession(id))!.viewer_id
        const waiting = store.waitFor(id, 4, new AbortController().signal, 10_000)
        const report = await prunable().prune({ ...policy, idleMs: 60 * 60 * 1000 }, new Date(Date.now() + 2 * DAY))
        expect(report.sessionsDeleted).toBeGreaterThanOrEqual(1)
        expect(await waiting).toBe(false)
        expect(await store.getSession(id)).toBeUndefined()
        expect(await store.getSessionByViewer(viewerId)).toBeUndefined()
        expect(await store.read(id, 0)).toEqual([])
        expect(await waitOutcome(store, id)).toBe('SESSION_NOT_FOUND')
      })

      test('the per-session cap keeps the newest events, so the head and the seq go on', async () => {
        const id = newId()
        await store.createSession(id, ECHO)
        for (let i = 0; i < 30; i++) await store.append(id, partial(String(i)))
        const report = await prunable().prune({ ...policy, maxEventsPerSession: 10 })
        expect(report.eventsCapped).toBe(20)
        expect((await store.read(id, 0)).map((e) => e.seq)).toEqual(Array.from({ length: 10 }, (_, i) => 21 + i))
        expect((await store.append(id, partial('next'))).seq).toBe(31)
      })
    })

    describe('readBefore: the newest events before a seq, bounded in bytes', () => {
      const sized = (i: number) => partial(`${i}:`.padEnd(1000, 'ä'))
      const bytesOf = (events: StoredEvent[]) => events.reduce((sum, e) => sum + storedBytes(e), 0)

      test('reads back from the end within the bytes given, ascending and contiguous, then page by page to the start', async () => {
        const id = newId()
        await store.createSession(id, ECHO)
        for (let i = 1; i <= 40; i++) await store.append(id, sized(i))
        const one = storedBytes((await store.read(id, 0, 1))[0]!)
        const last = await store.readBefore(id, 41, 5 * one + 10)
        expect(last.map((e) => e.seq)).toEqual([36, 37, 38, 39, 40])
        expect(bytesOf(last)).toBeLessThanOrEqual(5 * one + 10)
        expect((await store.readBefore(id, 10, 3 * one)).map((e) => e.seq)).toEqual([7, 8, 9])
        const seen: number[] = []
        for (let before = 41; ; ) {
          const page = await store.readBefore(id, before, 7 * one)
          if (page.length === 0) break
          seen.unshift(...page.map((e) => e.seq))
          before = page[0]!.seq
        }
        expect(seen).toEqual(Array.from({ length: 40 }, (_, i) => i + 1))
      })

      test('an event larger than the bytes given is read alone; nothing before seq 1, nothing of an unknown session', async () => {
        const id = newId()
        await store.createSession(id, ECHO)
        await store.append(id, sized(1))
        await store.append(id, partial('x'.repeat(50_000)))
        expect((await store.readBefore(id, 3, 1000)).map((e) => e.seq)).toEqual([2])
        expect(await store.readBefore(id, 1, 1_000_000)).toEqual([])
        expect(await store.readBefore(newId(), 5, 1_000_000)).toEqual([])
        expect(await store.readBefore(id, Number.MAX_SAFE_INTEGER, 1_000_000)).toEqual(await store.read(id, 0))
      })
    })

    describe('the per-session byte budget', () => {
      const BUDGET = 256 * 1024
      let small: EventStore
      beforeEach(async () => {
        small = await open({ maxSessionBytes: BUDGET })
      })
      afterEach(async () => {
        await small.close()
      })
      const chunk = (i: number) => partial(`${i}`.padEnd(10_000, 'é'))

      /** Appends 20 KB partials until one is refused (a store with no budget stops after 50); returns the refusal and the bytes stored. */
      const fill = async (id: string) => {
        let refused: AppError | undefined
        for (let i = 0; i < 50 && !refused; i++) {
          refused = await small.append(id, chunk(i)).then(
            () => undefined,
            (error: AppError) => error,
          )
        }
        return { refused, bytes: (await small.read(id, 0)).reduce((sum, e) => sum + storedBytes(e), 0) }
      }

      test('a full chat refuses new events with 413 SESSION_FULL naming the flag, takes no seq, and other chats go on', async () => {
        const [id, other] = [newId(), newId()]
        await small.createSession(id, ECHO)
        await small.createSession(other, ECHO)
        const { refused, bytes } = await fill(id)
        expect(refused).toMatchObject({ code: 'SESSION_FULL', status: 413 })
        expect(refused?.message).toContain('--max-session-bytes')
        expect(bytes).toBeLessThanOrEqual(BUDGET - CLOSING_RESERVE_BYTES)
        expect(bytes).toBeGreaterThan(BUDGET - CLOSING_RESERVE_BYTES - 30_000)
        const head = (await small.getSession(id))!.last_seq
        await expect(small.append(id, { type: 'user', step_id: 'u', ts: ts(), text: 'one more'.padEnd(30_000) })).rejects.toMatchObject({
          code: 'SESSION_FULL',
        })
        expect((await small.getSession(id))!.last_seq).toBe(head)
        expect((await small.append(other, chunk(0))).seq).toBe(1)
      })

      test('a run already going still gets its closing event, its text cut to fit the budget with a note', async () => {
        const id = newId()
        await small.createSession(id, ECHO)
        await fill(id)
        const text = 'ü'.repeat(200_000)
        const final = await small.append(id, { type: 'final', step_id: 'step-1', ts: ts(), text })
        expect(final.type).toBe('final')
        const kept = final.type === 'final' ? final.text : ''
        expect(kept.endsWith(CUT_NOTE)).toBe(true)
        expect(kept.length).toBeGreaterThan(20_000)
        const read = await small.read(id, 0)
        expect(read.at(-1)).toEqual(final)
        expect(read.reduce((sum, e) => sum + storedBytes(e), 0)).toBeLessThanOrEqual(BUDGET)
        // A second run that was already going closes too, with what little is left, and nothing else gets in.
        const error = await small.append(id, {
          type: 'error',
          step_id: 'step-2',
          ts: ts(),
          error: 'x'.repeat(5000),
          text: 'y'.repeat(9000),
        })
        expect(error.type).toBe('error')
        await expect(small.append(id, partial('z'))).rejects.toMatchObject({ code: 'SESSION_FULL' })
      })

      test('a closing event that fits is stored unchanged', async () => {
        const id = newId()
        await small.createSession(id, ECHO)
        const final: NewEvent = { type: 'final', step_id: 'step-1', ts: ts(), text: 'all of it' }
        expect(await small.append(id, final)).toMatchObject(final)
      })
    })

    test('ping answers while the store is open', async () => {
      await store.ping()
    })

    describe('producer state', () => {
      const producers = () => {
        if (!canKeepProducers(store)) throw new Error(`the ${name} store keeps no producer state`)
        return store
      }
      const mark = (runId: string, producerId: string, seq: number, more: Partial<ProducerMark> = {}): ProducerMark => ({
        runId,
        producerId,
        epoch: 0,
        seq,
        appended: 1,
        closed: false,
        ...more,
      })

      test('an event carrying a producer mark stores the mark with it, and readers see the event alone', async () => {
        const id = newId()
        await store.createSession(id, ECHO)
        const event = partial('counted', 'run-1')
        const stored = await store.append(id, withProducerMark(event, mark('run-1', 'p', 0)))
        expect(stored).toEqual({ ...event, seq: 1, session_id: id })
        expect(await store.read(id, 0)).toEqual([stored])
        expect(await producers().producerState(id, 'run-1', 'p')).toEqual({ epoch: 0, seq: 0, appended: 1, closed: false })
        await store.append(id, withProducerMark(partial('next', 'run-1'), mark('run-1', 'p', 1, { appended: 2, closed: true })))
        expect(await producers().producerState(id, 'run-1', 'p')).toEqual({ epoch: 0, seq: 1, appended: 2, closed: true })
        expect(await producers().producerCount(id)).toBe(1)
      })

      test('an append that is refused stores no mark', async () => {
        const id = newId()
        await store.createSession(id, ECHO)
        const invalid = { type: 'partial', step_id: 'run-1', ts: ts(), delta: 42 } as unknown as NewEvent
        await expect(store.append(id, withProducerMark(invalid, mark('run-1', 'p', 0)))).rejects.toMatchObject({ code: 'INVALID_EVENT' })
        expect(await producers().producerState(id, 'run-1', 'p')).toBeUndefined()
        expect(await producers().producerCount(id)).toBe(0)
      })

      test('state is kept per session, run and producer: one session’s producers never touch another’s', async () => {
        const [a, b] = [newId(), newId()]
        await Promise.all([store.createSession(a, ECHO), store.createSession(b, ECHO)])
        await store.append(a, withProducerMark(partial('a', 'run-1'), mark('run-1', 'p', 0)))
        for (let i = 0; i < 20; i++) await producers().markProducer(b, mark('run-1', `p${i}`, 0, { appended: 0 }))
        await producers().markProducer(b, mark('run-2', 'p', 3))
        expect(await producers().producerState(a, 'run-1', 'p')).toMatchObject({ seq: 0, appended: 1 })
        expect(await producers().producerState(b, 'run-2', 'p')).toMatchObject({ seq: 3 })
        expect(await producers().producerState(a, 'run-2', 'p')).toBeUndefined()
        expect(await producers().producerState(b, 'run-1', 'p0')).toMatchObject({ seq: 0, appended: 0 })
        expect([await producers().producerCount(a), await producers().producerCount(b)]).toEqual([1, 21])
        // Forgetting the closed runs of b keeps b's open run, and all of a.
        await producers().forgetProducers(b, 'run-2')
        expect([await producers().producerCount(a), await producers().producerCount(b)]).toEqual([1, 1])
        expect(await producers().producerState(b, 'run-2', 'p')).toMatchObject({ seq: 3 })
      })

      test('a mark written alone keeps the refusal a partly applied request got; an unknown session has none', async () => {
        const id = newId()
        await store.createSession(id, ECHO)
        const failure = { code: 'RUN_CANCELLED', message: 'cancelled', fields: { cancelled: true } }
        await producers().markProducer(id, mark('run-1', 'a producer id, with spaces', 4, { failure }))
        expect(await producers().producerState(id, 'run-1', 'a producer id, with spaces')).toEqual({
          epoch: 0,
          seq: 4,
          appended: 1,
          closed: false,
          failure,
        })
        await expect(producers().markProducer(newId(), mark('run-1', 'p', 0))).rejects.toMatchObject({ code: 'SESSION_NOT_FOUND' })
      })

      test('retention deletes an idle session’s producer state with it', async () => {
        if (!canPrune(store)) throw new Error('every store prunes')
        const idle = newId()
        await store.createSession(idle, ECHO)
        await store.append(idle, withProducerMark(partial('a', 'run-1'), mark('run-1', 'p', 0)))
        await store.prune({ idleMs: 60 * 60 * 1000, maxEventsPerSession: 1000, compactAfterMs: DAY }, new Date(Date.now() + 2 * DAY))
        expect(await store.getSession(idle)).toBeUndefined()
        expect(await producers().producerState(idle, 'run-1', 'p')).toBeUndefined()
        expect(await producers().producerCount(idle)).toBe(0)
      })
    })

    storeRules(name, open)
  })
}
