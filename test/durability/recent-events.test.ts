import { afterAll, describe, expect, test } from 'bun:test'
import type { StoredEvent } from '../../src/events.ts'
import { newId } from '../../src/session-id.ts'
import { RecentEvents } from '../../src/store/recent-events.ts'
import { SqliteStore } from '../../src/store/sqlite-store.ts'
import { ev, seqsOf, tempDir } from './helpers.ts'
import { ECHO } from '../helpers/echo-spec.ts'

const tmp = tempDir()
afterAll(tmp.remove)

const events = (session_id: string, from: number, to: number): StoredEvent[] =>
  Array.from({ length: to - from + 1 }, (_, i) => ({ ...ev.partial('r', String(from + i)), seq: from + i, session_id }) as StoredEvent)

/** Records `list` as committed, each event `size` bytes as stored. */
const add = (recent: RecentEvents, list: StoredEvent[], size = 10) =>
  recent.add(
    list,
    list.map(() => size),
  )

describe('recent events kept in memory', () => {
  test('answer a read that starts within what is kept, and decline one that reaches further back', () => {
    const recent = new RecentEvents({ perSession: 4 })
    add(recent, events('a', 10, 13))
    expect(seqsOf(recent.read('a', 9, 100)!)).toEqual([10, 11, 12, 13])
    expect(seqsOf(recent.read('a', 11, 1)!)).toEqual([12])
    expect(recent.read('a', 13, 100)).toEqual([])
    expect(recent.read('a', 8, 100)).toBeUndefined()
    expect(recent.read('b', 0, 100)).toBeUndefined()
  })

  test('keep at least the newest events of a session, always contiguous', () => {
    const recent = new RecentEvents({ perSession: 4 })
    for (let seq = 1; seq <= 50; seq++) add(recent, events('a', seq, seq))
    expect(seqsOf(recent.read('a', 46, 100)!)).toEqual([47, 48, 49, 50])
    // Whatever more it keeps is the run of seqs right before those.
    const oldest = Array.from({ length: 50 }, (_, i) => i).find((after) => recent.read('a', after, 100) !== undefined)!
    expect(seqsOf(recent.read('a', oldest, 100)!)).toEqual(Array.from({ length: 50 - oldest }, (_, i) => oldest + 1 + i))
  })

  test('drop the least recently written session past the session limit, and forget on request', () => {
    const recent = new RecentEvents({ sessions: 2 })
    add(recent, events('a', 1, 1))
    add(recent, events('b', 1, 1))
    add(recent, events('a', 2, 2))
    add(recent, events('c', 1, 1))
    expect(recent.read('b', 0, 10)).toBeUndefined()
    expect(seqsOf(recent.read('a', 0, 10)!)).toEqual([1, 2])
    recent.forget(['a'])
    expect(recent.read('a', 0, 10)).toBeUndefined()
  })

  test('keep at most maxBytes in all: the least recently written sessions go first, and a session too big alone too', () => {
    const recent = new RecentEvents({ maxBytes: 1000 })
    add(recent, events('a', 1, 4), 100)
    add(recent, events('b', 1, 4), 100)
    expect(recent.bytes).toBe(800)
    add(recent, events('c', 1, 1), 300)
    expect(recent.read('a', 0, 10)).toBeUndefined()
    expect(seqsOf(recent.read('b', 0, 10)!)).toEqual([1, 2, 3, 4])
    expect(recent.bytes).toBe(700)
    // Big events: past the bound by itself, a session is not kept at all (its readers go to the database).
    add(recent, events('d', 1, 2), 600)
    expect(recent.read('d', 0, 10)).toBeUndefined()
    expect(recent.bytes).toBeLessThanOrEqual(1000)
    recent.forget(['b', 'c', 'd'])
    expect(recent.bytes).toBe(0)
  })
})

test('a reader far behind the head reads from the database what a live reader reads from memory', async () => {
  const path = tmp.file()
  const store = new SqliteStore(path)
  const id = newId()
  await store.createSession(id, ECHO)
  for (let i = 1; i <= 150; i++) await store.append(id, ev.partial('r', String(i)))
  const fromStart = await store.read(id, 0, 1000)
  expect(seqsOf(fromStart)).toEqual(Array.from({ length: 150 }, (_, i) => i + 1))
  expect(await store.read(id, 140)).toEqual(fromStart.slice(140))
  await store.close()
  const reopened = new SqliteStore(path)
  expect(await reopened.read(id, 140)).toEqual(fromStart.slice(140))
  await reopened.close()
})
