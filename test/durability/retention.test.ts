import { afterAll, describe, expect, test } from 'bun:test'
import { newId } from '../../src/session-id.ts'
import { readAll } from '../../src/store/read-all.ts'
import { DEFAULT_RETENTION_POLICY, parseDuration, type RetentionPolicy } from '../../src/log/retention-policy.ts'
import { SqliteStore } from '../../src/store/sqlite-store.ts'
import { foldTranscript } from '../../src/transcript.ts'
import { appendRun, DAY, ev, seqsOf, storeWithHandle, tempDir, typesOf } from './helpers.ts'
import { ECHO } from '../helpers/echo-spec.ts'

const tmp = tempDir()
afterAll(tmp.remove)

const policy = (overrides: Partial<RetentionPolicy> = {}): RetentionPolicy => ({ ...DEFAULT_RETENTION_POLICY, ...overrides })
const inAnHour = () => new Date(Date.now() + 60 * 60 * 1000 + 1000)

describe('idle sessions', () => {
  test('sessions idle longer than the retention period are deleted with their events; the others stay whole', async () => {
    const { store, db } = storeWithHandle(tmp.file())
    const [old, recent] = [newId(), newId()]
    for (const id of [old, recent]) {
      await store.createSession(id, ECHO)
      await appendRun(store, id, 'hi', 'final')
    }
    const longAgo = new Date(Date.now() - 31 * DAY).toISOString()
    db().query('UPDATE sessions SET last_activity = ? WHERE id = ?').run(longAgo, old)
    const kept = await readAll(store, recent)

    const report = await store.prune(policy({ idleMs: 30 * DAY }))
    expect(report).toMatchObject({ sessionsDeleted: 1, eventsDeleted: 5 })
    expect(await store.getSession(old)).toBeUndefined()
    expect(await store.read(old, 0)).toEqual([])
    await expect(store.append(old, ev.user('r', 'anyone?'))).rejects.toMatchObject({ code: 'SESSION_NOT_FOUND' })
    expect(await readAll(store, recent)).toEqual(kept)
    await store.close()
  })

  test('a reader waiting on a session that retention deletes is woken, then told the session is gone', async () => {
    const store = new SqliteStore(tmp.file())
    const id = newId()
    await store.createSession(id, ECHO)
    await store.append(id, ev.user('r', 'hello'))
    const waiting = store.waitFor(id, 1, new AbortController().signal)
    await store.prune(policy({ idleMs: 0 }), new Date(Date.now() + 2 * 60 * 1000))
    await waiting
    await expect(store.waitFor(id, 1, new AbortController().signal)).rejects.toMatchObject({ code: 'SESSION_NOT_FOUND' })
    await store.close()
  })
})

describe('event cap', () => {
  test('a session over the cap keeps only its newest events, and its seqs go on from where they were', async () => {
    const store = new SqliteStore(tmp.file())
    const id = newId()
    await store.createSession(id, ECHO)
    for (let i = 1; i <= 25; i++) await store.append(id, ev.partial('r', String(i)))
    expect((await store.prune(policy({ maxEventsPerSession: 10 }))).eventsCapped).toBe(15)
    expect(seqsOf(await store.read(id, 0))).toEqual([16, 17, 18, 19, 20, 21, 22, 23, 24, 25])
    expect((await store.getSession(id))?.last_seq).toBe(25)
    expect((await store.append(id, ev.partial('r', '26'))).seq).toBe(26)
    await store.close()
  })

  test('a session that grows past the cap after a pass is capped by the next pass', async () => {
    const store = new SqliteStore(tmp.file())
    const id = newId()
    await store.createSession(id, ECHO)
    for (let i = 0; i < 5; i++) await store.append(id, ev.partial('r', 'x'))
    expect((await store.prune(policy({ maxEventsPerSession: 10 }))).eventsCapped).toBe(0)
    for (let i = 0; i < 10; i++) await store.append(id, ev.partial('r', 'x'))
    expect((await store.prune(policy({ maxEventsPerSession: 10 }))).eventsCapped).toBe(5)
    expect(seqsOf(await store.read(id, 0))[0]).toBe(6)
    await store.close()
  })

  test('the cap counts events, not seqs: a compacted session under it loses nothing more', async () => {
    const store = new SqliteStore(tmp.file())
    const id = newId()
    await store.createSession(id, ECHO)
    for (const text of ['abcdef', 'ghijkl', 'mnopqr']) await appendRun(store, id, text, 'final')
    // 27 seqs; compaction leaves user, start and final of each run: 9 events, under a cap of 10.
    const report = await store.prune(policy({ maxEventsPerSession: 10 }), inAnHour())
    expect(report).toMatchObject({ partialsCompacted: 18, eventsCapped: 0 })
    expect(typesOf(await store.read(id, 0))).toEqual(Array.from({ length: 3 }, () => ['user', 'start', 'final'] as const).flat())
    await store.close()
  })
})

describe('compaction', () => {
  test('a quiet session loses the partials of runs that ended with final or interrupt, and reads the same', async () => {
    const store = new SqliteStore(tmp.file())
    const id = newId()
    await store.createSession(id, ECHO)
    await appendRun(store, id, 'hello', 'final')
    await appendRun(store, id, 'wor', 'interrupt')
    const failed = await appendRun(store, id, 'oops', 'error')
    const open = await appendRun(store, id, 'tail', 'open')
    const before = foldTranscript(await readAll(store, id))

    expect((await store.prune(policy(), inAnHour())).partialsCompacted).toBe(8)
    const after = await readAll(store, id)
    expect(foldTranscript(after)).toEqual(before)
    // An `error` carries no text, so its run keeps what it streamed; an open run keeps its partials for recovery.
    expect(new Set(after.filter((e) => e.type === 'partial').map((e) => e.step_id))).toEqual(new Set([failed, open]))
    await store.close()
  })

  test('a session that had an event within the compaction delay is left alone', async () => {
    const store = new SqliteStore(tmp.file())
    const id = newId()
    await store.createSession(id, ECHO)
    await appendRun(store, id, 'just now', 'final')
    expect((await store.prune(policy())).partialsCompacted).toBe(0)
    expect(typesOf(await store.read(id, 0))).toContain('partial')
    await store.close()
  })

  test('runs that end after a session was compacted are compacted by a later pass', async () => {
    const store = new SqliteStore(tmp.file())
    const id = newId()
    await store.createSession(id, ECHO)
    await appendRun(store, id, 'one', 'final')
    expect((await store.prune(policy(), inAnHour())).partialsCompacted).toBe(3)
    await appendRun(store, id, 'two', 'final')
    expect((await store.prune(policy(), inAnHour())).partialsCompacted).toBe(3)
    expect(typesOf(await store.read(id, 0))).not.toContain('partial')
    await store.close()
  })
})

test('a prune pass running alongside appends loses, reorders and duplicates none of them', async () => {
  const { store, db } = storeWithHandle(tmp.file())
  const busy = Array.from({ length: 20 }, newId)
  const idle = Array.from({ length: 60 }, newId)
  for (const id of [...busy, ...idle]) {
    await store.createSession(id, ECHO)
    await store.append(id, ev.user('r', 'hi'))
  }
  const longAgo = new Date(Date.now() - 31 * DAY).toISOString()
  for (const id of idle) db().query('UPDATE sessions SET last_activity = ? WHERE id = ?').run(longAgo, id)
  const writers = busy.map(async (id) => {
    for (let i = 0; i < 30; i++) await store.append(id, ev.partial('r', String(i)))
  })
  const [report] = await Promise.all([store.prune(policy()), ...writers])
  expect(report.sessionsDeleted).toBe(idle.length)
  for (const id of busy) expect(seqsOf(await store.read(id, 0))).toEqual(Array.from({ length: 31 }, (_, i) => i + 1))
  await store.close()
})

describe('durations for --retention', () => {
  test('days, hours, minutes and seconds', () => {
    expect(parseDuration('30d')).toBe(30 * DAY)
    expect(parseDuration('12h')).toBe(12 * 60 * 60 * 1000)
    expect(parseDuration('90m')).toBe(90 * 60 * 1000)
    expect(parseDuration('45s')).toBe(45_000)
  })

  test('a bare number, a fraction, a negative or an unknown unit is not a duration', () => {
    for (const raw of ['30', '1.5h', '-1d', '2w', 'd', '', '10 d']) expect(parseDuration(raw)).toBeUndefined()
  })
})
