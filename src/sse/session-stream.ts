import { AppError, sentenceFor } from '../errors.ts'
import type { StoredEvent } from '../events.ts'
import type { EventStore } from '../log/event-store.ts'
import { encodeComment, encodeFrame } from './encode.ts'
import type { SharedChunks } from './shared-chunks.ts'

export interface SessionStreamOptions {
  store: EventStore
  sessionId: string
  /** The cursor: stream events with `seq` above this. */
  after: number
  /** Aborted when the client leaves (the request's signal). */
  signal: AbortSignal
  /** Turns one stored event into its encoded frame (JSON, HTML or AG-UI); each event once, in order. */
  encode: (event: StoredEvent) => string
  /**
   * The chunks this stream's readers of the same session share, for an `encode` that is the same for all of them (not
   * AG-UI's, which holds each connection's state); default none: every chunk read and encoded for this stream alone.
   */
  shared?: SharedChunks<Chunk>
  /**
   * The frames the stream itself sends: `reset` (the cursor moved to `after`) and `stream-error` (a sentence); by
   * default stepstream's own, named frames. The AG-UI stream sends them as AG-UI CUSTOM events.
   */
  notices?: StreamNotices
  /** A comment is sent after this long without an event; milliseconds. */
  heartbeatMs: number
  /** The reconnection delay announced on connect; milliseconds. */
  retryMs: number
  /**
   * Aborted when the server shuts down: the stream then ends with a `retry:` spread over 1–3× `retryMs`, so the
   * clients of a restarting instance don't all come back in the same instant.
   */
  shutdown?: AbortSignal
  /**
   * Runs before the first read (after `retry:` is sent): what the encoder must know first (AG-UI's priming). Run again
   * if the store was out of reach, so it must start over each time.
   */
  prepare?: () => Promise<void>
  /** Told of each chunk read from the log: how many events it carries, and how many the cursor was behind. */
  delivered?: (events: number, lag: number) => void
  /** Called once, whatever ends the stream. */
  onClose?: () => void
}

export interface StreamNotices {
  reset(after: number): string
  /** `code`: the error's stable code when it has one; SESSION_NOT_FOUND says the chat is gone, so don't reconnect. */
  streamError(message: string, code?: string): string
}

/** Events read per store round-trip at most; a lagging client catches up in pages of up to this many. */
const PAGE = 256

/**
 * A chunk takes no further event once it would pass this many characters (64 Ki; UTF-16 code units, so at most
 * 192 KiB of UTF-8, 64 KiB for ASCII); the rest is read on the next pull. A single event larger than this goes
 * alone. Bounded in events only, 256 events of 20,000 characters made one 5 MB chunk per client: in
 * bench/stalled-readers.ts (50 clients that stop reading, 300 such events) the server's heap grew by 42.6 MiB (and
 * as much again outside the JS heap; RSS +347 MiB) without this bound, by 3.2 MiB (RSS +12 MiB) with it.
 */
export const MAX_CHUNK_CHARS = 64 * 1024

/** While the store cannot be reached, a stream tries again this often; milliseconds. */
const UNREACHABLE_RETRY_MS = 250

const isUnreachable = (error: unknown) => error instanceof AppError && error.code === 'STORE_UNAVAILABLE'

/** Resolves after `ms`, or sooner when a signal aborts. */
function pause(ms: number, signal: AbortSignal | AbortSignal[]): Promise<void> {
  const signals = Array.isArray(signal) ? signal : [signal]
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer)
      for (const s of signals) s.removeEventListener('abort', done)
      resolve()
    }
    const timer = setTimeout(done, ms)
    for (const s of signals) s.addEventListener('abort', done, { once: true })
  })
}

/** The frame name of the stream's own failure: never `error`, which is a run's event type on the JSON stream. */
export const STREAM_ERROR = 'stream-error'

/**
 * The body of one SSE connection: a cursor on the session's log. It runs only when its consumer pulls (the body in
 * src/http/streams.ts is a pull-based ReadableStream), and holds at most one chunk, bounded in events and in size,
 * so a slow or stalled client lags instead of growing memory; it never drops: whatever it has not written, it has
 * not read.
 */
export async function* sessionStream(options: SessionStreamOptions): AsyncGenerator<string> {
  const { store, sessionId, signal, shutdown } = options
  const stop = shutdown ? [signal, shutdown] : signal
  const stopped = () => signal.aborted || shutdown?.aborted === true
  let cursor = options.after
  let limit = PAGE
  let carried: Carried | undefined
  let headChecked = false
  options.shared?.join(sessionId)
  try {
    // Elysia sends the response head only with the first chunk: say `retry:` at once so the client sees it is open.
    yield encodeFrame({ retry: options.retryMs })
    // Inside the loop, so that a store out of reach while preparing is waited out like one out of reach later.
    let prepared = options.prepare === undefined
    let quietSince = Date.now()
    while (!stopped()) {
      try {
        if (!prepared) {
          await options.prepare!()
          prepared = true
          continue
        }
        const chunk = await nextChunk(options, cursor, limit, carried)
        if (chunk) {
          if (chunk.events > 0) options.delivered?.(chunk.events, chunk.lag)
          cursor = chunk.cursor
          limit = chunk.nextLimit
          carried = chunk.carried
          yield chunk.text
          continue
        }
        // Nothing after the cursor. If the log's head is below it (an older backup restored, another store behind
        // the same URL), no event would ever come: move the cursor to the head and say so. Once only: after that the
        // cursor moves only to events read, which the head never falls behind (a look-up on every wake-up of every
        // viewer cost the fan-out benchmark 15% of its throughput).
        if (!headChecked) {
          headChecked = true
          const head = (await store.getSession(sessionId))?.last_seq ?? cursor
          if (cursor > head) {
            cursor = head
            yield (options.notices ?? NOTICES).reset(cursor)
            continue
          }
        }
        const quiet = await store.waitFor(sessionId, cursor, stop, options.heartbeatMs)
        if (quiet && !stopped()) yield encodeComment('ping')
        quietSince = Date.now()
      } catch (error) {
        // The store cannot be reached for now (Redis lost): keep the connection and the cursor, and try again, with
        // the usual keep-alive meanwhile; once it is back the stream goes on from its cursor, with no gap and no
        // duplicate. Any other failure ends the stream below.
        if (!isUnreachable(error)) throw error
        await pause(UNREACHABLE_RETRY_MS, stop)
        if (Date.now() - quietSince >= options.heartbeatMs && !stopped()) {
          quietSince = Date.now()
          yield encodeComment('ping')
        }
      }
    }
    if (shutdown?.aborted) yield encodeFrame({ retry: Math.round(options.retryMs * (1 + 2 * Math.random())) })
  } catch (error) {
    // Once the stream has started there is no status code left to send: say it in a frame and close cleanly.
    if (!stopped()) yield (options.notices ?? NOTICES).streamError(messageOf(error), error instanceof AppError ? error.code : undefined)
  } finally {
    options.shared?.leave(sessionId)
    options.onClose?.()
  }
}

/**
 * stepstream's own notices. `reset`: the log does not hold what the cursor points to (retention dropped it, or the
 * cursor is past the head); the frame carries an id so that a reconnect resumes from the new position rather than
 * meeting the gap again. `stream-error`: the stream failed on the server, with a sentence and, when the failure has
 * one, its code: SESSION_NOT_FOUND (the chat was deleted or expired) tells a client that reconnecting would only get
 * a 404.
 */
const NOTICES: StreamNotices = {
  reset: (after) => encodeFrame({ id: String(after), event: 'reset', data: JSON.stringify({ after }) }),
  streamError: (message, code) => encodeFrame({ event: STREAM_ERROR, data: JSON.stringify({ error: message, code }) }),
}

/** An event encoded for a chunk it did not fit in: sent first in the next, as it was encoded (never encoded twice). */
interface Carried {
  seq: number
  frame: string
}

/** What one pull sends: a page of events encoded, bounded in size. */
export interface Chunk {
  text: string
  /**
   * How many events `text` carries and how many the cursor was behind when they were read, for the metrics (0 and 0
   * for a carried frame sent alone, which is not counted).
   */
  events: number
  lag: number
  /** The `seq` of the last event in `text`. */
  cursor: number
  /** How many events the next read asks for: about as many as fit in a chunk, so big events are not read twice. */
  nextLimit: number
  carried?: Carried
}

/**
 * Starts with the frame `carried` over from the last chunk, if any; then reads up to `limit` events after the cursor
 * and encodes as many as fit in MAX_CHUNK_CHARS, carrying the first that does not fit over to the next chunk. A
 * function of its own so that the page it read is garbage once the chunk is built: a generator suspended at `yield`
 * keeps its locals.
 */
function nextChunk(options: SessionStreamOptions, cursor: number, limit: number, carried?: Carried): Promise<Chunk | undefined> {
  // A carried frame is this stream's own; a chunk without one is the same for every reader at this cursor.
  if (carried || !options.shared) return readChunk(options, cursor, limit, carried)
  return options.shared.chunk(options.sessionId, cursor, limit, () => readChunk(options, cursor, limit))
}

async function readChunk(options: SessionStreamOptions, cursor: number, limit: number, carried?: Carried): Promise<Chunk | undefined> {
  let text = carried?.frame ?? ''
  if (carried) cursor = carried.seq
  const events = text.length >= MAX_CHUNK_CHARS ? [] : await options.store.read(options.sessionId, cursor, limit)
  if (events.length === 0) return carried && { text, cursor, nextLimit: limit, events: 0, lag: 0 }
  // A hole right after the cursor: retention dropped what it points into. Tell the client instead of a silent gap.
  if (events[0]!.seq > cursor + 1) text += (options.notices ?? NOTICES).reset(events[0]!.seq - 1)
  let taken = 0
  let next: Carried | undefined
  const lag = events.at(-1)!.seq - cursor
  for (const event of events) {
    const frame = options.encode(event)
    if ((carried || taken > 0) && text.length + frame.length > MAX_CHUNK_CHARS) {
      next = { seq: event.seq, frame }
      break
    }
    text += frame
    cursor = event.seq
    taken++
  }
  const nextLimit = taken < events.length ? Math.max(1, taken) : Math.min(PAGE, limit * 2)
  return { text, cursor, nextLimit, carried: next, events: taken + (carried ? 1 : 0), lag }
}

const messageOf = (error: unknown) => sentenceFor(error, 'The stream failed on the server; reconnect to resume.')
