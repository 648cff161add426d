import { AppError } from '../errors.ts'
import { REDIS_RETRY_AFTER_S } from '../log/backends/redis-backend.ts'

/** Redis could not be reached or refused the command: 503 with a sentence, Redis's own reason kept as `cause`. */
export function redisUnavailable(cause?: unknown): AppError {
  const error = new AppError(
    'STORE_UNAVAILABLE',
    'The server cannot reach its Redis store right now. Everything saved before is kept; try again in a moment.',
    REDIS_RETRY_AFTER_S,
  )
  error.cause = cause
  return error
}

/**
 * Runs a command of the run coordinator or the sign-ins, turning its failure into redisUnavailable (the log
 * backend's failures are StoreFailures, which the core words).
 */
export async function guarded<T>(command: () => Promise<T>): Promise<T> {
  try {
    return await command()
  } catch (error) {
    throw error instanceof AppError ? error : redisUnavailable(error)
  }
}
