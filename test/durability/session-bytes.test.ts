import { afterAll, expect, test } from 'bun:test'
import { Database } from 'bun:sqlite'
import { newId } from '../../src/session-id.ts'
import { ROW_BYTES_SQL } from '../../src/store/sqlite-budget.ts'
import { SqliteStore } from '../../src/store/sqlite-store.ts'
import { tempDir } from './helpers.ts'
import { ECHO } from '../helpers/echo-spec.ts'

const temp = tempDir()
afterAll(() => temp.remove())

const counted = (db: Database, id: string) =>
  db.query<{ bytes: number }, [string]>('SELECT bytes FROM sessions WHERE id = ?').get(id)!.bytes
const actual = (db: Database, id: string) =>
  db.query<{ bytes: number }, [string]>(`SELECT SUM(${ROW_BYTES_SQL}) AS bytes FROM events WHERE session = ?`).get(id)!.bytes

test("a crash's journal is counted once at the next open: rows a merge had moved already are not counted again", async () => {
  const path = temp.file()
  const id = newId()
  const store = new SqliteStore(path, { checkpointer: false })
  await store.createSession(id, ECHO)
  await store.close()
  // What a crash in the middle of a merge leaves: three committed events in the journal, the first of them also moved
  // into `events` (and counted, in the merge's transaction), the other two not yet.
  const db = new Database(path)
  const row = (seq: number) => [id, seq, 'partial', 'run-1', '2026-01-01T00:00:00.000Z', JSON.stringify({ delta: `ü${seq}`.repeat(100) })]
  const insert = (table: string, seq: number) =>
    db.query(`INSERT INTO ${table} (session, seq, type, step_id, ts, payload) VALUES (?, ?, ?, ?, ?, ?)`).run(...row(seq))
  for (const seq of [1, 2, 3]) insert('journal', seq)
  insert('events', 1)
  db.query('UPDATE sessions SET bytes = ? WHERE id = ?').run(actual(db, id), id)
  db.close()

  const reopened = new SqliteStore(path, { checkpointer: false })
  expect((await reopened.read(id, 0)).map((e) => e.seq)).toEqual([1, 2, 3])
  await reopened.close()
  const after = new Database(path)
  expect(counted(after, id)).toBe(actual(after, id))
  after.close()
})

test('the bytes counted as events are appended are those SQL counts; a database from before them (schema 6) is counted by the migration', async () => {
  const path = temp.file()
  const [a, b] = [newId(), newId()]
  const store = new SqliteStore(path, { checkpointer: false })
  await store.createSession(a, ECHO)
  await store.createSession(b, ECHO)
  for (let i = 0; i < 20; i++)
    await store.append(i % 2 ? a : b, { type: 'partial', step_id: 'r', ts: new Date().toISOString(), delta: 'é'.repeat(i * 50) })
  await store.close()
  const old = new Database(path)
  // What the store counted as it appended (eventBytes, in JavaScript) is what SQL counts of the rows.
  for (const id of [a, b]) expect(counted(old, id)).toBe(actual(old, id))
  // Schema 6: before the producers table (7) and the byte counts (8).
  old.run('ALTER TABLE sessions DROP COLUMN bytes')
  old.run('DROP TABLE producers')
  old.run('PRAGMA user_version = 6')
  old.close()
  await new SqliteStore(path, { checkpointer: false }).close()
  const db = new Database(path)
  for (const id of [a, b]) expect(counted(db, id)).toBe(actual(db, id))
  expect(counted(db, a)).toBeGreaterThan(0)
  db.close()
})
