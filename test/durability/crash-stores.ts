/**
 * The stores the crash contract (crash-recovery.ts) opens, in the test and in its child: one export per store, called
 * with JSON arguments. The lead points these at the event log over each durable backend once they are merged.
 */
import { SqliteStore } from '../../src/store/sqlite-store.ts'

/** The SQLite store at `path`. */
export const openSqlite = (path: string) => new SqliteStore(path)
