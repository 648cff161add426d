import type { Database } from 'bun:sqlite'
import { CLOSING_TYPES, type EventType } from '../events.ts'
import { StoreOpenError } from './store-errors.ts'

/** `('a', 'b')`: a list of event types as an SQL list of literals (event types are plain words, never quoted). */
export const sqlList = (types: readonly EventType[]) => `(${types.map((type) => `'${type}'`).join(', ')})`

/** The closing types as an SQL list, built from the one list in events.ts. */
export const CLOSING_TYPES_SQL = sqlList(CLOSING_TYPES)

/**
 * The event types that open or close a run. The partial index below holds only these rows (about three per run),
 * so recovery and compaction find runs without scanning every `partial`. A query uses that index only when its list
 * is the index's exact text; test/durability/open.test.ts checks that this list is still the one the shipped
 * migration indexed, so adding a closing type fails there until a new migration rebuilds the index.
 */
export const RUN_BOUNDARY_TYPES = sqlList(['user', 'start', ...CLOSING_TYPES])

/** What version 2 indexed: a shipped migration never changes, so its text is frozen here, not built. */
const RUN_BOUNDARY_TYPES_V2 = "('user', 'start', 'final', 'interrupt', 'error')"

/** What version 5 fills old sessions' viewer ids with: 22 random characters of base64url's alphabet. Frozen. */
const RANDOM_ID_SQL_V5 = Array.from(
  { length: 22 },
  () => "substr('ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_', (random() & 63) + 1, 1)",
).join(' || ')

/**
 * The schema history: entry `i` moves a database from version `i` to `i + 1`; `PRAGMA user_version` records where
 * a file is. Never edit an entry that has shipped; append a new one.
 */
export const MIGRATIONS: readonly string[] = [
  `CREATE TABLE sessions (
     id TEXT PRIMARY KEY,
     created_at TEXT NOT NULL,
     last_activity TEXT NOT NULL,
     state TEXT NOT NULL DEFAULT 'active'
   ) STRICT;
   CREATE TABLE events (
     session TEXT NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
     seq INTEGER NOT NULL,
     type TEXT NOT NULL,
     step_id TEXT NOT NULL,
     ts TEXT NOT NULL,
     payload TEXT NOT NULL,
     PRIMARY KEY (session, seq)
   ) STRICT, WITHOUT ROWID;
   CREATE INDEX sessions_by_activity ON sessions(last_activity);`,
  // Version 2: run boundaries for crash recovery and compaction. `sessions.state` is 'active' while a session has
  // events that compaction has not looked at yet, 'compacted' after; the second index finds the former.
  `CREATE INDEX events_run_bounds ON events(session, step_id, type) WHERE type IN ${RUN_BOUNDARY_TYPES_V2};
   CREATE INDEX sessions_to_compact ON sessions(last_activity) WHERE state = 'active';`,
  // Version 3: the write-ahead journal (sqlite-journal.ts). Commits append here; a merge moves rows into `events`
  // later in (session, seq) order. No index beyond the rowid: that is what keeps commits sequential.
  `CREATE TABLE journal (
     id INTEGER PRIMARY KEY,
     session TEXT NOT NULL,
     seq INTEGER NOT NULL,
     type TEXT NOT NULL,
     step_id TEXT NOT NULL,
     ts TEXT NOT NULL,
     payload TEXT NOT NULL
   ) STRICT;`,
  // Version 4: the step a session runs, recorded when it is created (JSON `{"name", "options"?}`). Sessions from
  // before had only the echo step.
  `ALTER TABLE sessions ADD COLUMN step TEXT NOT NULL DEFAULT '{"name":"echo"}';`,
  // Version 5: each session's read-only viewer id (event-store.ts). New sessions get one from newId(); sessions from
  // before get 22 characters of the same alphabet, each from 6 bits of SQLite's random() (132 bits in all, from the
  // PRNG SQLite seeds from the OS's randomness), so an old chat can be shared like a new one. Unique: one chat each.
  `ALTER TABLE sessions ADD COLUMN viewer_id TEXT;
   UPDATE sessions SET viewer_id = ${RANDOM_ID_SQL_V5};
   CREATE UNIQUE INDEX sessions_by_viewer ON sessions(viewer_id);`,
  // Version 6: the SHA-256 of the publisher token of a session whose runs a program publishes over HTTP (NULL for
  // the others). Never the token itself: a copy of the database must not be able to publish.
  `ALTER TABLE sessions ADD COLUMN publisher_hash TEXT;`,
  // Version 7: idempotent producers' state (src/store/producer-state.ts), one row per (session, run, producer),
  // written in the same transaction as the events that change it, so a retry after a restart is still recognised.
  // `failure`: the JSON of the refusal a partly applied request got, NULL otherwise. `epoch` is 0 until producers
  // send Producer-Epoch.
  `CREATE TABLE producers (
     session TEXT NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
     run TEXT NOT NULL,
     producer TEXT NOT NULL,
     epoch INTEGER NOT NULL DEFAULT 0,
     seq INTEGER NOT NULL,
     appended INTEGER NOT NULL,
     closed INTEGER NOT NULL,
     failure TEXT,
     PRIMARY KEY (session, run, producer)
   ) STRICT, WITHOUT ROWID;`,
  // Version 8: the bytes of each session's events (sqlite-budget.ts), for its byte budget. Counted once here; from
  // then on the journal's merge adds and retention subtracts, so no open ever scans the events again.
  `ALTER TABLE sessions ADD COLUMN bytes INTEGER NOT NULL DEFAULT 0;
   UPDATE sessions SET bytes = (
     SELECT COALESCE(SUM(octet_length(payload) + octet_length(type) + octet_length(step_id) + octet_length(ts) + 31), 0)
     FROM events WHERE session = sessions.id
   );`,
]

/** The schema version this build writes. */
export const SCHEMA_VERSION = MIGRATIONS.length

/** The file's schema version (0 for a new, empty file). Reads only, so it is safe before taking the writer lock. */
export function schemaVersionOf(db: Database): number {
  return (db.query('PRAGMA user_version').get() as { user_version: number }).user_version
}

/** Refuses a database written by a newer stepstream, whose schema this build cannot know. Reads only. */
export function assertKnownVersion(db: Database): void {
  const current = schemaVersionOf(db)
  if (current > SCHEMA_VERSION) {
    throw new StoreOpenError(
      'newer-schema',
      `the database has schema version ${current}, newer than this stepstream understands (${SCHEMA_VERSION}); ` +
        'run a newer stepstream or restore a backup',
    )
  }
}

/** Brings the database to SCHEMA_VERSION in one transaction: a failed migration leaves the file as it was. */
export function migrate(db: Database): void {
  assertKnownVersion(db)
  const current = schemaVersionOf(db)
  if (current === SCHEMA_VERSION) return
  db.transaction(() => {
    for (const sql of MIGRATIONS.slice(current)) db.exec(sql)
    db.exec(`PRAGMA user_version = ${SCHEMA_VERSION}`)
  })()
}
