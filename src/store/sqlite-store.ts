import { SqliteBackend, type SqliteBackendOptions } from '../log/backends/sqlite-backend.ts'
import { EventLog, type EventLogOptions, createEventLog } from '../log/event-log.ts'
import type { KeepsSignIns } from './sign-ins.ts'
import { SqliteSignIns } from './sqlite-sign-ins.ts'

/** The SQLite store's settings: the event log's, and the backend's (its journal; a hook on the connection for tests). */
export interface SqliteStoreOptions extends EventLogOptions, SqliteBackendOptions {}

/**
 * The durable store: the event log over the SQLite backend (src/log/backends/sqlite-backend.ts), one file in WAL mode
 * that survives restarts, with the browser sign-ins in a table of the same database.
 */
export class SqliteStore extends EventLog implements KeepsSignIns {
  /** The browser sign-ins, in a table of this database (sqlite-sign-ins.ts). */
  readonly signIns: SqliteSignIns

  /**
   * Opens (creating if needed) the database at `path`, migrating it to this build's schema; `:memory:` gives a
   * private in-memory database. Throws StoreOpenError, with a one-line reason, when the file cannot be used; the file
   * is then left untouched.
   */
  constructor(path: string, options: SqliteStoreOptions = {}) {
    let signIns: SqliteSignIns | undefined
    const onOpen: SqliteBackendOptions['onOpen'] = (db) => {
      signIns = new SqliteSignIns(db)
      options.onOpen?.(db)
    }
    const backend = new SqliteBackend(path, { ...options, onOpen })
    super(createEventLog(backend, options).core, options.metrics)
    this.signIns = signIns!
  }
}
