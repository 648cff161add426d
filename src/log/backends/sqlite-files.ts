import nodePath from 'node:path'

/** node:path's own type; `posix` and `win32` are both one. */
type PlatformPath = typeof nodePath.win32

/** Where a SQLite store lives on disk: the database, the folder that must hold its -wal, -shm and .lock, the lock. */
export interface StoreFiles {
  /** The database's absolute path, what the start log line names. */
  database: string
  folder: string
  lock: string
}

/**
 * The files of the store at `databasePath` (as `--store sqlite:<path>` gave it), resolved against `cwd` by `path`,
 * the platform's own path module by default. Everything goes through `resolve`/`dirname`: on Windows a path is
 * `C:\data\x.db`, `D:/data/x.db` or `\\nas\share\x.db`, and splitting on `/` would find no folder at all.
 */
export function storeFiles(databasePath: string, cwd: string = process.cwd(), path: PlatformPath = nodePath): StoreFiles {
  const database = path.resolve(cwd, databasePath)
  // A suffix on the whole name, as SQLite itself names `-wal` and `-shm`: never a new path segment.
  return { database, folder: path.dirname(database), lock: `${database}.lock` }
}
