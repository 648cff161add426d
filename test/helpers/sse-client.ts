import { createParser, type EventSourceMessage } from 'eventsource-parser'
import { type EventType, isClosing } from '../../src/events.ts'
import { STREAM_ERROR } from '../../src/sse/session-stream.ts'
import { WAIT_MS, within } from './wait.ts'

/**
 * A test SSE reader over fetch: collects every message, lets a test wait for one, and closes on demand. Comments
 * (heartbeats) and `retry:` are recorded too, so tests can assert on them.
 */
export class SseReader {
  readonly messages: EventSourceMessage[] = []
  /** When each message arrived (performance.now()), index for index with `messages`. */
  readonly arrivals: number[] = []
  readonly comments: string[] = []
  retry: number | undefined
  response!: Response
  #controller = new AbortController()
  #wake: (() => void) | undefined
  #done = false
  #markEnded!: () => void
  readonly #ended = new Promise<void>((resolve) => (this.#markEnded = resolve))

  static async open(url: string, headers: Record<string, string> = {}): Promise<SseReader> {
    const reader = new SseReader()
    reader.response = await fetch(url, { headers: { accept: 'text/event-stream', ...headers }, signal: reader.#controller.signal })
    if (reader.response.ok) void reader.#pump()
    return reader
  }

  async #pump() {
    const parser = createParser({
      onEvent: (m) => {
        this.messages.push(m)
        this.arrivals.push(performance.now())
        this.#wake?.()
      },
      onComment: (c) => {
        this.comments.push(c)
        this.#wake?.()
      },
      onRetry: (r) => (this.retry = r),
    })
    const decoder = new TextDecoder()
    try {
      const body = this.response.body!.getReader()
      for (let chunk = await body.read(); !chunk.done; chunk = await body.read()) parser.feed(decoder.decode(chunk.value, { stream: true }))
    } catch {
      // aborted by close(), or the server went away: either way the stream is over
    }
    this.#done = true
    this.#markEnded()
    this.#wake?.()
  }

  /** Waits until `predicate` holds for the messages so far; fails after `timeoutMs` (milliseconds, default 10,000). */
  async until(predicate: (messages: EventSourceMessage[]) => boolean, timeoutMs = WAIT_MS): Promise<EventSourceMessage[]> {
    const deadline = Date.now() + timeoutMs
    while (!predicate(this.messages)) {
      if (this.#done) throw new Error(`stream ended before the condition held; got ${this.messages.length} messages: ${this.#seen()}`)
      const left = deadline - Date.now()
      if (left <= 0) throw new Error(`timed out after ${timeoutMs} ms with ${this.messages.length} messages: ${this.#seen()}`)
      await new Promise<void>((resolve) => {
        this.#wake = resolve
        setTimeout(resolve, Math.min(left, 200))
      })
    }
    return this.messages
  }

  /** The last few messages' types, for a failure's sentence. */
  #seen(): string {
    return this.messages
      .slice(-8)
      .map((m) => m.event ?? 'message')
      .join(', ')
  }

  /** Resolves when the server closed the stream; fails after `timeoutMs` (milliseconds, default 10,000). */
  ended(timeoutMs = WAIT_MS): Promise<void> {
    return within(this.#ended, { timeoutMs, what: 'the stream to end' })
  }

  get lastId(): string | undefined {
    return this.messages.findLast((m) => m.id !== undefined)?.id
  }

  close() {
    this.#controller.abort()
  }
}

/**
 * True once `n` messages of the run-ending types are among `messages` (JSON stream). The stream's own failure frame
 * is no run's end: met here, it fails the wait with its sentence instead of passing it or timing out.
 */
export const hasEnd = (messages: EventSourceMessage[], n = 1) => {
  const failure = messages.find((m) => m.event === STREAM_ERROR)
  if (failure) throw new Error(`the stream failed: ${failure.data}`)
  return messages.filter((m) => isClosing({ type: m.event as EventType })).length >= n
}
