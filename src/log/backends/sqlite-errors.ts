/** Why a store could not be opened; main prints the message on one line and exits with code 2. */
export type StoreOpenReason = 'cannot-open' | 'not-a-database' | 'read-only' | 'newer-schema' | 'locked'

/** Thrown by the SqliteStore constructor. `message` is one line that says what to do about it. */
export class StoreOpenError extends Error {
  constructor(
    readonly reason: StoreOpenReason,
    message: string,
  ) {
    super(message)
    this.name = 'StoreOpenError'
  }
}

/** SQLite's extended result code, such as `SQLITE_FULL` or `SQLITE_READONLY_DIRECTORY`, if the error has one. */
export function sqliteCode(error: unknown): string {
  const code = (error as { code?: unknown } | null)?.code
  return typeof code === 'string' ? code : ''
}

/** Why a write failed, as a phrase that completes "The server could not save this because …". */
export function reasonOf(error: unknown): string {
  const code = sqliteCode(error)
  if (code.startsWith('SQLITE_FULL')) return 'its disk is full'
  if (code.startsWith('SQLITE_READONLY')) return 'its database has become read-only'
  if (code.startsWith('SQLITE_IOERR')) return 'its disk reported an error'
  return 'its database refused the write'
}
