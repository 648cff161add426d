import { AppError } from '../errors.ts'
import type { LogId } from './log-backend.ts'

/**
 * The sentences a log's refusals are told with. The core speaks of logs in general (a Durable Streams stream); the
 * layer above a log passes its own words (a chat's: src/log/event-log.ts), each written once there.
 */
export interface LogRefusals {
  /** The log does not exist (or expired). */
  noLog(log: LogId): AppError
  /** The log was deleted while forks of it live (a soft delete): its name stays taken until the last of them goes. */
  gone(log: LogId): AppError
  /** The log is closed and takes no more entries. */
  closed(log: LogId): AppError
  /** The log's byte budget is spent; `maxBytes` is that budget. */
  full(maxBytes: number): AppError
  /** The entry's run lost its lease to another process (shared backends). */
  fenced(): AppError
  /** What the layer above keeps about the log (its meta) is more than `maxBytes`. */
  metaTooLarge(maxBytes: number): AppError
}

/** How long a client of a full store should wait before trying again; seconds. */
export const STORE_FULL_RETRY_AFTER_S = 60

/** A mebibyte figure for sentences: 64 MiB, 0.5 MiB. */
export const mib = (bytes: number) => `${Number((bytes / 1024 / 1024).toFixed(2))} MiB`

/**
 * A store-wide limit as a STORE_FULL sentence names it, with its flag: "10000 chats and streams, --max-sessions" (a
 * Durable Streams stream is a log, counted with the chats).
 */
export const describeLimit = (limit: 'logs' | 'entries' | 'bytes', max: number): string =>
  limit === 'bytes'
    ? `${mib(max)} in all, --max-store-bytes`
    : `${max} ${limit === 'logs' ? 'chats and streams, --max-sessions' : 'events, --max-events'}`

/** The refusal when the store as a whole is full: 503 with a Retry-After, as retention frees room. */
export const storeFull = (limit: string) =>
  new AppError(
    'STORE_FULL',
    `The server's store is full (it holds at most ${limit}) and takes no new work until old chats and streams expire. Try again later.`,
    STORE_FULL_RETRY_AFTER_S,
  )

/**
 * An entry refused because a producer's state changed since its writer read it (STALE: another instance wrote first).
 * The layer above catches it (code PRODUCER_STALE) and decides again from the state as it is now; one that does not
 * answers 409, and the client's retry is decided anew.
 */
export const producerStale = () =>
  new AppError('PRODUCER_STALE', 'Another request of this producer was stored at the same moment. Send this request again.')

/**
 * An entry refused because its log is never trimmed (LogState `capped` false) and holds the most entries a log may:
 * 413, naming the limit and its flag.
 */
export const logEntriesFull = (maxEntries: number) =>
  new AppError(
    'SESSION_FULL',
    `This stream is full: it holds at most ${maxEntries} entries (--max-events-per-session), and its entries are never dropped to make room. Start another stream.`,
  )

/** How long a client should wait after the store refused it for shutting down; seconds (a restart takes a few). */
const SHUTDOWN_RETRY_AFTER_S = 5

/** An append after `close()`: the server is shutting down. The same answer on every backend. */
export const storeClosed = () =>
  new AppError(
    'STORE_UNAVAILABLE',
    'The server is shutting down and no longer saves messages. Try again in a moment.',
    SHUTDOWN_RETRY_AFTER_S,
  )

/** A failure of the medium (disk, connection), with the backend's reason: 503, the failure kept as `cause`. */
export function storeUnavailable(reason: string, cause?: unknown, retryAfterSeconds?: number): AppError {
  const error = new AppError(
    'STORE_UNAVAILABLE',
    `The server could not save this because ${reason}. Everything saved before is kept; try again later.`,
    retryAfterSeconds,
  )
  error.cause = cause
  return error
}

/** The sentences of a log that is not a chat: a Durable Streams stream. */
export const LOG_REFUSALS: LogRefusals = {
  noLog: () => new AppError('NOT_FOUND', 'There is no such stream (it was deleted, or it expired).'),
  gone: () =>
    new AppError(
      'GONE',
      'This stream was deleted. Its forks still hold what they copied of it; its name is free again once the last of them is deleted.',
    ),
  closed: () => new AppError('RUN_CLOSED', 'This stream is closed and takes no more data.'),
  full: (maxBytes) => new AppError('SESSION_FULL', `This stream is full: it holds at most ${mib(maxBytes)} (--max-session-bytes).`),
  fenced: () => new AppError('RUN_ENDED', 'This writer lost its hold on the stream, so its data is no longer stored.'),
  metaTooLarge: (maxBytes) =>
    new AppError('BAD_REQUEST', `What this stream keeps about itself is too large: at most ${maxBytes / 1024} KiB. Send less of it.`),
}
