import type { LogId } from '../log-backend.ts'

/** One log's change as a wake message tells it. */
export interface WakeLine {
  log: LogId
  /** The log's new head; undefined when its entries were deleted (its cached entries are then wrong). */
  head: number | undefined
  closed?: true
}

/**
 * The first line of the messages an instance's appends publish: `@` and the instance's id. No log line is without a
 * space, so a reader that does not know tags skips it.
 */
export const senderTag = (instance: string): string => `@${instance}`

/** Whether `message` was published by the sender of `tag` (its own appends, which the instance already applied). */
export const sentBy = (message: string, tag: string): boolean =>
  message.startsWith(tag) && (message.length === tag.length || message.charCodeAt(tag.length) === NEWLINE)

const NEWLINE = 10

/**
 * A message of the log backend's wake channel: a line `<log> <head>` per log a batch changed (redis-backend-scripts.ts
 * APPEND), `<log> <head>c` for one the batch closed, or `<log> 0` for a log whose entries were deleted (trimmed,
 * compacted, or the log itself), whose cached entries are then wrong: its head is undefined. The head is the last word, so a log id may hold spaces; its `%`
 * and newlines come percent-encoded (`%25`, `%0A`), so no id can end a line early and name another log. A line
 * without a space (an append's sender tag) names no log.
 */
export function parseWake(message: string): WakeLine[] {
  const changes: WakeLine[] = []
  for (let start = 0; start < message.length; ) {
    let end = message.indexOf('\n', start)
    if (end < 0) end = message.length
    const change = parseLine(message, start, end)
    if (change) changes.push(change)
    start = end + 1
  }
  return changes
}

/** The line of `message` from `start` to `end` (excluded), or undefined when it names no log with a valid head. */
function parseLine(message: string, start: number, end: number): WakeLine | undefined {
  const space = message.lastIndexOf(' ', end - 1)
  if (space <= start) return undefined
  const closed = message.charCodeAt(end - 1) === C
  const digitsEnd = closed ? end - 1 : end
  if (digitsEnd === space + 1) return undefined
  for (let k = space + 1; k < digitsEnd; k++) {
    const code = message.charCodeAt(k)
    if (code < ZERO || code > NINE) return undefined
  }
  const head = Number(message.slice(space + 1, digitsEnd))
  if (!Number.isSafeInteger(head)) return undefined
  const id = message.slice(start, space)
  const log = id.includes('%') ? id.replace(/%0A|%25/g, (code) => (code === '%0A' ? '\n' : '%')) : id
  const change: WakeLine = { log, head: head > 0 ? head : undefined }
  if (closed) change.closed = true
  return change
}

const [ZERO, NINE, C] = ['0'.charCodeAt(0), '9'.charCodeAt(0), 'c'.charCodeAt(0)]
