import { Database } from 'bun:sqlite'
import { storeFiles } from './sqlite-files.ts'
import { sqliteCode, StoreOpenError } from './sqlite-errors.ts'

/**
 * Makes this process the only writer of a SQLite store by holding an exclusive lock on `<database>.lock` for as
 * long as the returned handle stays open (close it with the store).
 *
 * Why a second file: `locking_mode=EXCLUSIVE` on the database itself would also shut out readers, and the README
 * promises that `sqlite3 stepstream.db ".backup …"` works while the server runs. Why SQLite for the lock: Bun has
 * no `flock`, and SQLite's own POSIX lock is released by the kernel when the process dies, even by SIGKILL, so a
 * crash never leaves a stale lock behind. Never delete the lock file: a process that still holds the old inode
 * would keep writing while a newcomer locks the new one.
 */
export function acquireWriterLock(databasePath: string): Database {
  const lockPath = storeFiles(databasePath).lock
  const lock = new Database(lockPath, { create: true })
  try {
    // Fail at once rather than wait: the other holder is a server that will not let go.
    lock.exec('PRAGMA busy_timeout = 0')
    // EXCLUSIVE keeps the lock taken by the first write transaction until the connection closes.
    lock.exec('PRAGMA locking_mode = EXCLUSIVE')
    // MEMORY, not OFF: with OFF, SQLite still leaves an empty `-journal` file beside the lock.
    lock.exec('PRAGMA journal_mode = MEMORY')
    lock.exec('BEGIN EXCLUSIVE')
    lock.exec('COMMIT')
    return lock
  } catch (error) {
    lock.close()
    if (sqliteCode(error).startsWith('SQLITE_BUSY')) {
      throw new StoreOpenError(
        'locked',
        `another stepstream process is already using it (only one process may write a SQLite store); stop that process or choose another path`,
      )
    }
    throw new StoreOpenError(
      'cannot-open',
      `cannot take the writer lock ${lockPath}: ${error instanceof Error ? error.message : String(error)}`,
    )
  }
}
