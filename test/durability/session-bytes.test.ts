import { Database } from 'bun:sqlite'
import { afterAll, expect, test } from 'bun:test'
import { copyFileSync, existsSync } from 'node:fs'
import { join } from 'node:path'
import { newId } from '../../src/session-id.ts'
import { SqliteStore } from '../../src/store/sqlite-store.ts'
import { ECHO } from '../helpers/echo-spec.ts'
import { tempDir } from './helpers.ts'

const temp = tempDir()
afterAll(() => temp.remove())
const HOUR = 3_600_000

/** What the `logs` row counts, and what the log's rows hold, in the file at `path`. */
function bytesIn(path: string, id: string) {
  const db = new Database(path, { readonly: true })
  try {
    const counted = db.query<{ bytes: number }, [string]>('SELECT bytes FROM logs WHERE id = ?').get(id)!.bytes
    const held = db.query<{ bytes: number }, [string]>('SELECT SUM(octet_length(data)) AS bytes FROM entries WHERE log = ?').get(id)!.bytes
    return { counted, held }
  } finally {
    db.close()
  }
}

test('a chat is counted in bytes of its JSON as it is appended, once: what a crash left in the journal is not counted again', async () => {
  const path = temp.file()
  const id = newId()
  const store = new SqliteStore(path, { mergeEveryMs: HOUR })
  await store.createSession(id, ECHO)
  for (let i = 0; i < 20; i++)
    await store.append(id, { type: 'partial', step_id: 'r', ts: new Date().toISOString(), delta: 'é'.repeat(i * 50) })
  // The files as a crash leaves them: every event committed in the journal, none merged, no clean close.
  const crashed = temp.file()
  copyFileSync(path, crashed)
  if (existsSync(`${path}-wal`)) copyFileSync(`${path}-wal`, `${crashed}-wal`)
  await store.close()
  const reopened = new SqliteStore(crashed)
  const events = await reopened.read(id, 0)
  expect(events.length).toBe(20)
  await reopened.close()
  const json = events.reduce((sum, { seq: _seq, session_id: _session, ...event }) => sum + Buffer.byteLength(JSON.stringify(event)), 0)
  expect(bytesIn(crashed, id)).toEqual({ counted: json, held: json })
})

test('a database from before byte counts (schema 6) is counted by the migrations, in bytes of each entry', async () => {
  const path = temp.file()
  copyFileSync(join(import.meta.dir, '../fixtures/schema-v8.db'), path)
  const old = new Database(path)
  const ids = old.query<{ id: string }, []>('SELECT id FROM sessions').all()
  // Schema 6: before the producers table (7) and the byte counts (8).
  old.run('ALTER TABLE sessions DROP COLUMN bytes')
  old.run('DROP TABLE producers')
  old.run('PRAGMA user_version = 6')
  old.close()
  await new SqliteStore(path).close()
  for (const { id } of ids) {
    const { counted, held } = bytesIn(path, id)
    expect(counted).toBe(held ?? 0)
  }
})
