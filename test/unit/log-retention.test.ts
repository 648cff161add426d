import { describe, expect, test } from 'bun:test'
import { MemoryBackend } from '../../src/log/backends/memory-backend.ts'
import { createEventLog } from '../../src/log/event-log.ts'
import { newId } from '../../src/session-id.ts'
import { ECHO } from '../helpers/echo-spec.ts'

const HOUR = 60 * 60 * 1000
const policy = { idleMs: 24 * HOUR, maxEventsPerSession: 1000, compactAfterMs: HOUR }

/** An event log whose clock the test moves. */
function clocked() {
  const clock = { now: 1_800_000_000_000 }
  const log = createEventLog(new MemoryBackend(), { core: { now: () => clock.now } })
  return { clock, log }
}

describe('retention by the core’s clock', () => {
  test('a session idle past the policy is deleted when the clock says so, not before', async () => {
    const { clock, log } = clocked()
    const id = newId()
    await log.createSession(id, ECHO)
    await log.append(id, { type: 'user', step_id: 'r', ts: new Date(clock.now).toISOString(), text: 'q' })
    clock.now += 23 * HOUR
    expect((await log.prune(policy)).sessionsDeleted).toBe(0)
    clock.now += 2 * HOUR + 60_000
    expect((await log.prune(policy)).sessionsDeleted).toBe(1)
    expect(await log.getSession(id)).toBeUndefined()
  })

  test('an idle chat with a live branch is kept for it, gone for everyone else, and goes with the branch', async () => {
    const { clock, log } = clocked()
    const [id, branch] = [newId(), newId()]
    await log.createSession(id, ECHO)
    await log.append(id, { type: 'user', step_id: 'r', ts: new Date(clock.now).toISOString(), text: 'q' })
    // The branch closes the run it copied with an interrupt (seq 2).
    await log.forkSession(id, 1, branch)
    clock.now += 25 * HOUR + 60_000
    await log.append(branch, { type: 'user', step_id: 'b', ts: new Date(clock.now).toISOString(), text: 'q2' })
    expect((await log.prune(policy)).sessionsDeleted).toBe(0)
    expect(await log.getSession(id)).toBeUndefined()
    expect((await log.getSession(branch))?.last_seq).toBe(3)
    // The next passes leave the soft-deleted chat be: deleting it again would only write its mark again.
    const deletes: string[] = []
    const backendDelete = log.core.backend.delete.bind(log.core.backend)
    log.core.backend.delete = (target, now) => {
      deletes.push(target)
      return backendDelete(target, now)
    }
    clock.now += HOUR
    expect((await log.prune(policy)).sessionsDeleted).toBe(0)
    expect(deletes).toEqual([])
    clock.now += 25 * HOUR + 60_000
    expect(await log.prune(policy)).toMatchObject({ sessionsDeleted: 2, eventsDeleted: 4 })
    expect(await log.core.backend.state(id)).toBeUndefined()
  })

  test('a log past its expiry is gone at once for readers, and deleted by the next pass', async () => {
    const { clock, log } = clocked()
    await log.core.create({ log: 'stream', meta: '{}', expiresAt: clock.now + 1000 })
    expect(await log.core.state('stream')).toBeDefined()
    clock.now += 1000
    expect(await log.core.state('stream')).toBeUndefined()
    expect((await log.prune(policy)).sessionsDeleted).toBe(1)
    expect(await log.core.backend.state('stream')).toBeUndefined()
  })

  test('the cap pass keeps exactly maxEventsPerSession events, however many holes compaction left', async () => {
    const { clock, log } = clocked()
    const id = newId()
    await log.createSession(id, ECHO)
    const ts = new Date(clock.now).toISOString()
    for (let i = 0; i < 30; i++) await log.append(id, { type: 'partial', step_id: 'r', ts, delta: String(i) })
    await log.core.deleteEntries(id, [2, 4, 6, 8, 10, 12])
    const report = await log.prune({ ...policy, maxEventsPerSession: 20 })
    expect(report.eventsCapped).toBe(4)
    // 24 kept: the four oldest go (1, 3, 5, 7), not those up to `tail + 4`.
    expect((await log.read(id, 0)).map((e) => e.seq)).toEqual([9, 11, ...Array.from({ length: 18 }, (_, i) => i + 13)])
  })

  test('a pass counts the store again: what another process did to a shared store is counted from then on', async () => {
    const { log } = clocked()
    const id = newId()
    await log.createSession(id, ECHO)
    // Another process's log, straight into the backend.
    await log.core.backend.create({ log: 'elsewhere', meta: '{}' }, 0)
    expect((await log.core.totals()).logs).toBe(1)
    await log.prune(policy)
    expect(await log.core.totals()).toEqual(await log.core.backend.totals())
  })

  test('an uncapped log (a stream) is neither compacted, nor parsed as events, nor capped, however long it is quiet', async () => {
    const { clock, log } = clocked()
    await log.core.create({ log: 'stream:s', meta: '{}', capped: false })
    const ts = new Date(clock.now).toISOString()
    // What a chat's finished run would be, and bytes no event parser takes.
    const data = [
      { type: 'user', step_id: 'r', ts, text: 'q' },
      { type: 'partial', step_id: 'r', ts, delta: 'a' },
      { type: 'final', step_id: 'r', ts, text: 'a' },
    ]
      .map((event) => JSON.stringify(event))
      .concat(['b/w==', 'not json'])
    for (const entry of data) await log.core.append({ log: 'stream:s', data: entry, exempt: false })
    clock.now += 2 * HOUR
    const report = await log.prune({ ...policy, maxEventsPerSession: 2 })
    expect(report).toMatchObject({ partialsCompacted: 0, eventsCapped: 0 })
    expect((await log.core.read('stream:s', 0, 10)).map((e) => e.data)).toEqual(data)
  })

  test('a finished run is compacted once its chat has been quiet for compactAfterMs', async () => {
    const { clock, log } = clocked()
    const id = newId()
    await log.createSession(id, ECHO)
    const ts = new Date(clock.now).toISOString()
    await log.append(id, { type: 'user', step_id: 'r', ts, text: 'q' })
    await log.append(id, { type: 'partial', step_id: 'r', ts, delta: 'a' })
    await log.append(id, { type: 'final', step_id: 'r', ts, text: 'a' })
    clock.now += HOUR / 2
    expect((await log.prune(policy)).partialsCompacted).toBe(0)
    clock.now += HOUR
    expect((await log.prune(policy)).partialsCompacted).toBe(1)
    expect((await log.read(id, 0)).map((e) => e.type)).toEqual(['user', 'final'])
  })
})
