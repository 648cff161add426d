import { AppError } from '../errors.ts'
import { reasonOf } from '../log/backends/sqlite-errors.ts'

/**
 * A write the store could not make (disk full, read-only, I/O error): 503 with a sentence, the SQLite error kept as
 * `cause` for the logs. What was stored before is untouched and still served.
 */
export function storeUnavailable(error: unknown): AppError {
  const appError = new AppError(
    'STORE_UNAVAILABLE',
    `The server could not save this because ${reasonOf(error)}. Everything saved before is still here; try again later.`,
  )
  appError.cause = error
  return appError
}

/** An append after `close()`: the server is shutting down. */
export const storeClosed = () =>
  new AppError('STORE_UNAVAILABLE', 'The server is shutting down and no longer saves messages. Try again in a moment.')
