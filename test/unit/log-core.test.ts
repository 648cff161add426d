import { describe, expect, test } from 'bun:test'
import type { Notifier } from '../../src/bus/notifier.ts'
import { SessionSignal, type StopSignal } from '../../src/bus/session-signal.ts'
import { ACTIVITY_RESOLUTION_MS } from '../../src/limits.ts'
import { MemoryBackend } from '../../src/log/backends/memory-backend.ts'
import {
  type AppendEntry,
  type AppendOutcome,
  type BackendTotals,
  type BatchLimits,
  type DeletedCounts,
  type EntryCounts,
  type LogId,
  type LogState,
  type NewLog,
  type OnPurged,
  MAX_LOG_META_BYTES,
  StoreFailure,
} from '../../src/log/log-backend.ts'
import { LogCore } from '../../src/log/log-core.ts'
import { atOnce, within } from '../helpers/settled.ts'

/** A memory backend that records what the core asks of it, and can hold or fail its answers. */
class SpyBackend extends MemoryBackend {
  readonly batches: AppendEntry[][] = []
  trims = 0
  /** While set, `append` waits for it before storing. */
  hold: Promise<void> | undefined
  /** Called when a batch reaches `append`. */
  onBatch: (() => void) | undefined
  /** While set, `append` fails with it, storing nothing. */
  failure: Error | undefined
  /** While set, `create` fails with it, creating nothing. */
  createFailure: Error | undefined
  /** While set, `totals` answers what they were when asked, but only once this resolves. */
  holdTotals: Promise<void> | undefined
  /** While set, `delete` deletes when asked, but answers only once this resolves. */
  holdDelete: Promise<void> | undefined
  /** While set, `keepNewest` waits for it before deleting. */
  holdTrim: Promise<void> | undefined
  /** While set, `keepNewest` fails with it, deleting nothing. */
  trimFailure: Error | undefined
  /** While set, `state` answers what the log was when asked, but only once this resolves. */
  holdState: Promise<void> | undefined
  #remote: ((log: LogId, head: number | undefined, closed?: boolean) => void) | undefined
  #reset: (() => void) | undefined

  override async append(entries: readonly AppendEntry[], limits: BatchLimits, now: number): Promise<AppendOutcome[]> {
    this.batches.push([...entries])
    this.onBatch?.()
    if (this.hold) await this.hold
    if (this.failure) throw this.failure
    return super.append(entries, limits, now)
  }

  override async create(log: NewLog, now: number, purged?: OnPurged): Promise<boolean> {
    if (this.createFailure) throw this.createFailure
    return super.create(log, now, purged)
  }

  override async totals(): Promise<BackendTotals> {
    const hold = this.holdTotals
    const answer = await super.totals()
    if (hold) await hold
    return answer
  }

  override async delete(log: LogId, now: number): Promise<DeletedCounts | 'SOFT' | undefined> {
    const hold = this.holdDelete
    const answer = await super.delete(log, now)
    if (hold) await hold
    return answer
  }

  override async state(log: LogId): Promise<LogState | undefined> {
    const answer = await super.state(log)
    if (this.holdState) await this.holdState
    return answer
  }

  override async keepNewest(log: LogId, count: number): Promise<EntryCounts> {
    this.trims++
    if (this.holdTrim) await this.holdTrim
    if (this.trimFailure) throw this.trimFailure
    return super.keepNewest(log, count)
  }

  onRemoteChange(listener: (log: LogId, head: number | undefined, closed?: boolean) => void): void {
    this.#remote = listener
  }

  onRemoteReset(listener: () => void): void {
    this.#reset = listener
  }

  /** Another process appends `data` to the log; the message saying so is lost, and the subscription comes back. */
  async missedAppend(log: LogId, data: string): Promise<void> {
    await super.append([{ log, data, bytes: data.length, exempt: false }], { maxLogBytes: 1e9, reserveBytes: 0 }, 0)
    this.#reset?.()
  }

  /** Another process closes the log and says so. */
  async remoteClose(log: LogId): Promise<void> {
    const [head] = await super.append(
      [{ log, data: null, bytes: 0, exempt: false, closesLog: true }],
      { maxLogBytes: 1e9, reserveBytes: 0 },
      0,
    )
    this.#remote?.(log, head as number, true)
  }

  /** Another process appends `data` to the log and says so. */
  async remoteAppend(log: LogId, data: string): Promise<number> {
    const [seq] = await super.append([{ log, data, bytes: data.length, exempt: false }], { maxLogBytes: 1e9, reserveBytes: 0 }, 0)
    this.#remote?.(log, seq as number)
    return seq as number
  }
}

const deferred = () => {
  let release!: () => void
  const promise = new Promise<void>((resolve) => (release = resolve))
  return { promise, release }
}
const entry = (log: string, data: string | null) => ({ log, data, exempt: false })
const never = new AbortController().signal

async function opened(options: ConstructorParameters<typeof LogCore>[1] = {}) {
  const backend = new SpyBackend()
  const core = new LogCore(backend, options)
  await core.create({ log: 'a', meta: '{}' })
  return { backend, core }
}

describe('group commit', () => {
  test('appends made within one turn go to the backend as one batch, in order', async () => {
    const { backend, core } = await opened()
    const stored = await Promise.all(Array.from({ length: 50 }, (_, i) => core.append(entry('a', `"${i}"`))))
    expect(stored.map((s) => s.seq)).toEqual(Array.from({ length: 50 }, (_, i) => i + 1))
    expect(backend.batches.map((b) => b.length)).toEqual([50])
    expect(backend.batches[0]!.map((e) => e.data)).toEqual(Array.from({ length: 50 }, (_, i) => `"${i}"`))
  })

  test('appends made while a batch is on its way go together in the next one; a batch holds at most maxBatch', async () => {
    const { backend, core } = await opened({ maxBatch: 4 })
    const [held, reached] = [deferred(), deferred()]
    backend.hold = held.promise
    backend.onBatch = reached.release
    const first = core.append(entry('a', '"first"'))
    // Once the first batch has reached the backend, add more while it is held there.
    await reached.promise
    const rest = Array.from({ length: 6 }, (_, i) => core.append(entry('a', `"${i}"`)))
    backend.hold = undefined
    held.release()
    await Promise.all([first, ...rest])
    expect(backend.batches.map((b) => b.length)).toEqual([1, 4, 2])
  })

  test('a batch holds at most maxBatchBytes of data, and one entry however big', async () => {
    const { backend, core } = await opened({ maxBatchBytes: 1000 })
    const sizes = [600, 600, 100, 100, 2000, 10]
    await Promise.all(sizes.map((n) => core.append(entry('a', `"${'x'.repeat(n - 2)}"`))))
    expect(backend.batches.map((b) => b.map((e) => e.bytes))).toEqual([[600], [600, 100, 100], [2000], [10]])
  })

  test('a failure of the medium rejects every append of its batch with 503 and its sentence, and leaves nothing', async () => {
    const { backend, core } = await opened()
    backend.failure = new StoreFailure('its disk is full')
    const results = await Promise.allSettled([core.append(entry('a', '"x"')), core.append(entry('a', '"y"'))])
    for (const result of results) {
      expect(result.status).toBe('rejected')
      const reason = (result as PromiseRejectedResult).reason
      expect(reason).toMatchObject({ code: 'STORE_UNAVAILABLE', status: 503 })
      expect(reason.message).toStartWith('The server could not save this because its disk is full.')
    }
    backend.failure = undefined
    expect(await core.read('a', 0, 10)).toEqual([])
    expect((await core.append(entry('a', '"z"'))).seq).toBe(1)
  })

  test('after close() every append is refused as the server shutting down; those taken before are answered', async () => {
    const { core } = await opened()
    const taken = core.append(entry('a', '"before"'))
    const closing = core.close()
    await expect(core.append(entry('a', '"after"'))).rejects.toMatchObject({ code: 'STORE_UNAVAILABLE', status: 503 })
    await expect(core.append(entry('a', '"after"'))).rejects.toThrow(/shutting down/)
    expect((await taken).seq).toBe(1)
    await closing
  })
})

describe('the per-log cap', () => {
  test('is enforced on append, dropping the oldest tenth of the cap at a time', async () => {
    const { backend, core } = await opened({ maxEntriesPerLog: 20 })
    for (let i = 1; i <= 41; i++) await core.append(entry('a', `"${i}"`))
    const state = (await core.state('a'))!
    expect(state.head).toBe(41)
    expect(state.count).toBeLessThanOrEqual(20)
    const kept = await core.read('a', 0, 100)
    expect(kept.at(-1)!.seq).toBe(41)
    expect(kept.map((e) => e.seq)).toEqual(Array.from({ length: kept.length }, (_, i) => kept[0]!.seq + i))
    // One trim per two appends past the cap (a tenth of 20), never one per append.
    expect(backend.trims).toBeLessThanOrEqual(11)
    expect(backend.trims).toBeGreaterThan(0)
  })

  test('counts from what the backend holds: a log already past the cap when the process starts is cut at its first append', async () => {
    const backend = new SpyBackend()
    await backend.create({ log: 'a', meta: '{}' }, 0)
    const limits = { maxLogBytes: 1e9, reserveBytes: 0 }
    await backend.append(
      Array.from({ length: 30 }, (_, i) => ({ log: 'a', data: `"${i}"`, bytes: 3, exempt: false })),
      limits,
      0,
    )
    const core = new LogCore(backend, { maxEntriesPerLog: 20 })
    await core.append(entry('a', '"new"'))
    expect((await core.state('a'))!.count).toBeLessThanOrEqual(20)
  })
})

describe('the per-log cap, beside the commits', () => {
  test('an append racing the cap’s trim is answered without waiting for it, and is readable once the trim is done', async () => {
    const { backend, core } = await opened({ maxEntriesPerLog: 20 })
    const held = deferred()
    backend.holdTrim = held.promise
    for (let i = 1; i <= 21; i++) await core.append(entry('a', `"${i}"`))
    for (const deadline = Date.now() + 5000; backend.trims === 0 && Date.now() < deadline; ) await Bun.sleep(1)
    expect(backend.trims).toBe(1)
    // The trim is held in the backend: this append is answered all the same.
    expect((await core.append(entry('a', '"racing"'))).seq).toBe(22)
    backend.holdTrim = undefined
    held.release()
    await core.settled()
    const kept = await core.read('a', 0, 100)
    expect(kept.at(-1)).toEqual({ seq: 22, data: '"racing"' })
    // Nine tenths of the cap, the newest: counted when the trim ran, the racing append among them.
    expect(kept).toHaveLength(18)
    expect(await core.totals()).toEqual(await backend.totals())
  })

  test('a trim that fails is counted and told, and the next append past the cap trims', async () => {
    const told: string[] = []
    const { backend, core } = await opened({ maxEntriesPerLog: 10, onCapFailure: (_log, error) => told.push(error.message) })
    backend.trimFailure = new StoreFailure('its disk reported an error')
    for (let i = 1; i <= 11; i++) await core.append(entry('a', `"${i}"`))
    await core.settled()
    expect(core.capFailures).toBe(1)
    expect(told).toEqual([expect.stringContaining('its disk reported an error')])
    expect((await core.state('a'))!.count).toBe(11)
    backend.trimFailure = undefined
    await core.append(entry('a', '"12"'))
    await core.settled()
    expect((await core.state('a'))!.count).toBe(9)
    expect(core.capFailures).toBe(1)
  })

  test('counts what a log retains, not seqs: after compaction made holes, it keeps nine tenths of the cap exactly', async () => {
    const { core } = await opened({ maxEntriesPerLog: 20 })
    for (let i = 1; i <= 20; i++) await core.append(entry('a', `"${i}"`))
    await core.deleteEntries('a', [2, 4, 6, 8])
    // 16 kept; the 21st is seq 25, and the three oldest go (1, 3 and 5), down to nine tenths of the cap.
    for (let i = 21; i <= 25; i++) await core.append(entry('a', `"${i}"`))
    await core.settled()
    const kept = (await core.read('a', 0, 100)).map((e) => e.seq)
    expect(kept).toEqual([7, ...Array.from({ length: 17 }, (_, i) => i + 9)])
  })
})

describe('the store-wide cap on logs', () => {
  test('concurrent forks never pass it, and a taken id or a failed create gives its slot back', async () => {
    const { backend, core } = await opened({ maxLogs: 3 })
    const forks = await Promise.allSettled(Array.from({ length: 5 }, (_, i) => core.fork('a', 0, { log: `f${i}`, meta: '{}' })))
    expect(forks.filter((f) => f.status === 'fulfilled')).toHaveLength(2)
    expect(forks.filter((f) => f.status === 'rejected').map((f) => (f as PromiseRejectedResult).reason.code)).toEqual(
      Array(3).fill('STORE_FULL'),
    )
    await core.delete('f0')
    expect(await core.create({ log: 'a', meta: '{}' })).toBe(false)
    backend.createFailure = new StoreFailure('its disk is full')
    await expect(core.create({ log: 'b', meta: '{}' })).rejects.toMatchObject({ code: 'STORE_UNAVAILABLE' })
    backend.createFailure = undefined
    expect(await core.create({ log: 'b', meta: '{}' })).toBe(true)
    await expect(core.create({ log: 'c', meta: '{}' })).rejects.toMatchObject({ code: 'STORE_FULL' })
    expect(await core.totals()).toEqual(await backend.totals())
  })
})

describe('the store’s totals', () => {
  test('a recount takes in what another process did; a change under way while it is asked is counted once', async () => {
    const { backend, core } = await opened()
    await core.append(entry('a', '"1"'))
    // Another process appends, unseen by this core's counts.
    await backend.remoteAppend('a', '"2"')
    expect((await core.totals()).entries).toBe(1)
    await core.recount()
    expect(await core.totals()).toEqual(await backend.totals())
    // The backend's answer is held while this process creates a log and appends: neither is in it, both counted.
    const held = deferred()
    backend.holdTotals = held.promise
    const recounting = core.recount()
    backend.holdTotals = undefined
    await core.create({ log: 'b', meta: '{}' })
    await core.append(entry('b', '"x"'))
    held.release()
    await recounting
    expect(await core.totals()).toEqual(await backend.totals())
    // A change begun before the asking, answered after the answer: it is in the answer, and not counted again.
    const answered = deferred()
    backend.holdDelete = answered.promise
    const deleting = core.delete('b')
    backend.holdDelete = undefined
    await core.recount()
    answered.release()
    await deleting
    expect(await core.totals()).toEqual(await backend.totals())
  })
})

describe('head tracking and wake-ups', () => {
  test('a wait on an unknown log is refused at once, and registers nothing', async () => {
    const signal = new SessionSignal()
    let waits = 0
    const notifier: Notifier = {
      notify: (log) => signal.notify(log),
      wait: (log: string, stop: StopSignal, timeoutMs?: number) => {
        waits++
        return signal.wait(log, stop, timeoutMs)
      },
    }
    const { core } = await opened({ notifier })
    // Settled before the event loop turns: no timer and no I/O stand between the call and its refusal.
    const outcome = await atOnce(core.waitFor('nope', 0, never, 60_000))
    expect(outcome).toMatchObject({ error: { code: 'NOT_FOUND' } })
    expect(waits).toBe(0)
    const waiting = core.waitFor('a', 0, never)
    await core.append(entry('a', '"x"'))
    expect(await waiting).toBe(false)
    expect(waits).toBe(1)
  })

  test('a head read racing a remote change is never taken over it: the waiter sees the newer head', async () => {
    const { backend, core } = await opened()
    await backend.remoteAppend('a', '"1"')
    const held = deferred()
    backend.holdState = held.promise
    // The core does not know the head: it asks, and the answer (head 1) is held while another process appends 2.
    const waiting = core.waitFor('a', 1, never, 5_000)
    await backend.remoteAppend('a', '"2"')
    backend.holdState = undefined
    held.release()
    expect(await waiting).toBe(false)
  })

  test('reads behind the head of a live log come from memory; a remote change sends them to the backend', async () => {
    const { backend, core } = await opened()
    for (const data of ['"1"', '"2"', '"3"']) await core.append(entry('a', data))
    const kept = await core.read('a', 1, 10)
    expect(await core.read('a', 1, 10)).toEqual(kept)
    expect((await core.read('a', 1, 10))[0]).toBe(kept[0]!)
    await backend.remoteAppend('a', '"4"')
    expect((await core.read('a', 3, 10)).map((e) => e.data)).toEqual(['"4"'])
    expect((await core.read('a', 0, 10)).map((e) => e.seq)).toEqual([1, 2, 3, 4])
  })

  test('looking up logs nobody follows does not push the followed ones out of memory', async () => {
    const { core } = await opened({ tails: { logs: 2 } })
    await core.create({ log: 'b', meta: '{}' })
    for (const log of ['a', 'b']) await core.append(entry(log, '"x"'))
    const kept = await core.read('a', 0, 10)
    for (let i = 0; i < 5; i++) {
      expect(await core.state(`unknown-${i}`)).toBeUndefined()
      expect(await core.read(`unknown-${i}`, 0, 10)).toEqual([])
    }
    expect((await core.read('a', 0, 10))[0]).toBe(kept[0]!)
  })

  test('after a lost subscription nothing cached is trusted: a waiter at the old head wakes and reads the missed entry', async () => {
    const { backend, core } = await opened()
    await core.append(entry('a', '"1"'))
    const waiting = core.waitFor('a', 1, never, 5_000)
    await backend.missedAppend('a', '"2"')
    expect(await waiting).toBe(false)
    expect((await core.read('a', 1, 10)).map((e) => e.data)).toEqual(['"2"'])
    expect(await core.waitFor('a', 1, never, 5_000)).toBe(false)
  })
})

describe('the clock is the core’s', () => {
  test('activeAt is recorded from the injected clock, at run boundaries and once per resolution otherwise', async () => {
    let now = 1_000_000
    const { backend, core } = await opened({ now: () => now })
    await core.append(entry('a', '"1"'))
    await core.append(entry('a', '"2"'))
    await core.append({ ...entry('a', '"3"'), run: 'r', closesRun: true })
    now += ACTIVITY_RESOLUTION_MS
    await core.append(entry('a', '"4"'))
    expect(backend.batches.map((b) => b[0]!.touch)).toEqual([true, false, true, true])
    expect((await core.state('a'))!.activeAt).toBe(now)
  })
})

test('a failure to read the totals at open is met by the write that needed them, and the next write asks again', async () => {
  class FlakyTotals extends MemoryBackend {
    failures = 1
    override async totals() {
      if (this.failures-- > 0) throw new StoreFailure('its disk reported an error')
      return super.totals()
    }
  }
  const core = new LogCore(new FlakyTotals())
  const first = await core.create({ log: 'a', meta: '{}' }).then(
    () => 'created',
    () => 'refused',
  )
  expect(first).toBe('refused')
  expect(await core.create({ log: 'a', meta: '{}' })).toBe(true)
})

describe('expiry, judged by the core’s clock', () => {
  test('an expired log is gone for reads, waits, appends and state, whether memory holds its entries or not', async () => {
    let now = 1_000_000
    const { core } = await opened({ now: () => now })
    await core.create({ log: 'e', meta: '{}', expiresAt: now + 100 })
    await core.append(entry('e', '"1"'))
    // Followed: its entries and its expiry are in memory now.
    expect((await core.read('e', 0, 10)).map((e) => e.seq)).toEqual([1])
    expect(await core.waitFor('e', 0, never)).toBe(false)
    now += 99
    expect((await core.read('e', 0, 10)).map((e) => e.seq)).toEqual([1])
    now += 1
    expect(await core.read('e', 0, 10)).toEqual([])
    expect(await core.readBefore('e', 2, 1000)).toEqual([])
    expect(await atOnce(core.waitFor('e', 0, never, 60_000))).toMatchObject({ error: { code: 'NOT_FOUND' } })
    await expect(core.append(entry('e', '"2"'))).rejects.toMatchObject({ code: 'NOT_FOUND' })
    expect(await core.state('e')).toBeUndefined()
  })

  test('a new log takes an expired one’s id and alias with nothing of it, and the totals drop what it held', async () => {
    let now = 1_000_000
    const { core } = await opened({ now: () => now })
    await core.create({ log: 'e', meta: '{"old":1}', aliases: ['view-e'], expiresAt: now + 100 })
    await core.append(entry('e', '"old"'))
    expect((await core.read('e', 0, 10)).map((e) => e.data)).toEqual(['"old"'])
    const totals = await core.totals()
    expect(await core.create({ log: 'e', meta: '{}' })).toBe(false)
    now += 100
    expect(await core.create({ log: 'e', meta: '{"new":1}' })).toBe(true)
    expect(await core.state('e')).toMatchObject({ head: 0, count: 0, meta: '{"new":1}' })
    expect(await core.read('e', 0, 10)).toEqual([])
    expect(await core.resolveAlias('view-e')).toBeUndefined()
    expect(await core.totals()).toEqual({ logs: totals.logs, entries: totals.entries - 1, bytes: totals.bytes - 5 })
    expect((await core.append(entry('e', '"new"'))).seq).toBe(1)
  })

  test('fork refuses an expired source as unknown, and takes a name an expired log held', async () => {
    let now = 1_000_000
    const { core } = await opened({ now: () => now })
    await core.create({ log: 'e', meta: '{}', expiresAt: now + 100 })
    await core.append(entry('e', '"e1"'))
    await core.append(entry('a', '"a1"'))
    now += 100
    await expect(core.fork('e', 1, { log: 'f', meta: '{}' })).rejects.toMatchObject({ code: 'NOT_FOUND' })
    expect(await core.fork('a', 1, { log: 'e', meta: '{}' })).toBe(true)
    expect((await core.read('e', 0, 10)).map((e) => e.data)).toEqual(['"a1"'])
  })

  test('a waiter on a log that expires is woken at its expiry, and its next wait is refused', async () => {
    let now = 1_000_000
    const notifier = new SessionSignal()
    const { core } = await opened({ now: () => now, notifier })
    await core.create({ log: 'e', meta: '{}', expiresAt: now + 20 })
    // Parked with a timeout far beyond the expiry: only the expiry can end it within the deadline.
    const waiting = core.waitFor('e', 0, never, 3_600_000)
    // The memory backend answers within microtasks: by the next turn of the loop the wait is parked.
    await new Promise((resolve) => setImmediate(resolve))
    expect(notifier.waiting).toBe(1)
    now += 20
    expect(await within(waiting, 'the waiter to wake at the expiry')).toBe(false)
    expect(await atOnce(core.waitFor('e', 0, never, 3_600_000))).toMatchObject({ error: { code: 'NOT_FOUND' } })
  })
})

describe('closed logs and their waiters', () => {
  test('a waiter parked before the close is woken by it; a wait at the head of a closed log answers closed at once', async () => {
    const { backend, core } = await opened()
    await core.append(entry('a', '"1"'))
    const parked = core.waitFor('a', 1, never, 3_600_000)
    await core.append({ ...entry('a', null), closesLog: true })
    expect(await within(parked, 'the close to wake the waiter')).toBe(false)
    expect(await atOnce(core.waitFor('a', 1, never, 3_600_000))).toEqual({ value: 'closed' })
    // Behind the head there is still something to read.
    expect(await atOnce(core.waitFor('a', 0, never, 3_600_000))).toEqual({ value: false })
    // A process that never saw the close learns it with the head.
    const other = new LogCore(backend)
    expect(await atOnce(other.waitFor('a', 1, never, 3_600_000))).toEqual({ value: 'closed' })
    await other.create({ log: 'c', meta: '{}', closed: true })
    expect(await atOnce(other.waitFor('c', 0, never, 3_600_000))).toEqual({ value: 'closed' })
  })

  test('a close made by another process wakes the waiters here, and their next wait answers closed at once', async () => {
    const notifier = new SessionSignal()
    const { backend, core } = await opened({ notifier })
    await core.append(entry('a', '"1"'))
    const parked = core.waitFor('a', 1, never, 3_600_000)
    // The memory backend answers within microtasks: by the next turn of the loop the wait is parked.
    await new Promise((resolve) => setImmediate(resolve))
    expect(notifier.waiting).toBe(1)
    await backend.remoteClose('a')
    expect(await within(parked, 'the remote close to wake the waiter')).toBe(false)
    expect(await atOnce(core.waitFor('a', 1, never, 3_600_000))).toEqual({ value: 'closed' })
  })

  test('a waiter is woken when its log is deleted, and its next wait is refused', async () => {
    const { core } = await opened()
    await core.append(entry('a', '"1"'))
    const parked = core.waitFor('a', 1, never, 3_600_000)
    await core.delete('a')
    expect(await within(parked, 'the delete to wake the waiter')).toBe(false)
    expect(await atOnce(core.waitFor('a', 1, never, 3_600_000))).toMatchObject({ error: { code: 'NOT_FOUND' } })
  })
})

describe('refusals the core owes every backend', () => {
  test('a closing entry behind a refused one of its batch is cut to the room the log really has', async () => {
    const { core } = await opened({ maxLogBytes: 1000, reserveBytes: 300 })
    await core.append(entry('a', `"${'x'.repeat(598)}"`))
    // In one batch: a partial the log has no room for (600 + 200 > 1000 - 300), then the run's closing entry.
    const closing = { ...entry('a', `"${'z'.repeat(498)}"`), exempt: true, fit: (room: number) => `"${'z'.repeat(room - 2)}"` }
    const [partial, closed] = await Promise.allSettled([core.append(entry('a', `"${'y'.repeat(198)}"`)), core.append(closing)])
    expect(partial).toMatchObject({ status: 'rejected', reason: { code: 'SESSION_FULL' } })
    expect(closed.status).toBe('fulfilled')
    expect(Buffer.byteLength((closed as PromiseFulfilledResult<{ data: string }>).value.data)).toBe(400)
  })

  test('a fork is refused STORE_FULL when its copy would pass the store’s entry or byte limits', async () => {
    const entries = await opened({ maxEntries: 5, reserveBytes: 0 })
    for (const data of ['"1"', '"2"', '"3"']) await entries.core.append(entry('a', data))
    await expect(entries.core.fork('a', 3, { log: 'f', meta: '{}' })).rejects.toMatchObject({ code: 'STORE_FULL' })
    expect(await entries.core.state('f')).toBeUndefined()
    const bytes = await opened({ maxBytes: 10, reserveBytes: 0 })
    for (const data of ['"1"', '"2"']) await bytes.core.append(entry('a', data))
    await expect(bytes.core.fork('a', 2, { log: 'f', meta: '{}' })).rejects.toMatchObject({ code: 'STORE_FULL' })
    expect(await bytes.core.fork('a', 1, { log: 'g', meta: '{}' }).catch((e) => e.code)).toBe('STORE_FULL')
  })

  test('a meta past MAX_LOG_META_BYTES is refused on create, setMeta and fork, and nothing changes', async () => {
    const { core } = await opened()
    const big = JSON.stringify({ x: 'x'.repeat(MAX_LOG_META_BYTES) })
    const tooLarge = { code: 'BAD_REQUEST', message: expect.stringContaining('16 KiB') }
    await expect(core.create({ log: 'big', meta: big })).rejects.toMatchObject(tooLarge)
    expect(await core.state('big')).toBeUndefined()
    await expect(core.setMeta('a', big)).rejects.toMatchObject(tooLarge)
    expect((await core.state('a'))?.meta).toBe('{}')
    await expect(core.fork('a', 0, { log: 'big', meta: big })).rejects.toMatchObject(tooLarge)
    expect(await core.state('big')).toBeUndefined()
  })
})
