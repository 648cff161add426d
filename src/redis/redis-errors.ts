import { AppError, sessionNotFound } from '../errors.ts'

/** How long a client should wait before trying again while Redis cannot be reached; seconds. */
export const REDIS_RETRY_AFTER_S = 5

/** Redis could not be reached or refused the write: 503 with a sentence, Redis's own reason kept as `cause`. */
export function redisUnavailable(cause?: unknown): AppError {
  const error = new AppError(
    'STORE_UNAVAILABLE',
    'The server cannot reach its Redis store right now. Everything saved before is kept; try again in a moment.',
    REDIS_RETRY_AFTER_S,
  )
  error.cause = cause
  return error
}

/** A run's event refused because the run lost its lease (another instance has closed it, or will). */
export const fenced = () =>
  new AppError('RUN_ENDED', 'This run lost its hold on the chat (its server stopped renewing it), so its events are no longer stored.')

/** Turns what a command threw into the AppError a client meets; our scripts' own codes first. */
export function fromRedis(error: unknown): AppError {
  if (error instanceof AppError) return error
  const message = error instanceof Error ? error.message : String(error)
  // Redis prefixes a script's bare error code with `ERR `.
  if (/\bNO_SESSION\b/.test(message)) return sessionNotFound()
  if (/\bFENCED\b/.test(message)) return fenced()
  return redisUnavailable(error)
}

/** Runs `command`, turning its failure into an AppError (redisUnavailable unless a script said otherwise). */
export async function guarded<T>(command: () => Promise<T>): Promise<T> {
  try {
    return await command()
  } catch (error) {
    throw fromRedis(error)
  }
}
