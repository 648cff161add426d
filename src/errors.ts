import { MAX_BRANCHES_PER_CHAT } from './limits.ts'

/** What went wrong, as a value: a stable `code` for programs, an HTTP `status`, and a sentence for people. */
export type ErrorCode =
  | 'BAD_REQUEST'
  | 'BAD_SESSION_ID'
  | 'BAD_TITLE'
  | 'SESSION_NOT_FOUND'
  | 'READ_ONLY'
  | 'RUN_ACTIVE'
  | 'NO_QUESTION'
  | 'TOO_MANY_BRANCHES'
  | 'NO_ACTIVE_RUN'
  | 'BODY_TOO_LARGE'
  | 'MESSAGE_TOO_LARGE'
  | 'RATE_LIMITED'
  | 'TOO_MANY_CONNECTIONS'
  | 'TOO_MANY_CONNECTIONS_FROM_IP'
  | 'UNAUTHORIZED'
  | 'FOREIGN_ORIGIN'
  | 'NOT_FOUND'
  | 'GONE'
  | 'METHOD_NOT_ALLOWED'
  | 'INVALID_EVENT'
  | 'BODY_TOO_DEEP'
  | 'EVENT_TOO_LARGE'
  | 'ANSWER_TOO_LONG'
  | 'UNKNOWN_STEP'
  | 'STEP_UNAVAILABLE'
  | 'BAD_STEP_OPTIONS'
  | 'RUN_ENDED'
  | 'RUN_CANCELLED'
  | 'RUN_CLOSED'
  | 'PUBLISH_TIMEOUT'
  | 'PUBLISHED_SESSION'
  | 'RUN_ELSEWHERE'
  | 'PRODUCER_SEQ_GAP'
  | 'PRODUCER_FENCED'
  | 'STREAM_CONFLICT'
  | 'STREAM_GONE'
  | 'TOO_MANY_PRODUCERS'
  | 'PRODUCER_REQUEST_UNFINISHED'
  | 'PRODUCER_STALE'
  | 'SHUTTING_DOWN'
  | 'SESSION_FULL'
  | 'STORE_FULL'
  | 'STORE_UNAVAILABLE'
  | 'INTERNAL'

const STATUS: Record<ErrorCode, number> = {
  BAD_REQUEST: 400,
  BAD_SESSION_ID: 400,
  BAD_TITLE: 422,
  SESSION_NOT_FOUND: 404,
  READ_ONLY: 403,
  RUN_ACTIVE: 409,
  NO_QUESTION: 409,
  TOO_MANY_BRANCHES: 409,
  NO_ACTIVE_RUN: 409,
  BODY_TOO_LARGE: 413,
  MESSAGE_TOO_LARGE: 413,
  RATE_LIMITED: 429,
  TOO_MANY_CONNECTIONS: 429,
  TOO_MANY_CONNECTIONS_FROM_IP: 429,
  UNAUTHORIZED: 401,
  FOREIGN_ORIGIN: 403,
  NOT_FOUND: 404,
  GONE: 410,
  METHOD_NOT_ALLOWED: 405,
  INVALID_EVENT: 422,
  BODY_TOO_DEEP: 422,
  EVENT_TOO_LARGE: 413,
  ANSWER_TOO_LONG: 413,
  UNKNOWN_STEP: 422,
  STEP_UNAVAILABLE: 422,
  BAD_STEP_OPTIONS: 422,
  RUN_ENDED: 409,
  RUN_CANCELLED: 409,
  RUN_CLOSED: 409,
  PUBLISH_TIMEOUT: 504,
  PUBLISHED_SESSION: 409,
  RUN_ELSEWHERE: 421,
  PRODUCER_SEQ_GAP: 409,
  PRODUCER_FENCED: 403,
  STREAM_CONFLICT: 409,
  STREAM_GONE: 410,
  TOO_MANY_PRODUCERS: 409,
  PRODUCER_REQUEST_UNFINISHED: 409,
  PRODUCER_STALE: 409,
  SHUTTING_DOWN: 503,
  SESSION_FULL: 413,
  STORE_FULL: 503,
  STORE_UNAVAILABLE: 503,
  INTERNAL: 500,
}

export class AppError extends Error {
  readonly status: number
  /**
   * @param retryAfterSeconds sent as `Retry-After`: when a client may try again (a server shutting down, a full
   * store), in seconds.
   * @param fields more members of the JSON error body, beside `error` (`{"cancelled": true}` for a publisher).
   */
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly retryAfterSeconds?: number,
    readonly fields?: Record<string, unknown>,
  ) {
    super(message)
    this.name = 'AppError'
    this.status = STATUS[code]
  }
}

/**
 * The sentence a user may see for `error`: ours (an AppError) say what happened; anything else — a bug, a library's
 * error that may carry a key or a path — stays in the log and the user gets `fallback`.
 */
export function sentenceFor(error: unknown, fallback: string): string {
  return error instanceof AppError ? error.message : fallback
}

export const badSessionId = () =>
  new AppError('BAD_SESSION_ID', 'That session id is malformed: a session id is 22 characters of letters, digits, "-" and "_".')
export const sessionNotFound = () =>
  new AppError('SESSION_NOT_FOUND', 'No chat has that id: it was deleted, or it expired. Start a new chat.')
/** A viewer id where an owner id is needed: it reads through the viewer routes and nothing else. */
export const readOnly = () =>
  new AppError(
    'READ_ONLY',
    'That is a read-only link: it can watch this chat (/?view=… or /api/sessions/view/…) but not send messages, cancel or publish.',
  )
export const viewerNotFound = () =>
  new AppError('SESSION_NOT_FOUND', 'No chat has that read-only link. It may have expired, or the link was not copied whole.')
export const runActive = () =>
  new AppError('RUN_ACTIVE', 'A step is still running in this session. Wait for it to finish or cancel it first.')
export const tooManyBranches = () =>
  new AppError(
    'TOO_MANY_BRANCHES',
    `This chat has ${MAX_BRANCHES_PER_CHAT} branches (edited messages and regenerated answers), its limit: delete some of them, then try again.`,
  )
export const noActiveRun = () => new AppError('NO_ACTIVE_RUN', 'Nothing is running in this session, so there is nothing to cancel.')
export const shuttingDown = () =>
  new AppError('SHUTTING_DOWN', 'The server is restarting and takes no new work right now. Try again in a few seconds.', 5)
/** A body over the limit; `length` when its Content-Length said so up front. */
export const bodyTooLarge = (maxBytes: number, length?: number) =>
  new AppError(
    'BODY_TOO_LARGE',
    `The request body is ${length === undefined ? 'over the limit' : `${length} bytes`}; the limit is ${maxBytes} bytes. Send a smaller body.`,
  )
/** A path that exists, asked with a method it does not answer; `allow` lists the ones it does. */
export const methodNotAllowed = (method: string, path: string, allow: readonly string[]) =>
  new AppError('METHOD_NOT_ALLOWED', `${path} does not answer ${method}: use ${allow.join(' or ')}.`)

/**
 * The token bucket of the client's address is empty; `retryAfterSeconds` is when it holds a token again, `what` the
 * work it counts.
 */
export const rateLimited = (retryAfterSeconds: number, what = 'new chats and messages') =>
  new AppError(
    'RATE_LIMITED',
    `Too many ${what} from your address. Try again in ${retryAfterSeconds} second${retryAfterSeconds === 1 ? '' : 's'}.`,
    retryAfterSeconds,
  )
/** Seconds a client refused for a connection cap is asked to wait: streams close as tabs do, so room frees quickly. */
export const CONNECTION_RETRY_AFTER_S = 5
export const tooManyConnections = (max: number) =>
  new AppError(
    'TOO_MANY_CONNECTIONS',
    `The server has ${max} live streams open, its limit. Try again in a few seconds.`,
    CONNECTION_RETRY_AFTER_S,
  )
export const tooManyConnectionsFromIp = (max: number) =>
  new AppError(
    'TOO_MANY_CONNECTIONS_FROM_IP',
    `Your address already has ${max} live streams open, the limit per address. Close some tabs, then try again.`,
    CONNECTION_RETRY_AFTER_S,
  )
export const messageTooLarge = (bytes: number, maxBytes: number) =>
  new AppError('MESSAGE_TOO_LARGE', `The message is ${bytes} bytes; the limit is ${maxBytes} bytes. Send a shorter message.`)
