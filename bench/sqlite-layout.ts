/**
 * A diagnostic, not a scenario: what one durable event row costs SQLite when many sessions stream at once, in
 * the layout stepstream uses (`events` clustered by (session, seq)) and in an append-only journal merged into it
 * in bulk. It isolates the write path the many-runs scenario saturates: every commit dirties one B-tree page per
 * session that wrote, and WAL mode writes each dirty page whole.
 *
 *   bun bench/sqlite-layout.ts [sessions=1000] [rows per session=250] [journal merge every N rows per session=50]
 */
import { Database } from 'bun:sqlite'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

const [sessions = 1000, rowsPerSession = 250, mergeEvery = 50] = process.argv.slice(2).map(Number)
const dir = mkdtempSync(join(tmpdir(), 'stepstream-sqlite-layout-'))

const EVENTS = `CREATE TABLE events (session TEXT NOT NULL, seq INTEGER NOT NULL, type TEXT NOT NULL, step_id TEXT NOT NULL,
  ts TEXT NOT NULL, payload TEXT NOT NULL, PRIMARY KEY (session, seq)) STRICT, WITHOUT ROWID`
const JOURNAL = `CREATE TABLE journal (id INTEGER PRIMARY KEY, session TEXT NOT NULL, seq INTEGER NOT NULL, type TEXT NOT NULL,
  step_id TEXT NOT NULL, ts TEXT NOT NULL, payload TEXT NOT NULL) STRICT`

function open(name: string): Database {
  const db = new Database(join(dir, `${name}.db`), { create: true, strict: true })
  // The pragmas stepstream's store sets.
  db.exec('PRAGMA journal_mode = WAL')
  db.exec('PRAGMA synchronous = NORMAL')
  db.exec(EVENTS)
  db.exec(JOURNAL)
  return db
}

const ids = Array.from({ length: sessions }, () => Buffer.from(crypto.getRandomValues(new Uint8Array(16))).toString('base64url'))

/** One commit per "tick": every session appends one token, as at 50 tokens/s with a group commit under 20 ms. */
function measure(name: string, table: 'events' | 'journal', merge?: (db: Database) => void) {
  const db = open(table)
  const insert = db.prepare(`INSERT INTO ${table} (session, seq, type, step_id, ts, payload) VALUES (?, ?, ?, ?, ?, ?)`)
  const commit = db.transaction((seq: number, ts: string) => {
    for (const id of ids) insert.run(id, seq, 'partial', 'AAAAAAAAAAAAAAAAAAAAAA', ts, '{"delta":"a"}')
  })
  let worstMs = 0
  const started = performance.now()
  for (let seq = 1; seq <= rowsPerSession; seq++) {
    const t = performance.now()
    commit(seq, new Date().toISOString())
    if (merge && seq % mergeEvery === 0) merge(db)
    worstMs = Math.max(worstMs, performance.now() - t)
  }
  const perRowMicros = ((performance.now() - started) * 1000) / (sessions * rowsPerSession)
  db.close()
  console.log(`${name.padEnd(36)} ${perRowMicros.toFixed(1).padStart(6)} µs per row, worst commit ${worstMs.toFixed(0)} ms`)
}

const mergeJournal = (db: Database) =>
  db.transaction(() => {
    db.run('INSERT INTO events SELECT session, seq, type, step_id, ts, payload FROM journal ORDER BY session, seq')
    db.run('DELETE FROM journal')
  })()

console.log(`${sessions} sessions × ${rowsPerSession} rows, one commit per row of every session (WAL, synchronous = NORMAL)`)
try {
  measure('events clustered by (session, seq)', 'events')
  measure(`journal, merged every ${mergeEvery} rows/session`, 'journal', mergeJournal)
} finally {
  rmSync(dir, { recursive: true, force: true })
}
