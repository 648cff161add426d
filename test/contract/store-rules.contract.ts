import { afterEach, describe, expect, test } from 'bun:test'
import type { Notifier } from '../../src/bus/notifier.ts'
import { SessionSignal, type StopSignal } from '../../src/bus/session-signal.ts'
import type { AppError } from '../../src/errors.ts'
import type { NewEvent } from '../../src/events.ts'
import { newId } from '../../src/session-id.ts'
import { canFork, canRecover, type EventStore } from '../../src/log/event-store.ts'
import { canKeepProducers, withProducerMark } from '../../src/log/producer-state.ts'
import { readAll } from '../../src/store/read-all.ts'
import { ECHO } from '../helpers/echo-spec.ts'
import type { ContractOptions } from './store.contract.ts'

const ts = () => new Date().toISOString()
const partial = (delta: string, step_id = 'run-1'): NewEvent => ({ type: 'partial', step_id, ts: ts(), delta })
const user = (step_id: string): NewEvent => ({ type: 'user', step_id, ts: ts(), text: 'q' })
const final = (step_id: string, text = 'done'): NewEvent => ({ type: 'final', step_id, ts: ts(), text })

/** What `attempt` came to: undefined when it resolved, or the AppError it was refused with. */
const refusal = (attempt: Promise<unknown>) =>
  attempt.then(
    () => undefined,
    (error: AppError) => error,
  )

/**
 * The rules the log core applies, the same on every store (issue 21: they disagreed where the contract did not look):
 * the one answer after close, the per-session cap on append, STORE_FULL, producer state with its event, recovery of
 * open runs, waits on unknown sessions, and branches. Called from storeContract with its factory.
 */
export function storeRules(name: string, open: (options?: ContractOptions) => Promise<EventStore> | EventStore) {
  describe(`the rules every store applies alike: ${name}`, () => {
    const opened: EventStore[] = []
    const openStore = async (options?: ContractOptions) => {
      const store = await open(options)
      opened.push(store)
      return store
    }
    afterEach(async () => {
      for (const store of opened.splice(0)) await store.close()
    })

    test('after close() an append is refused with 503 and the shutting-down sentence, and so is a wait', async () => {
      const store = await openStore()
      const id = newId()
      await store.createSession(id, ECHO)
      await store.append(id, partial('kept'))
      await store.close()
      const refused = await refusal(store.append(id, partial('late')))
      expect(refused).toMatchObject({ code: 'STORE_UNAVAILABLE', status: 503 })
      expect(refused?.message).toMatch(/shutting down/)
      await expect(store.waitFor(id, 0, new AbortController().signal)).rejects.toMatchObject({ code: 'STORE_UNAVAILABLE' })
      // Closing twice is safe.
      await store.close()
    })

    test('the per-session cap is applied on append: the newest events stay, the seq goes on, no hole inside', async () => {
      const store = await openStore({ maxEventsPerSession: 10 })
      const id = newId()
      await store.createSession(id, ECHO)
      for (let i = 0; i < 25; i++) await store.append(id, partial(String(i)))
      // The cap trims beside the appends, once each is answered: it has trimmed soon after the last.
      let kept = await store.read(id, 0)
      for (const deadline = Date.now() + 5000; kept.length > 10 && Date.now() < deadline; kept = await store.read(id, 0)) await Bun.sleep(1)
      expect(kept.length).toBeLessThanOrEqual(10)
      expect(kept.length).toBeGreaterThanOrEqual(8)
      expect(kept.at(-1)?.seq).toBe(25)
      expect(kept.map((e) => e.seq)).toEqual(Array.from({ length: kept.length }, (_, i) => kept[0]!.seq + i))
      expect((await store.append(id, partial('next'))).seq).toBe(26)
    })

    test('past its sessions a store refuses a new one with 503 STORE_FULL, a Retry-After and the flag', async () => {
      const store = await openStore({ maxSessions: 1 })
      await store.createSession(newId(), ECHO)
      const refused = await refusal(store.createSession(newId(), ECHO))
      expect(refused).toMatchObject({ code: 'STORE_FULL', status: 503, retryAfterSeconds: 60 })
      expect(refused?.message).toContain('--max-sessions')
    })

    test('concurrent creates never pass the cap on sessions: exactly that many are made, the rest refused as full', async () => {
      const store = await openStore({ maxSessions: 3 })
      const outcomes = await Promise.all(Array.from({ length: 10 }, () => refusal(store.createSession(newId(), ECHO))))
      expect(outcomes.filter((outcome) => outcome === undefined)).toHaveLength(3)
      for (const refused of outcomes.filter((outcome) => outcome !== undefined)) {
        expect(refused).toMatchObject({ code: 'STORE_FULL', status: 503, retryAfterSeconds: 60 })
        expect(refused?.message).toContain('--max-sessions')
      }
    })

    test('past its events a store refuses all but a closing event with 503 STORE_FULL; a run going still closes', async () => {
      const store = await openStore({ maxEvents: 3 })
      const id = newId()
      await store.createSession(id, ECHO)
      for (const event of [user('r'), partial('a', 'r'), partial('b', 'r')]) await store.append(id, event)
      const refused = await refusal(store.append(id, partial('c', 'r')))
      expect(refused).toMatchObject({ code: 'STORE_FULL', status: 503, retryAfterSeconds: 60 })
      expect(refused?.message).toContain('--max-events')
      expect((await store.append(id, final('r'))).seq).toBe(4)
    })

    test('past its bytes a store refuses new events with 503 STORE_FULL naming the flag; closing events still land', async () => {
      const store = await openStore({ maxStoreBytes: 256 * 1024 })
      const ids = [newId(), newId(), newId()]
      for (const id of ids) await store.createSession(id, ECHO)
      let refused: AppError | undefined
      for (let i = 0; i < 50 && !refused; i++) refused = await refusal(store.append(ids[i % 3]!, partial(String(i).padEnd(20_000, 'x'))))
      expect(refused).toMatchObject({ code: 'STORE_FULL', status: 503 })
      expect(refused?.message).toContain('--max-store-bytes')
      expect((await store.append(ids[2]!, final('step-1'))).seq).toBeGreaterThan(0)
    })

    test('an event refused for want of room stores no producer mark', async () => {
      const store = await openStore({ maxSessionBytes: 128 * 1024 })
      if (!canKeepProducers(store)) throw new Error(`the ${name} store keeps no producer state`)
      const id = newId()
      await store.createSession(id, ECHO)
      const mark = { runId: 'run-1', producerId: 'p', epoch: 0, seq: 0, appended: 1, closed: false }
      await store.append(id, withProducerMark(partial('a'), mark))
      const big = withProducerMark(partial('x'.repeat(100_000)), { ...mark, seq: 1, appended: 2 })
      expect(await refusal(store.append(id, big))).toMatchObject({ code: 'SESSION_FULL' })
      expect(await store.producerState(id, 'run-1', 'p')).toMatchObject({ seq: 0, appended: 1 })
    })

    test('a wait on an unknown session is refused at once and registers nothing', async () => {
      const signal = new SessionSignal()
      let waits = 0
      const notifier: Notifier = {
        notify: (id) => signal.notify(id),
        wait: (id: string, stop: StopSignal, timeoutMs?: number) => {
          waits++
          return signal.wait(id, stop, timeoutMs)
        },
      }
      const store = await openStore({ notifier })
      // The yardstick: a wait on a quiet session, parked first, that only its timeout can end. The wait on the unknown
      // session has the same timeout: parked too, it would time out after the yardstick (one timer list, oldest
      // first), and one that hangs without parking loses to it as well. Only a refusal that does not wait beats it.
      const quiet = newId()
      await store.createSession(quiet, ECHO)
      const stopQuiet = new AbortController()
      const yardstick = store.waitFor(quiet, 0, stopQuiet.signal, 3_000).then(() => 'the quiet wait ended first')
      for (const deadline = Date.now() + 5000; waits === 0 && Date.now() < deadline; ) await Bun.sleep(1)
      expect(waits).toBe(1)
      const outcome = await Promise.race([
        store.waitFor(newId(), 0, new AbortController().signal, 3_000).then(
          () => 'woke',
          (error: { code?: string }) => error.code,
        ),
        yardstick,
      ])
      stopQuiet.abort()
      expect(outcome).toBe('SESSION_NOT_FOUND')
      expect(waits).toBe(1)
      // The spy is the store's own: a wait on a session it has registers there.
      waits = 0
      const id = newId()
      await store.createSession(id, ECHO)
      const waiting = store.waitFor(id, 0, new AbortController().signal, 10_000)
      // Appended before the wait registers, the append's answer could reach a shared store (Redis) first, and the
      // wait would see the new head without registering at all.
      for (const deadline = Date.now() + 5000; waits === 0 && Date.now() < deadline; ) await Bun.sleep(1)
      expect(waits).toBeGreaterThan(0)
      await store.append(id, partial('x'))
      expect(await waiting).toBe(false)
    })

    test('recovery closes every open run with an interrupt holding what it streamed, once; closed runs stay as they are', async () => {
      const store = await openStore()
      if (!canRecover(store)) throw new Error(`the ${name} store cannot recover runs`)
      const [streaming, asked, done] = [newId(), newId(), newId()]
      for (const id of [streaming, asked, done]) await store.createSession(id, ECHO)
      for (const event of [
        user('r1'),
        { type: 'start', step_id: 'r1', ts: ts(), step_type: 'echo' } as NewEvent,
        partial('he', 'r1'),
        partial('llo', 'r1'),
      ])
        await store.append(streaming, event)
      await store.append(asked, user('r2'))
      for (const event of [user('r3'), partial('x', 'r3'), final('r3', 'x')]) await store.append(done, event)
      const recovered = await store.recoverOpenRuns()
      expect(
        recovered.filter((r) => [streaming, asked, done].includes(r.sessionId)).sort((a, b) => a.stepId.localeCompare(b.stepId)),
      ).toEqual([
        { sessionId: streaming, stepId: 'r1', seq: 5 },
        { sessionId: asked, stepId: 'r2', seq: 2 },
      ])
      expect((await readAll(store, streaming)).at(-1)).toMatchObject({ type: 'interrupt', step_id: 'r1', text: 'hello', seq: 5 })
      expect((await readAll(store, asked)).at(-1)).toMatchObject({ type: 'interrupt', step_id: 'r2', text: '' })
      expect((await readAll(store, done)).map((e) => e.type)).toEqual(['user', 'partial', 'final'])
      expect((await store.recoverOpenRuns()).filter((r) => [streaming, asked, done].includes(r.sessionId))).toEqual([])
    })

    test('a branch holds the events up to its point with the same seqs, its own viewer id, and goes its own way', async () => {
      const store = await openStore()
      if (!canFork(store)) throw new Error(`the ${name} store cannot branch a chat`)
      const [source, branch] = [newId(), newId()]
      const created = await store.createSession(source, { name: 'custom', options: { model: 'm' } })
      for (const letter of 'abcde') await store.append(source, partial(letter))
      const forked = await store.forkSession(source, 3, branch)
      expect(forked).toMatchObject({ id: branch, last_seq: 3, step: { name: 'custom', options: { model: 'm' } } })
      expect(forked.viewer_id).not.toBe(created.viewer_id)
      expect(await store.getSessionByViewer(forked.viewer_id)).toMatchObject({ id: branch, last_seq: 3 })
      const events = await store.read(branch, 0)
      expect(events.map((e) => [e.seq, e.type === 'partial' ? e.delta : '', e.session_id])).toEqual([
        [1, 'a', branch],
        [2, 'b', branch],
        [3, 'c', branch],
      ])
      expect((await store.append(branch, partial('z'))).seq).toBe(4)
      expect((await store.read(source, 3)).map((e) => (e.type === 'partial' ? e.delta : ''))).toEqual(['d', 'e'])
      await expect(store.forkSession(source, 99, newId())).rejects.toMatchObject({ status: 400 })
      await expect(store.forkSession(newId(), 1, newId())).rejects.toMatchObject({ code: 'SESSION_NOT_FOUND' })
      await expect(store.forkSession(source, 1, branch)).rejects.toMatchObject({ status: 400 })
    })

    test('a branch taken while a run streams closes that run in the branch with what it had streamed by then', async () => {
      const store = await openStore()
      if (!canFork(store)) throw new Error(`the ${name} store cannot branch a chat`)
      const [source, branch, after] = [newId(), newId(), newId()]
      await store.createSession(source, ECHO)
      for (const event of [user('r1'), partial('a', 'r1'), final('r1', 'a'), user('r2'), partial('he', 'r2'), partial('llo', 'r2')])
        await store.append(source, event)
      await store.append(source, final('r2', 'hello world'))
      const forked = await store.forkSession(source, 6, branch)
      expect(forked.last_seq).toBe(7)
      const events = await store.read(branch, 0)
      expect(events.map((e) => e.type)).toEqual(['user', 'partial', 'final', 'user', 'partial', 'partial', 'interrupt'])
      expect(events.at(-1)).toMatchObject({ type: 'interrupt', step_id: 'r2', text: 'hello', seq: 7 })
      // At a turn's end nothing is added.
      expect((await store.forkSession(source, 3, after)).last_seq).toBe(3)
      expect((await store.read(after, 0)).at(-1)).toMatchObject({ type: 'final', step_id: 'r1' })
    })
  })
}
