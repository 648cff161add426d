import { createHash } from 'node:crypto'

/** Structured logs on stderr: one JSON object a line, or a readable line when stderr is a terminal. */
export type LogLevel = 'debug' | 'info' | 'warn' | 'error' | 'silent'
export const LOG_LEVELS: readonly LogLevel[] = ['debug', 'info', 'warn', 'error', 'silent']

export type LogFields = Record<string, unknown>
export interface Logger {
  debug(msg: string, fields?: LogFields): void
  info(msg: string, fields?: LogFields): void
  warn(msg: string, fields?: LogFields): void
  error(msg: string, fields?: LogFields): void
}

export interface LoggerOptions {
  /** Where lines go; stderr by default. */
  write?: (line: string) => void
  /**
   * `time LEVEL msg key=value …` instead of JSON: for a person at a terminal (main sets it when stderr is a TTY);
   * default false, since a log collector wants one JSON object a line.
   */
  pretty?: boolean
}

/** A logger that writes the levels at or above `level`. */
export function createLogger(level: LogLevel, options: LoggerOptions = {}): Logger {
  const write = options.write ?? ((line: string) => process.stderr.write(line))
  const format = options.pretty ? prettyLine : jsonLine
  const threshold = LOG_LEVELS.indexOf(level)
  const at = (name: Exclude<LogLevel, 'silent'>) => (msg: string, fields?: LogFields) => {
    if (LOG_LEVELS.indexOf(name) < threshold) return
    write(format(new Date(), name, msg, fields && withoutOwnerId(fields)))
  }
  return { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') }
}

/**
 * A chat as logs name it: 12 hex digits of a hash of its owner id. The owner id is a write capability (whoever reads
 * the logs could post to the chat); the hash of an unguessable id cannot be turned back into it, and an operator who
 * holds an id finds its lines with `chatTag(id)`.
 */
export const chatTag = (sessionId: string): string =>
  createHash('sha256').update(`stepstream chat\0${sessionId}`).digest('hex').slice(0, 12)

/** An owner id where a logged text can hold one: a session's API path, or a page's `client_id=` (an error's URL). */
const OWNER_IN_TEXT = /(\/api\/sessions\/(?!view\/)|[?&]client_id=)([\w-]{22})(?![\w-])/g

/**
 * Every log line names a chat by its tag, never by its owner id, whichever module logged it: `session_id` becomes
 * `chat`, and an owner id inside any logged text (a path, an error quoting a URL) becomes its tag.
 */
function withoutOwnerId(fields: LogFields): LogFields {
  const out: LogFields = {}
  for (const [key, value] of Object.entries(fields)) {
    if (key === 'session_id' && typeof value === 'string') out.chat = chatTag(value)
    else if (key !== 'session_id') out[key] = typeof value === 'string' ? value.replace(OWNER_IN_TEXT, ownerTag) : value // object-key-ok: the log's own field names, copied
  }
  return out
}

const ownerTag = (_: string, prefix: string, id: string) => `${prefix}chat:${chatTag(id)}`

const jsonLine = (time: Date, level: string, msg: string, fields?: LogFields) =>
  `${JSON.stringify({ time: time.toISOString(), level, msg, ...fields })}\n`

/** Values that are plain words stay bare; anything else is JSON, so a line stays one line and can be read back. */
const prettyValue = (value: unknown) => (typeof value === 'string' && /^[\w./:@-]+$/.test(value) ? value : JSON.stringify(value))

function prettyLine(time: Date, level: string, msg: string, fields?: LogFields): string {
  const pairs = Object.entries(fields ?? {}).map(([key, value]) => `${key}=${prettyValue(value)}`)
  return `${time.toISOString().slice(11, 23)} ${level.toUpperCase().padEnd(5)} ${[msg, ...pairs].join(' ')}\n`
}

/** For tests and embedding: drops everything. */
export const silentLogger: Logger = createLogger('silent')
