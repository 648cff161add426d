/**
 * The stores the crash contract (crash-recovery.ts) opens, in the test and in its child: one export per store, called
 * with JSON arguments. The lead points these at the event log over each durable backend once they are merged.
 */
import { createEventLog } from '../../src/log/event-log.ts'
import { SqliteStore } from '../../src/store/sqlite-store.ts'
import { openJournalBackend } from '../helpers/journal-backend.ts'

/** The SQLite store at `path`. */
export const openSqlite = (path: string) => new SqliteStore(path)

/** The event log over a journaled memory backend (test/helpers/journal-backend.ts): the core's own recovery. */
export const openJournaled = async (path: string) => createEventLog(await openJournalBackend(path))
