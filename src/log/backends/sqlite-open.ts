import { Database } from 'bun:sqlite'
import { accessSync, constants, existsSync } from 'node:fs'
import { storeFiles } from './sqlite-files.ts'
import { acquireWriterLock } from './sqlite-lock.ts'
import { assertKnownVersion, migrate, schemaVersionOf } from './sqlite-schema.ts'
import { sqliteCode, StoreOpenError } from './sqlite-errors.ts'

/** WAL pages after which SQLite checkpoints inside the commit that crossed them (about 8 MB). */
export const WAL_AUTOCHECKPOINT_PAGES = 2000

/** What to do once the database is locked and migrated. */
export interface OpenOptions {
  /** Runs after the migration, under the writer lock: the backend replays what a crash left in its journal. */
  afterMigrate?: (db: Database) => void
}

/** An open store database and, for a file, the writer lock that must stay open beside it. */
export interface OpenedDatabase {
  db: Database
  lock?: Database
}

/**
 * Opens (creating if needed) the database at `path`, takes the writer lock and brings the schema up to date.
 * Everything that can refuse the file (missing folder, read-only, not a database, newer schema, another writer) is
 * checked before anything is written to the database, so a refused file is left exactly as it was. Throws
 * StoreOpenError. `:memory:` gives a private in-memory database.
 */
export function openSqlite(path: string, options: OpenOptions = {}): OpenedDatabase {
  if (path === ':memory:') {
    const db = new Database(path, { strict: true })
    migrate(db)
    return { db }
  }
  assertWritablePath(path)
  const db = openForReading(path)
  let lock: Database | undefined
  try {
    lock = acquireWriterLock(path)
    configure(db)
    migrate(db)
    options.afterMigrate?.(db)
    return { db, lock }
  } catch (error) {
    lock?.close()
    db.close()
    throw asOpenError(error)
  }
}

function writable(path: string): boolean {
  try {
    accessSync(path, constants.R_OK | constants.W_OK)
    return true
  } catch {
    return false
  }
}

/** The file and its folder must be writable: SQLite keeps `-wal`, `-shm` and our `.lock` beside the database. */
function assertWritablePath(path: string): void {
  const { folder } = storeFiles(path)
  if (!existsSync(folder)) {
    throw new StoreOpenError('cannot-open', `the folder ${folder} does not exist; create it or choose another path`)
  }
  if (existsSync(path) && !writable(path)) {
    throw new StoreOpenError('read-only', 'the file is read-only; stepstream needs to write it (check its owner and permissions)')
  }
  if (!writable(folder)) {
    throw new StoreOpenError(
      'read-only',
      `the folder ${folder} is read-only; stepstream writes the database's -wal, -shm and .lock files beside it`,
    )
  }
}

/** Opens and reads the header and schema: a file that is not ours is refused before anything is written to it. */
function openForReading(path: string): Database {
  let db: Database
  try {
    db = new Database(path, { create: true, readwrite: true, strict: true })
  } catch (error) {
    throw asOpenError(error)
  }
  try {
    const { tables } = db.query("SELECT count(*) AS tables FROM sqlite_schema WHERE type = 'table'").get() as { tables: number }
    if (tables > 0 && schemaVersionOf(db) === 0) {
      throw new StoreOpenError(
        'not-a-database',
        'it is a SQLite database of another program (it has tables but no stepstream schema); choose another path',
      )
    }
    assertKnownVersion(db)
    return db
  } catch (error) {
    db.close()
    throw asOpenError(error)
  }
}

function configure(db: Database): void {
  db.exec('PRAGMA journal_mode = WAL')
  // NORMAL in WAL mode: a commit survives a process crash; a power cut may lose the last commits, never corrupt.
  db.exec('PRAGMA synchronous = NORMAL')
  // Only outside tools (a backup, the sqlite3 shell) can hold a lock we wait on; a commit blocks the event loop
  // while it waits, so wait briefly and let the write fail with a 503 instead.
  db.exec('PRAGMA busy_timeout = 1000')
  // Each journal merge touches the newest page of every log it moves: with a thousand live logs the default 2 MB
  // cache cannot hold them and every merge would read them back. 64 MB (negative = KiB).
  db.exec('PRAGMA cache_size = -65536')
  // Checkpoint every 2,000 pages (about 8 MB of WAL) rather than 1,000: a page of `entries` is rewritten by several
  // journal merges, and a checkpoint copies it once however often it changed. The backend's checkpoint worker
  // (sqlite-checkpointer.ts) raises this to a backstop while it runs, and sets it back should it fail.
  db.exec(`PRAGMA wal_autocheckpoint = ${WAL_AUTOCHECKPOINT_PAGES}`)
  // A deleted chat must leave the disk (issue 23): SQLite zeroes what it deletes, in the database and in the WAL's
  // new page images, instead of leaving it on free pages and in the slack of pages…
  db.exec('PRAGMA secure_delete = ON')
  // …and the WAL is cut to nothing when it restarts after a checkpoint, so the page images written before the delete
  // do not sit in the file's tail until they happen to be overwritten. (Default: -1, the file is never shortened.)
  db.exec('PRAGMA journal_size_limit = 0')
}

/** Turns SQLite's open-time errors into one-line sentences; StoreOpenErrors pass through. */
function asOpenError(error: unknown): StoreOpenError {
  if (error instanceof StoreOpenError) return error
  const code = sqliteCode(error)
  const detail = error instanceof Error ? error.message : String(error)
  if (code === 'SQLITE_NOTADB') {
    return new StoreOpenError('not-a-database', 'it is not a SQLite database (the file was left untouched); choose another path')
  }
  if (code.startsWith('SQLITE_CORRUPT')) {
    return new StoreOpenError('not-a-database', 'the database file is corrupt (it was left untouched); restore it from a backup')
  }
  if (code.startsWith('SQLITE_READONLY')) {
    return new StoreOpenError('read-only', `it cannot be written (${detail}); check the permissions of the file and its folder`)
  }
  return new StoreOpenError('cannot-open', detail)
}
