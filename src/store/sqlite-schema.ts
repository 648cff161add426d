import type { Database } from 'bun:sqlite'

/** Each entry moves the schema from version `index` to `index + 1`; `PRAGMA user_version` records where it is. */
const MIGRATIONS: readonly string[] = [
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
]

/** The schema version this build writes. */
export const SCHEMA_VERSION = MIGRATIONS.length

/**
 * Brings the database to SCHEMA_VERSION in one transaction; refuses a database written by a newer stepstream,
 * whose schema this build cannot know.
 */
export function migrate(db: Database): void {
  const { user_version: current } = db.query('PRAGMA user_version').get() as { user_version: number }
  if (current > SCHEMA_VERSION) {
    throw new Error(
      `the database has schema version ${current}, newer than this stepstream understands (${SCHEMA_VERSION}); run a newer stepstream`,
    )
  }
  if (current === SCHEMA_VERSION) return
  db.transaction(() => {
    for (const sql of MIGRATIONS.slice(current)) db.exec(sql)
    db.exec(`PRAGMA user_version = ${SCHEMA_VERSION}`)
  })()
}
