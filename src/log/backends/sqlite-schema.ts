import type { Database } from 'bun:sqlite'
import { StoreOpenError } from './sqlite-errors.ts'

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
  // Version 3: the write-ahead journal of the store of versions 3–8. Commits append here; a merge moves rows into `events`
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
  // Version 8: the bytes of each session's events, for its byte budget. Counted once here; from
  // then on the journal's merge adds and retention subtracts, so no open ever scans the events again.
  `ALTER TABLE sessions ADD COLUMN bytes INTEGER NOT NULL DEFAULT 0;
   UPDATE sessions SET bytes = (
     SELECT COALESCE(SUM(octet_length(payload) + octet_length(type) + octet_length(step_id) + octet_length(ts) + 31), 0)
     FROM events WHERE session = sessions.id
   );`,
  // Version 9: the log backend's tables (src/log/backends/sqlite-backend.ts), and everything of versions 1–8 moved
  // into them. An event's entry is its JSON without seq and session, as JSON.stringify(event) writes it: type,
  // step_id, ts, then the payload's fields in their order. A chat's state is one `logs` row, its meta the JSON of its
  // record's other fields (src/log/event-log.ts); its viewer id is also an alias; a producer is a key
  // (`[run, producer]`) and a value (its state's JSON). A run left open (a `user` or `start` without a closing event)
  // is the log's open run, the newest if several were left (schema 8 closed them all at its next start); its events
  // begin before the oldest, so that recovery closes each (src/log/event-log.ts). Journal rows a crash left behind are moved first (OR
  // IGNORE: a crash mid-merge left some in both); the new journal holds entries (src/log/backends/sqlite-journal.ts).
  // `sign_ins` (sqlite-sign-ins.ts) stays.
  `INSERT OR IGNORE INTO events (session, seq, type, step_id, ts, payload)
     SELECT session, seq, type, step_id, ts, payload FROM journal;
   CREATE TABLE logs (
     id TEXT PRIMARY KEY,
     head INTEGER NOT NULL,
     tail INTEGER NOT NULL,
     count INTEGER NOT NULL,
     bytes INTEGER NOT NULL,
     created_at INTEGER NOT NULL,
     active_at INTEGER NOT NULL,
     closed INTEGER NOT NULL,
     expires_at INTEGER,
     forked_from TEXT,
     forked_at INTEGER,
     meta TEXT NOT NULL,
     open_run TEXT,
     open_run_from INTEGER
   ) STRICT, WITHOUT ROWID;
   CREATE INDEX logs_by_activity ON logs(active_at, id);
   CREATE INDEX logs_by_expiry ON logs(expires_at) WHERE expires_at IS NOT NULL;
   CREATE INDEX logs_with_open_run ON logs(id, open_run, open_run_from) WHERE open_run IS NOT NULL;
   CREATE TABLE entries (
     log TEXT NOT NULL,
     seq INTEGER NOT NULL,
     bytes INTEGER NOT NULL,
     data TEXT NOT NULL,
     PRIMARY KEY (log, seq)
   ) STRICT, WITHOUT ROWID;
   CREATE TABLE aliases (alias TEXT PRIMARY KEY, log TEXT NOT NULL) STRICT, WITHOUT ROWID;
   CREATE INDEX aliases_by_log ON aliases(log);
   CREATE TABLE log_producers (
     log TEXT NOT NULL,
     key TEXT NOT NULL,
     value TEXT NOT NULL,
     PRIMARY KEY (log, key)
   ) STRICT, WITHOUT ROWID;
   INSERT INTO entries (log, seq, bytes, data)
     SELECT session, seq, octet_length(data), data FROM (
       SELECT session, seq,
         '{"type":' || json_quote(type) || ',"step_id":' || json_quote(step_id) || ',"ts":' || json_quote(ts) ||
         CASE WHEN payload = '{}' THEN '}' ELSE ',' || substr(payload, 2) END AS data
       FROM events WHERE session IN (SELECT id FROM sessions)
     ) ORDER BY session, seq;
   WITH kept AS (
     SELECT log, MAX(seq) AS head, MIN(seq) - 1 AS tail, COUNT(*) AS count, SUM(bytes) AS bytes FROM entries GROUP BY log
   ), runs AS (
     SELECT session, step_id, MIN(seq) AS first_seq FROM events
     WHERE type IN ('user', 'start', 'final', 'interrupt', 'error')
     GROUP BY session, step_id
     HAVING SUM(type IN ('final', 'interrupt', 'error')) = 0
   ), open_runs AS (
     SELECT session, step_id, MAX(first_seq) AS first_seq FROM runs GROUP BY session
   ), oldest_open AS (
     SELECT session, MIN(first_seq) AS first_seq FROM runs GROUP BY session
   )
   INSERT INTO logs (id, head, tail, count, bytes, created_at, active_at, closed, meta, open_run, open_run_from)
     SELECT s.id, COALESCE(k.head, 0), COALESCE(k.tail, 0), COALESCE(k.count, 0), COALESCE(k.bytes, 0),
       CAST(round(unixepoch(s.created_at, 'subsec') * 1000) AS INTEGER),
       CAST(round(unixepoch(s.last_activity, 'subsec') * 1000) AS INTEGER),
       0,
       CASE WHEN s.publisher_hash IS NULL
         THEN json_object('created_at', s.created_at, 'step', json(s.step), 'viewer_id', s.viewer_id)
         ELSE json_object('created_at', s.created_at, 'step', json(s.step), 'viewer_id', s.viewer_id,
           'publisher_hash', s.publisher_hash) END,
       o.step_id, oldest.first_seq - 1
     FROM sessions AS s LEFT JOIN kept AS k ON k.log = s.id LEFT JOIN open_runs AS o ON o.session = s.id
       LEFT JOIN oldest_open AS oldest ON oldest.session = s.id;
   INSERT INTO aliases (alias, log) SELECT viewer_id, id FROM sessions WHERE viewer_id IS NOT NULL;
   INSERT INTO log_producers (log, key, value)
     SELECT session, json_array(run, producer),
       CASE WHEN failure IS NULL
         THEN json_object('epoch', epoch, 'seq', seq, 'appended', appended, 'closed', json(iif(closed, 'true', 'false')))
         ELSE json_object('epoch', epoch, 'seq', seq, 'appended', appended, 'closed', json(iif(closed, 'true', 'false')),
           'failure', json(failure)) END
     FROM producers WHERE session IN (SELECT id FROM sessions);
   DROP TABLE journal;
   CREATE TABLE journal (
     id INTEGER PRIMARY KEY,
     log TEXT NOT NULL,
     seq INTEGER NOT NULL,
     bytes INTEGER NOT NULL,
     data TEXT NOT NULL
   ) STRICT;
   DROP TABLE producers;
   DROP TABLE events;
   DROP TABLE sessions;`,
  // Version 10: what Durable Streams needs of a log (src/log/log-backend.ts LogState): `capped` 0 for a log never
  // trimmed, `forks` the logs forked from it (counted here from their `forked_from`, so that deleting a source forked
  // before this version soft-deletes it too), `deleted_at` set by a soft delete.
  `ALTER TABLE logs ADD COLUMN capped INTEGER NOT NULL DEFAULT 1;
   ALTER TABLE logs ADD COLUMN forks INTEGER NOT NULL DEFAULT 0;
   ALTER TABLE logs ADD COLUMN deleted_at INTEGER;
   UPDATE logs SET forks = counted.n
     FROM (SELECT forked_from AS id, COUNT(*) AS n FROM logs WHERE forked_from IS NOT NULL GROUP BY forked_from) AS counted
     WHERE logs.id = counted.id;`,
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

/**
 * Brings the database to `version` (default SCHEMA_VERSION) in one transaction: a failed migration leaves the file as
 * it was.
 */
export function migrate(db: Database, version = SCHEMA_VERSION): void {
  assertKnownVersion(db)
  const current = schemaVersionOf(db)
  if (current >= version) return
  db.transaction(() => {
    for (const sql of MIGRATIONS.slice(current, version)) db.exec(sql)
    db.exec(`PRAGMA user_version = ${version}`)
  })()
}
