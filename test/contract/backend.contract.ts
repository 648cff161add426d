import { afterEach, beforeEach, describe, expect, test } from 'bun:test'
import type { AppendEntry, BatchLimits, LogBackend, NewLog } from '../../src/log/log-backend.ts'
import { LogCore } from '../../src/log/log-core.ts'
import { newId } from '../../src/session-id.ts'
import { MAX_MARKS_PER_ENTRY } from '../../src/limits.ts'

const LIMITS: BatchLimits = { maxLogBytes: 1024 * 1024, reserveBytes: 1024 }
const NOW = 1_700_000_000_000

const bytesOf = (data: string) => Buffer.byteLength(data)
export const entry = (log: string, data: string | null, more: Partial<AppendEntry> = {}): AppendEntry => ({
  log,
  data,
  bytes: data === null ? 0 : bytesOf(data),
  exempt: false,
  ...more,
})
const newLog = (log = newId(), more: Partial<NewLog> = {}): NewLog => ({ log, meta: '{"step":"echo"}', ...more })

/** The backend, each of whose calls is made and answered a turn of the event loop later. */
function slow(backend: LogBackend): LogBackend {
  const turn = () => new Promise<void>((resolve) => setImmediate(resolve))
  return new Proxy(backend, {
    get(target, key) {
      const value = Reflect.get(target, key)
      if (typeof value !== 'function') return value
      return async (...args: unknown[]) => {
        await turn()
        const answer = await value.apply(target, args)
        await turn()
        return answer
      }
    },
  })
}

/**
 * The one behaviour every log backend must have (src/log/log-backend.ts). Each backend's test file calls this with a
 * factory; `reopen`, when given, opens a second backend on the same medium after `close()` (durable backends).
 */
export function backendContract(name: string, open: () => Promise<LogBackend> | LogBackend, reopen?: () => Promise<LogBackend>) {
  describe(`LogBackend contract: ${name}`, () => {
    let backend: LogBackend
    beforeEach(async () => {
      backend = await open()
    })
    afterEach(async () => {
      await backend.close()
    })

    test('a new log has head 0, its meta, and no entries; a taken id is refused', async () => {
      const log = newLog()
      expect(await backend.create(log, NOW)).toBe(true)
      expect(await backend.state(log.log)).toMatchObject({ head: 0, tail: 0, count: 0, bytes: 0, closed: false, meta: log.meta })
      expect(await backend.read(log.log, 0, 100)).toEqual([])
      expect(await backend.create({ ...log, meta: 'other' }, NOW)).toBe(false)
      expect((await backend.state(log.log))?.meta).toBe(log.meta)
      expect(await backend.state(newId())).toBeUndefined()
    })

    test('aliases find their log, and nothing else does; a taken alias refuses the create whole', async () => {
      const viewer = newId()
      const log = newLog(newId(), { aliases: [viewer] })
      await backend.create(log, NOW)
      expect(await backend.resolveAlias(viewer)).toBe(log.log)
      expect(await backend.resolveAlias(log.log)).toBeUndefined()
      const clash = newLog(newId(), { aliases: [viewer] })
      expect(await backend.create(clash, NOW)).toBe(false)
      expect(await backend.state(clash.log)).toBeUndefined()
    })

    test('a batch takes consecutive seqs per log, in order, across logs; reads page by seq', async () => {
      const [a, b] = [newLog(), newLog()]
      await backend.create(a, NOW)
      await backend.create(b, NOW)
      const outcomes = await backend.append(
        [entry(a.log, '"a1"'), entry(b.log, '"b1"'), entry(a.log, '"a2"'), entry(a.log, '"a3"')],
        LIMITS,
        NOW,
      )
      expect(outcomes).toEqual([1, 1, 2, 3])
      expect(await backend.read(a.log, 0, 100)).toEqual([
        { seq: 1, data: '"a1"' },
        { seq: 2, data: '"a2"' },
        { seq: 3, data: '"a3"' },
      ])
      expect(await backend.read(a.log, 1, 1)).toEqual([{ seq: 2, data: '"a2"' }])
      expect(await backend.read(a.log, 3, 100)).toEqual([])
      expect(await backend.state(a.log)).toMatchObject({ head: 3, count: 3, bytes: 12 })
    })

    test('data is kept byte for byte: unicode, lone surrogates escaped as JSON keeps them, NUL, newlines', async () => {
      const log = newLog()
      await backend.create(log, NOW)
      const samples = ['"héllo 🌍"', JSON.stringify('\u0000\n\r\t'), JSON.stringify('\ud800'), `"${'x'.repeat(100_000)}"`]
      await backend.append(
        samples.map((data) => entry(log.log, data)),
        LIMITS,
        NOW,
      )
      expect((await backend.read(log.log, 0, 100)).map((e) => e.data)).toEqual(samples)
    })

    test('an entry for an unknown log is refused with NO_LOG and the others of its batch are stored', async () => {
      const log = newLog()
      await backend.create(log, NOW)
      expect(await backend.append([entry(newId(), '1'), entry(log.log, '2')], LIMITS, NOW)).toEqual(['NO_LOG', 1])
    })

    test('a full log refuses a non-exempt entry that would leave less than the reserve, and stores an exempt one', async () => {
      const log = newLog()
      await backend.create(log, NOW)
      const limits = { maxLogBytes: 1000, reserveBytes: 300 }
      const big = 'x'.repeat(650)
      expect(await backend.append([entry(log.log, big)], limits, NOW)).toEqual([1])
      expect(await backend.append([entry(log.log, 'y'.repeat(100))], limits, NOW)).toEqual(['FULL'])
      expect(await backend.append([entry(log.log, 'z'.repeat(200), { exempt: true })], limits, NOW)).toEqual([2])
      expect(await backend.state(log.log)).toMatchObject({ head: 2, count: 2, bytes: 850 })
    })

    test('a closed log refuses entries with CLOSED; closing is atomic with the entry that closes it', async () => {
      const log = newLog()
      await backend.create(log, NOW)
      expect(await backend.append([entry(log.log, '"last"', { closesLog: true }), entry(log.log, '"late"')], LIMITS, NOW)).toEqual([
        1,
        'CLOSED',
      ])
      expect((await backend.state(log.log))?.closed).toBe(true)
      const other = newLog(newId(), { closed: true })
      await backend.create(other, NOW)
      expect(await backend.append([entry(other.log, '1')], LIMITS, NOW)).toEqual(['CLOSED'])
    })

    test('an expired log refuses entries with NO_LOG, judged by the now of the append, and is kept until deleted', async () => {
      const log = newLog(newId(), { expiresAt: NOW + 10 })
      await backend.create(log, NOW)
      expect(await backend.append([entry(log.log, '"1"')], LIMITS, NOW + 9)).toEqual([1])
      expect(await backend.append([entry(log.log, '"2"'), entry(log.log, null, { closesLog: true })], LIMITS, NOW + 10)).toEqual([
        'NO_LOG',
        'NO_LOG',
      ])
      expect(await backend.state(log.log)).toMatchObject({ head: 1, count: 1, closed: false })
      // Touched to a later expiry, it takes entries again.
      await backend.touch(log.log, NOW + 10, NOW + 20)
      expect(await backend.append([entry(log.log, '"3"')], LIMITS, NOW + 10)).toEqual([2])
    })

    test('reads of a log expired at the now given answer as for an unknown log', async () => {
      const log = newLog(newId(), { expiresAt: NOW + 10 })
      await backend.create(log, NOW)
      await backend.append([entry(log.log, '"1"'), entry(log.log, '"2"')], LIMITS, NOW)
      expect((await backend.read(log.log, 0, 10, NOW + 9)).map((e) => e.seq)).toEqual([1, 2])
      expect((await backend.readBefore(log.log, 3, 1000, NOW + 9)).map((e) => e.seq)).toEqual([1, 2])
      expect(await backend.read(log.log, 0, 10, NOW + 10)).toEqual([])
      expect(await backend.readBefore(log.log, 3, 1000, NOW + 10)).toEqual([])
    })

    test('create takes the names of an expired log: nothing of it is inherited, and the purge is told', async () => {
      const [viewer, other] = [newId(), newId()]
      const old = newLog(newId(), { aliases: [viewer], expiresAt: NOW + 10 })
      await backend.create(old, NOW)
      await backend.append([entry(old.log, '"old"', { producers: [{ key: 'k', value: 'v' }] })], LIMITS, NOW)
      const purged: [string, number][] = []
      const told = (log: string, state: { count: number }) => purged.push([log, state.count])
      // Still live: the name is taken.
      expect(await backend.create({ ...old, aliases: [], meta: 'new' }, NOW + 9, told)).toBe(false)
      expect(purged).toEqual([])
      expect(await backend.create({ log: old.log, meta: 'new' }, NOW + 10, told)).toBe(true)
      expect(purged).toEqual([[old.log, 1]])
      expect(await backend.state(old.log)).toMatchObject({ head: 0, count: 0, meta: 'new' })
      expect((await backend.state(old.log))?.expiresAt).toBeUndefined()
      expect(await backend.read(old.log, 0, 10)).toEqual([])
      expect(await backend.producer(old.log, 'k')).toBeUndefined()
      expect(await backend.resolveAlias(viewer)).toBeUndefined()
      // An alias held by an expired log is free too.
      const holder = newLog(newId(), { aliases: [other], expiresAt: NOW + 10 })
      await backend.create(holder, NOW)
      expect(await backend.create(newLog(newId(), { aliases: [other] }), NOW + 10, told)).toBe(true)
      expect(purged.at(-1)).toEqual([holder.log, 0])
      expect(await backend.state(holder.log)).toBeUndefined()
    })

    test('fork refuses an expired source as NO_LOG and takes a target name an expired log held', async () => {
      const source = newLog(newId(), { expiresAt: NOW + 10 })
      await backend.create(source, NOW)
      await backend.append([entry(source.log, '"1"')], LIMITS, NOW)
      expect(await backend.fork(source.log, 1, newLog(), NOW + 10)).toBe('NO_LOG')
      const live = newLog()
      await backend.create(live, NOW)
      await backend.append([entry(live.log, '"live"')], LIMITS, NOW)
      const purged: string[] = []
      expect(await backend.fork(live.log, 1, { log: source.log, meta: 'fork' }, NOW + 10, (log) => purged.push(log))).toEqual({
        entries: 1,
        bytes: 6,
      })
      expect(purged).toEqual([source.log])
      expect(await backend.read(source.log, 0, 10)).toEqual([{ seq: 1, data: '"live"' }])
      expect(await backend.state(source.log)).toMatchObject({ head: 1, count: 1, forkedFrom: { log: live.log, at: 1 } })
    })

    test('the core over it: an expired log is gone for reads, waits and appends, and a new log takes its id', async () => {
      let now = NOW
      const core = new LogCore(backend, { now: () => now })
      const log = newLog(newId(), { expiresAt: NOW + 100 })
      await core.create(log)
      await core.append({ log: log.log, data: '"1"', exempt: false })
      expect((await core.read(log.log, 0, 10)).map((e) => e.seq)).toEqual([1])
      expect(await core.waitFor(log.log, 0, new AbortController().signal, 3_600_000)).toBe(false)
      now += 100
      expect(await core.read(log.log, 0, 10)).toEqual([])
      expect(await core.readBefore(log.log, 2, 1000)).toEqual([])
      await expect(core.waitFor(log.log, 0, new AbortController().signal, 3_600_000)).rejects.toMatchObject({ code: 'NOT_FOUND' })
      await expect(core.append({ log: log.log, data: '"2"', exempt: false })).rejects.toMatchObject({ code: 'NOT_FOUND' })
      expect(await core.create({ log: log.log, meta: 'new' })).toBe(true)
      expect(await core.read(log.log, 0, 10)).toEqual([])
      expect(await core.state(log.log)).toMatchObject({ head: 0, count: 0, meta: 'new' })
    })

    test('the core over it: a wait at the head of a closed log answers closed, here and in a core that never saw the close', async () => {
      const core = new LogCore(backend)
      const log = newLog()
      await core.create(log)
      await core.append({ log: log.log, data: '"1"', exempt: false })
      await core.append({ log: log.log, data: null, exempt: false, closesLog: true })
      expect(await core.waitFor(log.log, 1, new AbortController().signal, 3_600_000)).toBe('closed')
      expect(await core.waitFor(log.log, 0, new AbortController().signal, 3_600_000)).toBe(false)
      expect(await new LogCore(backend).waitFor(log.log, 1, new AbortController().signal, 3_600_000)).toBe('closed')
    })

    test('an uncapped log says so in its state and refuses a non-exempt entry past maxLogEntries with TOO_MANY', async () => {
      const limits = { ...LIMITS, maxLogEntries: 3 }
      const log = newLog(newId(), { capped: false })
      await backend.create(log, NOW)
      expect((await backend.state(log.log))?.capped).toBe(false)
      expect(
        await backend.append(
          ['"1"', '"2"', '"3"', '"4"'].map((d) => entry(log.log, d)),
          limits,
          NOW,
        ),
      ).toEqual([1, 2, 3, 'TOO_MANY'])
      // A run's closing entry and a close still go in: a full log can be closed.
      expect(
        await backend.append([entry(log.log, '"x"', { exempt: true }), entry(log.log, null, { closesLog: true })], limits, NOW),
      ).toEqual([4, 4])
      expect(await backend.state(log.log)).toMatchObject({ head: 4, count: 4, closed: true })
      // A capped log is trimmed by the core instead: the backend takes every entry.
      const capped = newLog()
      await backend.create(capped, NOW)
      expect((await backend.state(capped.log))?.capped).toBeUndefined()
      expect(
        await backend.append(
          ['"1"', '"2"', '"3"', '"4"'].map((d) => entry(capped.log, d)),
          limits,
          NOW,
        ),
      ).toEqual([1, 2, 3, 4])
    })

    test('the core over it: an uncapped log is never trimmed, and past maxEntriesPerLog its appends are refused with 413', async () => {
      const core = new LogCore(backend, { maxEntriesPerLog: 3 })
      const [stream, chat] = [newLog(newId(), { capped: false }), newLog()]
      await core.create(stream)
      await core.create(chat)
      const append = (log: string, n: number) => Array.from({ length: n }, (_, i) => core.append({ log, data: `"${i}"`, exempt: false }))
      const answers = await Promise.allSettled([...append(stream.log, 5), ...append(chat.log, 5)])
      await core.settled()
      const refused = answers.slice(0, 5).filter((a) => a.status === 'rejected')
      expect(refused).toHaveLength(2)
      expect((refused[0] as PromiseRejectedResult).reason).toMatchObject({ code: 'SESSION_FULL', status: 413 })
      expect((refused[0] as PromiseRejectedResult).reason.message).toContain('3 entries')
      expect(await core.state(stream.log)).toMatchObject({ head: 3, tail: 0, count: 3 })
      // Exempt entries pass the cap (a run's closing event): the log holds more than the cap, and is still not trimmed.
      for (const data of ['"e1"', '"e2"']) await core.append({ log: stream.log, data, exempt: true })
      await core.settled()
      expect(await core.state(stream.log)).toMatchObject({ head: 5, tail: 0, count: 5 })
      expect((await core.state(chat.log))?.count).toBeLessThanOrEqual(3)
    })

    test('a state-only entry closes a log without a seq and answers its head', async () => {
      const log = newLog()
      await backend.create(log, NOW)
      await backend.append([entry(log.log, '1')], LIMITS, NOW)
      expect(await backend.append([entry(log.log, null, { closesLog: true })], LIMITS, NOW)).toEqual([1])
      expect(await backend.state(log.log)).toMatchObject({ head: 1, closed: true })
    })

    test('producer state is written with its entry, or not at all', async () => {
      const log = newLog()
      await backend.create(log, NOW)
      const p = (value: string) => ({ key: '["run","p1"]', value })
      await backend.append([entry(log.log, '1', { producers: [p('a')] })], LIMITS, NOW)
      expect(await backend.producer(log.log, '["run","p1"]')).toBe('a')
      // Refused for want of room: the producer keeps its old state.
      const tight = { maxLogBytes: 10, reserveBytes: 5 }
      expect(await backend.append([entry(log.log, 'toolongforit', { producers: [p('b')] })], tight, NOW)).toEqual(['FULL'])
      expect(await backend.producer(log.log, '["run","p1"]')).toBe('a')
      await backend.append([entry(log.log, null, { producers: [{ key: '["run","p2"]', value: 'c' }] })], LIMITS, NOW)
      expect((await backend.producerKeys(log.log)).sort()).toEqual(['["run","p1"]', '["run","p2"]'])
      await backend.deleteProducers(log.log, ['["run","p1"]'])
      expect(await backend.producerKeys(log.log)).toEqual(['["run","p2"]'])
      expect(await backend.producer(newId(), 'x')).toBeUndefined()
    })

    test('a mark with expect is stored only while its key holds that value; otherwise the entry is refused whole with STALE', async () => {
      const log = newLog()
      await backend.create(log, NOW)
      const mark = (key: string, value: string, expect?: string | null) => ({ key, value, expect })
      expect(await backend.append([entry(log.log, '"1"', { producers: [mark('p', 'a', null)] })], LIMITS, NOW)).toEqual([1])
      // Another writer decided from the same read ("none yet"): refused, nothing of it stored.
      expect(await backend.append([entry(log.log, '"x"', { producers: [mark('s', 'x'), mark('p', 'b', null)] })], LIMITS, NOW)).toEqual([
        'STALE',
      ])
      expect(await backend.state(log.log)).toMatchObject({ head: 1, count: 1 })
      expect(await backend.producer(log.log, 's')).toBeUndefined()
      expect(await backend.append([entry(log.log, '"2"', { producers: [mark('s', '1'), mark('p', 'b', 'a')] })], LIMITS, NOW)).toEqual([2])
      expect([await backend.producer(log.log, 'p'), await backend.producer(log.log, 's')]).toEqual(['b', '1'])
      // In one batch, each entry is compared with what the entries before it wrote.
      const twice = [
        entry(log.log, '"3"', { producers: [mark('p', 'c', 'b')] }),
        entry(log.log, '"y"', { producers: [mark('p', 'd', 'b')] }),
      ]
      expect(await backend.append(twice, LIMITS, NOW)).toEqual([3, 'STALE'])
      expect(await backend.append([entry(log.log, null, { producers: [mark('p', 'e', 'b')] })], LIMITS, NOW)).toEqual(['STALE'])
      // Judged before the closed flag: the writer reads again and may find its request was the one that closed the log.
      await backend.append([entry(log.log, null, { closesLog: true })], LIMITS, NOW)
      expect(await backend.append([entry(log.log, '"z"', { producers: [mark('p', 'f', 'b')] })], LIMITS, NOW)).toEqual(['STALE'])
      expect(await backend.append([entry(log.log, '"z"', { producers: [mark('p', 'f', 'c')] })], LIMITS, NOW)).toEqual(['CLOSED'])
      expect(await backend.producer(log.log, 'p')).toBe('c')
    })

    test('the core over it: a stale mark is refused with PRODUCER_STALE, and an entry carries at most MAX_MARKS_PER_ENTRY', async () => {
      const core = new LogCore(backend)
      const log = newLog()
      await core.create(log)
      await core.append({ log: log.log, data: '"1"', exempt: false, producers: [{ key: 'p', value: 'a', expect: null }] })
      await expect(
        core.append({ log: log.log, data: '"2"', exempt: false, producers: [{ key: 'p', value: 'b', expect: null }] }),
      ).rejects.toMatchObject({ code: 'PRODUCER_STALE', status: 409 })
      const many = Array.from({ length: MAX_MARKS_PER_ENTRY + 1 }, (_, i) => ({ key: `k${i}`, value: 'v' }))
      await expect(core.append({ log: log.log, data: '"3"', exempt: false, producers: many })).rejects.toMatchObject({
        code: 'BAD_REQUEST',
      })
      expect((await core.state(log.log))?.head).toBe(1)
    })

    test('a run opens and closes with its entries; only its own closing entry clears it', async () => {
      const log = newLog()
      await backend.create(log, NOW)
      await backend.append([entry(log.log, '"user"', { run: 'r1', opensRun: true })], LIMITS, NOW)
      expect((await backend.state(log.log))?.openRun).toEqual({ id: 'r1', from: 0 })
      expect(await backend.openRuns()).toContainEqual({ log: log.log, run: 'r1', from: 0 })
      await backend.append([entry(log.log, '"other"', { run: 'r0', closesRun: true })], LIMITS, NOW)
      expect((await backend.state(log.log))?.openRun?.id).toBe('r1')
      await backend.append([entry(log.log, '"final"', { run: 'r1', closesRun: true, exempt: true })], LIMITS, NOW)
      expect((await backend.state(log.log))?.openRun).toBeUndefined()
      expect((await backend.openRuns()).map((r) => r.log)).not.toContain(log.log)
    })

    test('recovery stores its entry only while the run is still open and ownerless', async () => {
      const log = newLog()
      await backend.create(log, NOW)
      await backend.append([entry(log.log, '"start"', { run: 'r1', opensRun: true })], LIMITS, NOW)
      const recover = entry(log.log, '"interrupt"', { run: 'r1', closesRun: true, exempt: true, recovers: true })
      expect(await backend.append([recover], LIMITS, NOW)).toEqual([2])
      expect(await backend.append([recover], LIMITS, NOW)).toEqual(['FENCED'])
      expect(await backend.state(log.log)).toMatchObject({ head: 2 })
    })

    test('deleting entries and keeping the newest keep head, lower count and bytes, raise tail, and say what went', async () => {
      const log = newLog()
      await backend.create(log, NOW)
      await backend.append(
        ['"1"', '"2"', '"3"', '"4"', '"5"'].map((d) => entry(log.log, d)),
        LIMITS,
        NOW,
      )
      expect(await backend.deleteEntries(log.log, [2, 4, 99])).toEqual({ entries: 2, bytes: 6 })
      expect((await backend.read(log.log, 0, 100)).map((e) => e.seq)).toEqual([1, 3, 5])
      expect(await backend.state(log.log)).toMatchObject({ head: 5, count: 3, bytes: 9 })
      expect(await backend.keepNewest(log.log, 1)).toEqual({ entries: 2, bytes: 6 })
      expect((await backend.read(log.log, 0, 100)).map((e) => e.seq)).toEqual([5])
      expect(await backend.state(log.log)).toMatchObject({ head: 5, tail: 3, count: 1, bytes: 3 })
      expect(await backend.keepNewest(log.log, 1)).toEqual({ entries: 0, bytes: 0 })
      expect(await backend.append([entry(log.log, '"6"')], LIMITS, NOW)).toEqual([6])
      expect(await backend.deleteEntries(newId(), [1])).toEqual({ entries: 0, bytes: 0 })
      expect(await backend.keepNewest(newId(), 0)).toEqual({ entries: 0, bytes: 0 })
    })

    test('keeping the newest counts retained entries, not seqs: after compaction made holes, exactly that many stay', async () => {
      const log = newLog()
      await backend.create(log, NOW)
      await backend.append(
        Array.from({ length: 30 }, (_, i) => entry(log.log, `"${i + 1}"`)),
        LIMITS,
        NOW,
      )
      // Holes among the newest: `head - 10` would keep 5.
      await backend.deleteEntries(log.log, [3, 4, 22, 24, 26, 28, 30])
      const gone = await backend.keepNewest(log.log, 10)
      const kept = (await backend.read(log.log, 0, 100)).map((e) => e.seq)
      expect(kept).toEqual([16, 17, 18, 19, 20, 21, 23, 25, 27, 29])
      expect(gone).toEqual({ entries: 13, bytes: 7 * 3 + 6 * 4 })
      expect(await backend.state(log.log)).toMatchObject({ head: 30, tail: 15, count: 10 })
    })

    test('readBefore reads the newest entries within a byte budget, at least one, ascending', async () => {
      const log = newLog()
      await backend.create(log, NOW)
      await backend.append(
        Array.from({ length: 40 }, (_, i) => entry(log.log, 'x'.repeat(i === 20 ? 5000 : 10))),
        LIMITS,
        NOW,
      )
      const page = await backend.readBefore(log.log, 41, 55)
      expect(page.map((e) => e.seq)).toEqual([36, 37, 38, 39, 40])
      const big = await backend.readBefore(log.log, 22, 100)
      expect(big.map((e) => e.seq)).toEqual([21])
      expect(await backend.readBefore(log.log, 1, 1000)).toEqual([])
      expect(await backend.readBefore(newId(), 10, 1000)).toEqual([])
    })

    test('a fork holds the source entries up to its seq, same seqs, and then goes its own way', async () => {
      const source = newLog()
      await backend.create(source, NOW)
      await backend.append(
        ['"1"', '"2"', '"3"'].map((d) => entry(source.log, d)),
        LIMITS,
        NOW,
      )
      await backend.append([entry(source.log, null, { producers: [{ key: 'k', value: 'v' }] })], LIMITS, NOW)
      const target = newLog()
      expect(await backend.fork(source.log, 2, target, NOW + 1)).toEqual({ entries: 2, bytes: 6 })
      expect(await backend.read(target.log, 0, 100)).toEqual([
        { seq: 1, data: '"1"' },
        { seq: 2, data: '"2"' },
      ])
      expect(await backend.state(target.log)).toMatchObject({ head: 2, count: 2, forkedFrom: { log: source.log, at: 2 } })
      expect(await backend.producerKeys(target.log)).toEqual([])
      expect(await backend.append([entry(target.log, '"t3"')], LIMITS, NOW)).toEqual([3])
      expect((await backend.read(source.log, 2, 100)).map((e) => e.data)).toEqual(['"3"'])
      expect(await backend.fork(newId(), 1, newLog(), NOW)).toBe('NO_LOG')
      expect(await backend.fork(source.log, 1, target, NOW)).toBe(false)
    })

    test('a log created with entries holds them from seq 1, counted in its state and the totals; a refused create stores none', async () => {
      const before = await backend.totals()
      const log = newLog(newId(), { entries: ['"a"', '"héllo"'] })
      expect(await backend.create(log, NOW)).toBe(true)
      expect(await backend.read(log.log, 0, 10)).toEqual([
        { seq: 1, data: '"a"' },
        { seq: 2, data: '"héllo"' },
      ])
      expect(await backend.state(log.log)).toMatchObject({ head: 2, tail: 0, count: 2, bytes: 11 })
      expect(await backend.totals()).toEqual({ logs: before.logs + 1, entries: before.entries + 2, bytes: before.bytes + 11 })
      expect(await backend.create({ ...log, entries: ['"other"'] }, NOW)).toBe(false)
      expect((await backend.read(log.log, 0, 10)).map((e) => e.data)).toEqual(['"a"', '"héllo"'])
      expect(await backend.totals()).toEqual({ logs: before.logs + 1, entries: before.entries + 2, bytes: before.bytes + 11 })
      expect(await backend.append([entry(log.log, '"b"')], LIMITS, NOW)).toEqual([3])
      const closed = newLog(newId(), { entries: ['"last"'], closed: true })
      await backend.create(closed, NOW)
      expect(await backend.state(closed.log)).toMatchObject({ head: 1, count: 1, closed: true })
      expect(await backend.readBefore(closed.log, 2, 1000)).toEqual([{ seq: 1, data: '"last"' }])
    })

    test('a fork with entries of its own holds them after the copy, from at + 1, counted with it', async () => {
      const source = newLog()
      await backend.create(source, NOW)
      await backend.append(
        ['"1"', '"2-whole"', '"3"'].map((d) => entry(source.log, d)),
        LIMITS,
        NOW,
      )
      const before = await backend.totals()
      const target = newLog(newId(), { entries: ['"2-cut'] })
      expect(await backend.fork(source.log, 1, target, NOW)).toEqual({ entries: 2, bytes: 3 + 6 })
      expect(await backend.read(target.log, 0, 10)).toEqual([
        { seq: 1, data: '"1"' },
        { seq: 2, data: '"2-cut' },
      ])
      expect(await backend.state(target.log)).toMatchObject({ head: 2, count: 2, bytes: 9, forkedFrom: { log: source.log, at: 1 } })
      expect(await backend.totals()).toEqual({ logs: before.logs + 1, entries: before.entries + 2, bytes: before.bytes + 9 })
      expect(await backend.append([entry(target.log, '"t3"')], LIMITS, NOW)).toEqual([3])
      // Forked at 0: its own entries alone.
      const bare = newLog(newId(), { entries: ['"x"'] })
      expect(await backend.fork(source.log, 0, bare, NOW)).toEqual({ entries: 1, bytes: 3 })
      expect(await backend.read(bare.log, 0, 10)).toEqual([{ seq: 1, data: '"x"' }])
    })

    test('the core over it: first entries are refused past the log budget or cap, and the store limits count them', async () => {
      const core = new LogCore(backend, { maxLogBytes: 100, reserveBytes: 10, maxEntriesPerLog: 3, maxEntries: 7 })
      const log = (entries: string[]) => newLog(newId(), { entries, capped: false })
      const tooMany = log(['1', '2', '3', '4'])
      await expect(core.create(tooMany)).rejects.toMatchObject({ code: 'SESSION_FULL', status: 413 })
      const tooBig = log(['x'.repeat(91)])
      await expect(core.create(tooBig)).rejects.toMatchObject({ code: 'SESSION_FULL', status: 413 })
      expect([await backend.state(tooMany.log), await backend.state(tooBig.log)]).toEqual([undefined, undefined])
      const kept = log(['1', '2', '3'])
      expect(await core.create(kept)).toBe(true)
      // Three in the store already, and a fork is admitted as holding all its source's (three) and its own.
      await expect(core.fork(kept.log, 1, log(['x', 'y']))).rejects.toMatchObject({ code: 'STORE_FULL' })
      expect(await core.fork(kept.log, 1, log(['x']))).toBe(true)
      expect(await core.totals()).toEqual(await backend.totals())
    })

    test('a log that forks name is soft-deleted: entries and names kept, entries and forks refused GONE, reads empty', async () => {
      const viewer = newId()
      const source = newLog(newId(), { aliases: [viewer], entries: ['"1"', '"2"'] })
      await backend.create(source, NOW)
      const fork = newLog()
      await backend.fork(source.log, 1, fork, NOW)
      expect((await backend.state(source.log))?.forks).toBe(1)
      const totals = await backend.totals()
      expect(await backend.delete(source.log, NOW + 5)).toBe('SOFT')
      expect(await backend.state(source.log)).toMatchObject({ deletedAt: NOW + 5, forks: 1, count: 2, head: 2 })
      expect(await backend.totals()).toEqual(totals)
      expect(await backend.append([entry(source.log, '"3"'), entry(source.log, null, { closesLog: true })], LIMITS, NOW + 6)).toEqual([
        'GONE',
        'GONE',
      ])
      expect(await backend.fork(source.log, 1, newLog(), NOW + 6)).toBe('GONE')
      expect(await backend.read(source.log, 0, 10, NOW + 6)).toEqual([])
      expect(await backend.readBefore(source.log, 3, 1000, NOW + 6)).toEqual([])
      // Its names stay taken.
      expect(await backend.create({ log: source.log, meta: '' }, NOW + 6)).toBe(false)
      expect(await backend.create(newLog(newId(), { aliases: [viewer] }), NOW + 6)).toBe(false)
      expect(await backend.resolveAlias(viewer)).toBe(source.log)
      // Deleted again: the same answer, the first time kept.
      expect(await backend.delete(source.log, NOW + 7)).toBe('SOFT')
      expect((await backend.state(source.log))?.deletedAt).toBe(NOW + 5)
      // The fork is untouched.
      expect(await backend.read(fork.log, 0, 10, NOW + 7)).toEqual([{ seq: 1, data: '"1"' }])
      expect(await backend.append([entry(fork.log, '"f2"')], LIMITS, NOW + 7)).toEqual([2])
    })

    test('deleting the last fork of a soft-deleted log deletes it too, down a chain, counted in one answer', async () => {
      const before = await backend.totals()
      const [a, b, c, d] = [
        newLog(newId(), { aliases: [newId()], entries: ['"a1"', '"a2"'] }),
        newLog(newId(), { entries: ['"b3"'] }),
        newLog(),
        newLog(),
      ]
      await backend.create(a, NOW)
      await backend.fork(a.log, 2, b, NOW)
      await backend.fork(b.log, 3, c, NOW)
      await backend.fork(a.log, 1, d, NOW)
      expect([(await backend.state(a.log))?.forks, (await backend.state(b.log))?.forks]).toEqual([2, 1])
      expect(await backend.delete(a.log, NOW)).toBe('SOFT')
      expect(await backend.delete(b.log, NOW)).toBe('SOFT')
      // c goes, and b with it (c was its last fork); a keeps d.
      expect(await backend.delete(c.log, NOW)).toEqual({ logs: 2, entries: 3 + 3, bytes: 12 + 12 })
      expect(await backend.state(b.log)).toBeUndefined()
      expect(await backend.state(a.log)).toMatchObject({ forks: 1, deletedAt: NOW })
      expect(await backend.create({ log: b.log, meta: '' }, NOW)).toBe(true)
      expect(await backend.delete(b.log, NOW)).toEqual({ logs: 1, entries: 0, bytes: 0 })
      expect(await backend.delete(d.log, NOW)).toEqual({ logs: 2, entries: 1 + 2, bytes: 4 + 8 })
      expect(await backend.state(a.log)).toBeUndefined()
      expect(await backend.resolveAlias(a.aliases![0]!)).toBeUndefined()
      expect(await backend.totals()).toEqual(before)
    })

    test('an expired log that forks name is GONE, keeps its names, and is soft-deleted by its delete; an expired fork frees its source', async () => {
      const source = newLog(newId(), { expiresAt: NOW + 10, entries: ['"1"'] })
      await backend.create(source, NOW)
      const fork = newLog(newId(), { expiresAt: NOW + 20 })
      await backend.fork(source.log, 1, fork, NOW)
      expect(await backend.append([entry(source.log, '"2"')], LIMITS, NOW + 10)).toEqual(['GONE'])
      expect(await backend.fork(source.log, 1, newLog(), NOW + 10)).toBe('GONE')
      expect(await backend.create({ log: source.log, meta: 'new' }, NOW + 10)).toBe(false)
      expect(await backend.expiredLogs(NOW + 10, 1000)).toContain(source.log)
      expect(await backend.delete(source.log, NOW + 10)).toBe('SOFT')
      expect(await backend.expiredLogs(NOW + 10, 1000)).not.toContain(source.log)
      expect((await backend.state(source.log))?.expiresAt).toBeUndefined()
      // The fork expires: a create takes its name, and its soft-deleted source goes with it.
      const purged: string[] = []
      expect(await backend.create({ log: fork.log, meta: 'new' }, NOW + 20, (log) => purged.push(log))).toBe(true)
      expect(purged.sort()).toEqual([source.log, fork.log].sort())
      expect(await backend.state(source.log)).toBeUndefined()
    })

    test('the core over it: a soft-deleted log reads as gone (410) until its last fork goes with it, its waiters told', async () => {
      let now = NOW
      const core = new LogCore(backend, { now: () => now })
      const source = newLog(newId(), { entries: ['"1"'] })
      await core.create(source)
      const fork = newLog()
      await core.fork(source.log, 1, fork)
      // Another core (another instance, whose wake-up is still on its way) knows the log from an append of its own.
      const other = new LogCore(backend, { now: () => now })
      await other.append({ log: source.log, data: '"2"', exempt: false })
      await core.recount()
      const before = await core.totals()
      const parked = core.waitFor(source.log, 1, new AbortController().signal, 3_600_000)
      expect(await core.delete(source.log)).toBe('SOFT')
      expect(await other.read(source.log, 1, 10)).toEqual([])
      expect(await parked).toBe(false)
      await expect(core.waitFor(source.log, 1, new AbortController().signal, 3_600_000)).rejects.toMatchObject({
        code: 'GONE',
        status: 410,
      })
      expect((await core.state(source.log))?.deletedAt).toBe(NOW)
      expect(await core.read(source.log, 0, 10)).toEqual([])
      expect(await core.readBefore(source.log, 2, 1000)).toEqual([])
      await expect(core.append({ log: source.log, data: '"2"', exempt: false })).rejects.toMatchObject({ code: 'GONE', status: 410 })
      await expect(core.fork(source.log, 1, newLog())).rejects.toMatchObject({ code: 'GONE' })
      expect(await core.create({ log: source.log, meta: '' })).toBe(false)
      expect(await core.totals()).toEqual(before)
      expect(await core.delete(fork.log)).toEqual({ logs: 2, entries: 3, bytes: 9 })
      expect(await core.state(source.log)).toBeUndefined()
      expect(await core.totals()).toEqual(await backend.totals())
      // Expired while a fork names it: gone from its expiry, before any sweep marks it.
      const expiring = newLog(newId(), { expiresAt: NOW + 10 })
      await core.create(expiring)
      await core.fork(expiring.log, 0, newLog())
      now += 10
      expect((await core.state(expiring.log))?.deletedAt).toBe(NOW + 10)
      await expect(core.waitFor(expiring.log, 0, new AbortController().signal, 3_600_000)).rejects.toMatchObject({ code: 'GONE' })
    })

    test('delete removes the log, its entries, aliases and producers', async () => {
      const viewer = newId()
      const log = newLog(newId(), { aliases: [viewer] })
      await backend.create(log, NOW)
      await backend.append([entry(log.log, '1', { producers: [{ key: 'k', value: 'v' }] })], LIMITS, NOW)
      expect(await backend.delete(log.log, NOW)).toEqual({ logs: 1, entries: 1, bytes: 1 })
      expect(await backend.state(log.log)).toBeUndefined()
      expect(await backend.read(log.log, 0, 10)).toEqual([])
      expect(await backend.resolveAlias(viewer)).toBeUndefined()
      expect(await backend.producer(log.log, 'k')).toBeUndefined()
      expect(await backend.delete(log.log, NOW)).toBeUndefined()
      // The id is free again, with nothing of the old log.
      expect(await backend.create(log, NOW)).toBe(true)
      expect(await backend.state(log.log)).toMatchObject({ head: 0, count: 0 })
      // An empty log is deleted as well (Redis once wrote its counts' -0 as "-0", which HINCRBY refused).
      const totals = await backend.totals()
      expect(await backend.delete(log.log, NOW)).toEqual({ logs: 1, entries: 0, bytes: 0 })
      expect(await backend.totals()).toEqual({ ...totals, logs: totals.logs - 1 })
    })

    test('activity pages by (activeAt, log); expiry lists expired logs; touch and setMeta change state', async () => {
      // A time of its own: a backend whose medium outlives one test (a shared Redis) holds other tests' logs at NOW.
      const T = NOW + 7 * 24 * 60 * 60 * 1000
      const logs = [newLog(), newLog(), newLog()]
      for (const [i, log] of logs.entries()) await backend.create({ ...log, expiresAt: i === 0 ? T + 10 : undefined }, T + i)
      const first = await backend.activeBetween(T, T + 3, 2)
      expect(first.map((c) => c.log)).toEqual([logs[0]!.log, logs[1]!.log])
      const rest = await backend.activeBetween(T, T + 3, 2, first.at(-1))
      expect(rest.map((c) => c.log)).toEqual([logs[2]!.log])
      expect(await backend.expiredLogs(T + 10, 10)).toEqual([logs[0]!.log])
      expect(await backend.expiredLogs(T + 9, 10)).toEqual([])
      expect(await backend.touch(logs[0]!.log, T + 50, null)).toBe(true)
      expect(await backend.state(logs[0]!.log)).toMatchObject({ activeAt: T + 50 })
      expect((await backend.state(logs[0]!.log))?.expiresAt).toBeUndefined()
      expect(await backend.setMeta(logs[1]!.log, '{"title":"x"}')).toBe(true)
      expect((await backend.state(logs[1]!.log))?.meta).toBe('{"title":"x"}')
      expect(await backend.setMeta(newId(), 'x')).toBe(false)
      await backend.append([entry(logs[2]!.log, '1', { touch: true })], LIMITS, T + 100)
      expect((await backend.state(logs[2]!.log))?.activeAt).toBe(T + 100)
    })

    test('totals count logs, retained entries and their bytes', async () => {
      const before = await backend.totals()
      const log = newLog()
      await backend.create(log, NOW)
      await backend.append([entry(log.log, '12345'), entry(log.log, '678')], LIMITS, NOW)
      const after = await backend.totals()
      expect(after).toEqual({ logs: before.logs + 1, entries: before.entries + 2, bytes: before.bytes + 8 })
    })

    test("the core's totals stay the backend's while appends race caps, compactions, deletes and forks", async () => {
      // Every call answers a turn of the event loop later, as over a network: the appends' batches land among them.
      const core = new LogCore(slow(backend), { maxEntriesPerLog: 12 })
      const logs = Array.from({ length: 4 }, () => newId())
      for (const log of logs) await core.create({ log, meta: '' })
      const appends = (log: string, n: number) =>
        Array.from({ length: n }, (_, i) => core.append({ log, data: `"${log}-${i}"`, exempt: false }).catch(() => undefined))
      const forks = Array.from({ length: 8 }, () => newId())
      for (let round = 0; round < 4; round++) {
        const head = (await core.state(logs[1]!))!.head
        const forkAt = (await core.state(logs[2]!))!.head
        await Promise.all([
          ...logs.flatMap((log) => appends(log, 10)),
          core.keepNewest(logs[0]!, 3),
          core.deleteEntries(
            logs[1]!,
            [head - 1, head - 3, head + 2, head + 4].filter((seq) => seq > 0),
          ),
          core.fork(logs[2]!, forkAt, { log: forks[2 * round]!, meta: '' }),
          core.fork(logs[2]!, Math.max(0, forkAt - 1), { log: forks[2 * round + 1]!, meta: '', entries: ['"cut"'] }),
          core.create({ log: newId(), meta: '', entries: ['"a"', '"bb"'] }),
          ...appends(logs[0]!, 5),
        ])
      }
      const doomed = logs[3]!
      await Promise.all([...appends(doomed, 10), core.delete(doomed), ...appends(doomed, 10)])
      // The forked log is soft-deleted, and goes with the last of its forks, while appends race them all.
      await Promise.all([...appends(logs[2]!, 5), core.delete(logs[2]!), ...forks.flatMap((fork) => appends(fork, 2))])
      await Promise.all([...forks.map((fork) => core.delete(fork)), ...appends(logs[2]!, 5), ...forks.flatMap((fork) => appends(fork, 2))])
      expect(await backend.state(logs[2]!)).toBeUndefined()
      await core.settled()
      expect(await core.totals()).toEqual(await backend.totals())
    })

    if (reopen) {
      test('what was appended is there after close and reopen, state and producers included', async () => {
        const log = newLog(newId(), { aliases: [newId()], capped: false })
        await backend.create(log, NOW)
        await backend.append(
          [entry(log.log, '"a"', { run: 'r', opensRun: true, producers: [{ key: 'k', value: 'v' }] }), entry(log.log, '"b"')],
          LIMITS,
          NOW,
        )
        const [first, fork] = [newLog(newId(), { entries: ['"p1"', '"p2"'] }), newLog(newId(), { entries: ['"cut"'] })]
        await backend.create(first, NOW)
        await backend.fork(first.log, 1, fork, NOW)
        expect(await backend.delete(first.log, NOW)).toBe('SOFT')
        // A source two forks name, one of which goes: its forks are kept as lowered.
        const [two, gone] = [newLog(), newLog()]
        await backend.create(two, NOW)
        await backend.fork(two.log, 0, newLog(), NOW)
        await backend.fork(two.log, 0, gone, NOW)
        await backend.delete(gone.log, NOW)
        await backend.close()
        backend = await reopen()
        expect((await backend.read(first.log, 0, 10)).map((e) => e.data)).toEqual(['"p1"', '"p2"'])
        expect((await backend.read(fork.log, 0, 10)).map((e) => e.data)).toEqual(['"p1"', '"cut"'])
        expect(await backend.state(fork.log)).toMatchObject({ head: 2, count: 2, bytes: 9 })
        expect(await backend.state(first.log)).toMatchObject({ forks: 1, deletedAt: NOW })
        expect((await backend.state(two.log))?.forks).toBe(1)
        expect(await backend.append([entry(first.log, '"p3"')], LIMITS, NOW)).toEqual(['GONE'])
        expect(await backend.delete(fork.log, NOW)).toEqual({ logs: 2, entries: 4, bytes: 17 })
        expect(await backend.read(log.log, 0, 10)).toEqual([
          { seq: 1, data: '"a"' },
          { seq: 2, data: '"b"' },
        ])
        expect(await backend.state(log.log)).toMatchObject({ head: 2, count: 2, bytes: 6, openRun: { id: 'r', from: 0 }, capped: false })
        expect(await backend.producer(log.log, 'k')).toBe('v')
        expect(await backend.resolveAlias(log.aliases![0]!)).toBe(log.log)
      })
    }
  })
}
