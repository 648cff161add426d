import { Database } from 'bun:sqlite'
import { afterAll, describe, expect, test } from 'bun:test'
import { newId } from '../../src/session-id.ts'
import { readAll } from '../../src/store/read-all.ts'
import { SqliteStore } from '../../src/store/sqlite-store.ts'
import { ev, seqsOf, storeWithHandle, tempDir } from './helpers.ts'
import { ECHO } from '../helpers/echo-spec.ts'

const tmp = tempDir()
afterAll(tmp.remove)

const HOUR = 3_600_000
const count = (db: Database, table: 'events' | 'journal') => (db.query(`SELECT count(*) AS n FROM ${table}`).get() as { n: number }).n

describe('the journal', () => {
  test('commits land in the journal and reads see them before any merge, in order, page by page', async () => {
    const { store, db } = storeWithHandle(tmp.file(), { mergeEveryMs: HOUR, mergeAtEvents: 1_000_000 })
    const id = newId()
    await store.createSession(id, ECHO)
    for (let i = 0; i < 150; i++) await store.append(id, ev.partial('s', String(i % 10)))
    expect(count(db(), 'events')).toBe(0)
    expect(count(db(), 'journal')).toBe(150)
    // Far behind the head: past what the store keeps in memory of recent events.
    expect(seqsOf(await store.read(id, 10, 20))).toEqual(Array.from({ length: 20 }, (_, i) => i + 11))
    expect(seqsOf(await readAll(store, id))).toEqual(Array.from({ length: 150 }, (_, i) => i + 1))
    expect((await store.getSession(id))?.last_seq).toBe(150)
    await store.close()
  })

  test('a merge moves events in chunks while appends go on; reads across the boundary miss nothing', async () => {
    const { store, db } = storeWithHandle(tmp.file(), { mergeEveryMs: HOUR, mergeAtEvents: 40, chunkEvents: 7 })
    const ids = [newId(), newId(), newId()]
    for (const id of ids) await store.createSession(id, ECHO)
    for (let i = 0; i < 100; i++) await Promise.all(ids.map((id) => store.append(id, ev.partial('s', 'x'))))
    await Bun.sleep(20)
    expect(count(db(), 'events')).toBeGreaterThan(0)
    for (const id of ids) {
      expect(seqsOf(await readAll(store, id))).toEqual(Array.from({ length: 100 }, (_, i) => i + 1))
      expect((await store.getSession(id))?.last_seq).toBe(100)
      expect((await store.append(id, ev.partial('s', 'y'))).seq).toBe(101)
    }
    await store.close()
    const file = new Database(db().filename, { readonly: true })
    expect([count(file, 'events'), count(file, 'journal')]).toEqual([303, 0])
    file.close()
  })

  test('rows a crash left in the journal are merged at the next open, even those a merge had already copied', async () => {
    const path = tmp.file()
    const id = newId()
    await new SqliteStore(path).close()
    const crashed = new Database(path)
    crashed
      .query("INSERT INTO sessions (id, created_at, last_activity) VALUES (?, '2025-01-01T00:00:00.000Z', '2025-01-01T00:00:00.000Z')")
      .run(id)
    const row = (seq: number) => [id, seq, 'partial', 's', '2025-01-01T00:00:00.000Z', JSON.stringify({ delta: String(seq) })]
    crashed.query('INSERT INTO events (session, seq, type, step_id, ts, payload) VALUES (?, ?, ?, ?, ?, ?)').run(...row(1))
    const journal = crashed.query('INSERT INTO journal (session, seq, type, step_id, ts, payload) VALUES (?, ?, ?, ?, ?, ?)')
    for (const seq of [1, 2, 3]) journal.run(...row(seq))
    crashed.close()

    const store = new SqliteStore(path)
    expect((await store.read(id, 0)).map((e) => (e.type === 'partial' ? e.delta : ''))).toEqual(['1', '2', '3'])
    expect((await store.getSession(id))?.last_seq).toBe(3)
    expect((await store.append(id, ev.partial('s', '4'))).seq).toBe(4)
    await store.close()
  })
})
