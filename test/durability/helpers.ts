import type { EventStore } from '../../src/log/event-store.ts'
import type { Database } from 'bun:sqlite'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { NewEvent, StoredEvent } from '../../src/events.ts'
import { SqliteStore, type SqliteStoreOptions } from '../../src/store/sqlite-store.ts'
import { newId } from '../../src/session-id.ts'

/** A temp folder for database files, removed by `remove()`. */
export function tempDir(prefix = 'stepstream-durability-') {
  const dir = mkdtempSync(join(tmpdir(), prefix))
  let n = 0
  return {
    dir,
    /** A fresh database path inside the folder. */
    file: (name = `db-${n++}`) => join(dir, `${name}.db`),
    remove: () => rmSync(dir, { recursive: true, force: true }),
  }
}

/** A store whose connection the test can reach, to inject faults (`PRAGMA max_page_count`, `query_only`). */
export function storeWithHandle(path: string, options: SqliteStoreOptions = {}) {
  let db!: Database
  const store = new SqliteStore(path, { ...options, onOpen: (opened) => (db = opened) })
  return { store, db: () => db }
}

/** Lets the database grow by only `pages` more pages: the next writes past that fail as if the disk were full. */
export function fillDiskAfter(db: Database, pages: number) {
  const { page_count } = db.query('PRAGMA page_count').get() as { page_count: number }
  db.query(`PRAGMA max_page_count = ${page_count + pages}`).get()
  return () => void db.query('PRAGMA max_page_count = 4294967294').get()
}

const ts = () => new Date().toISOString()
export const ev = {
  user: (step_id: string, text: string): NewEvent => ({ type: 'user', step_id, ts: ts(), text }),
  start: (step_id: string): NewEvent => ({ type: 'start', step_id, ts: ts(), step_type: 'echo' }),
  partial: (step_id: string, delta: string): NewEvent => ({ type: 'partial', step_id, ts: ts(), delta }),
  final: (step_id: string, text: string): NewEvent => ({ type: 'final', step_id, ts: ts(), text }),
  interrupt: (step_id: string, text: string): NewEvent => ({ type: 'interrupt', step_id, ts: ts(), text }),
  error: (step_id: string): NewEvent => ({ type: 'error', step_id, ts: ts(), error: 'The model is unavailable.' }),
}

/** Appends a whole run: user, start, one partial per character, then `end` (or nothing: the run stays open). */
export async function appendRun(store: EventStore, sessionId: string, text: string, end: 'final' | 'interrupt' | 'error' | 'open') {
  const step = newId()
  await store.append(sessionId, ev.user(step, `say ${text}`))
  await store.append(sessionId, ev.start(step))
  for (const char of text) await store.append(sessionId, ev.partial(step, char))
  if (end === 'final' || end === 'interrupt') await store.append(sessionId, ev[end](step, text))
  if (end === 'error') await store.append(sessionId, ev.error(step))
  return step
}

export const seqsOf = (events: StoredEvent[]) => events.map((e) => e.seq)
export const typesOf = (events: StoredEvent[]) => events.map((e) => e.type)
export const DAY = 24 * 60 * 60 * 1000
