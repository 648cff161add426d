import type { StoredEvent } from '../events.ts'
import type { EventStore } from '../store/event-store.ts'
import { encodeComment, encodeFrame } from './encode.ts'

export interface SessionStreamOptions {
  store: EventStore
  sessionId: string
  /** The cursor: stream events with `seq` above this. */
  after: number
  /** Aborted when the client leaves (the request's signal). */
  signal: AbortSignal
  /** Turns one stored event into its encoded frame (JSON or HTML). */
  encode: (event: StoredEvent) => string
  /** A comment is sent after this long without an event; milliseconds. */
  heartbeatMs: number
  /** The reconnection delay announced on connect; milliseconds. */
  retryMs: number
  /**
   * Aborted when the server shuts down: the stream then ends with a `retry:` spread over 1–3× `retryMs`, so the
   * clients of a restarting instance don't all come back in the same instant.
   */
  shutdown?: AbortSignal
  /** Called once, whatever ends the stream. */
  onClose?: () => void
}

/** Events read per store round-trip; a lagging client catches up in pages of this size, written as one chunk. */
const PAGE = 256

/** The frame name of the stream's own failure: never `error`, which is a run's event type on the JSON stream. */
export const STREAM_ERROR = 'stream-error'

/**
 * The body of one SSE connection: a cursor on the session's log. It never buffers more than one page, so a slow
 * client lags instead of growing memory, and it never drops: whatever it has not written, it has not read.
 */
export async function* sessionStream(options: SessionStreamOptions): AsyncGenerator<string> {
  const { store, sessionId, signal, shutdown } = options
  const stop = shutdown ? [signal, shutdown] : signal
  const stopped = () => signal.aborted || shutdown?.aborted === true
  let cursor = options.after
  try {
    // Elysia sends the response head only with the first chunk: say `retry:` at once so the client sees it is open.
    yield encodeFrame({ retry: options.retryMs })
    while (!stopped()) {
      const events = await store.read(sessionId, cursor, PAGE)
      if (events.length > 0) {
        let chunk = ''
        if (events[0]!.seq > cursor + 1) {
          // Retention dropped what this cursor points into: tell the client instead of leaving a silent gap. The
          // frame carries an id so that a reconnect resumes after the gap rather than meeting it again.
          cursor = events[0]!.seq - 1
          chunk += encodeFrame({ id: String(cursor), event: 'reset', data: JSON.stringify({ after: cursor }) })
        }
        for (const event of events) chunk += options.encode(event)
        cursor = events.at(-1)!.seq
        yield chunk
        continue
      }
      // Nothing after the cursor. If the log's head is below it (an older backup restored, another store behind
      // the same URL), no event would ever come: move the cursor to the head and say so.
      const head = (await store.getSession(sessionId))?.last_seq ?? cursor
      if (cursor > head) {
        cursor = head
        yield encodeFrame({ id: String(cursor), event: 'reset', data: JSON.stringify({ after: cursor }) })
        continue
      }
      const quiet = await store.waitFor(sessionId, cursor, stop, options.heartbeatMs)
      if (quiet && !stopped()) yield encodeComment('ping')
    }
    if (shutdown?.aborted) yield encodeFrame({ retry: Math.round(options.retryMs * (1 + 2 * Math.random())) })
  } catch (error) {
    // Once the stream has started there is no status code left to send: say it in a frame and close cleanly.
    if (!stopped()) yield encodeFrame({ event: STREAM_ERROR, data: JSON.stringify({ error: messageOf(error) }) })
  } finally {
    options.onClose?.()
  }
}

function messageOf(error: unknown): string {
  return error instanceof Error && 'status' in error ? error.message : 'The stream failed on the server; reconnect to resume.'
}
