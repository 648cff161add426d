import { createSessions, postMessage } from '../api.ts'
import { startServer, type RunningServer } from '../server-process.ts'
import { SseStream, type SseMessage } from '../sse-client.ts'
import { proseOf } from '../text.ts'
import type { Scenario } from './scenario.ts'

/** 1 ms between characters: every event is its own write and HTTP chunk, as at a model's pace, in a few seconds. */
const ECHO_DELAY_MS = 1

/** Bytes of one SSE message as framed on the wire: its fields, its blank line, and its HTTP chunk's size line. */
function frameBytes(id: string | undefined, data: string): number {
  let bytes = (id === undefined ? 0 : `id: ${id}\n`.length) + 1
  for (const line of data.split('\n')) bytes += `data: ${line}\n`.length
  return bytes + chunkFraming(bytes)
}

/** `Transfer-Encoding: chunked` adds the size in hex and two CR LF around each chunk. */
const chunkFraming = (bytes: number) => bytes.toString(16).length + 4

interface Answer {
  /** Body bytes from the run's `start` to its `final` (the user's own message excluded), as received. */
  bytes: number
  messages: SseMessage[]
}

/** Streams one echo run of `text` on the HTML stream and counts its bytes on the wire. */
async function streamAnswer(server: RunningServer, text: string): Promise<Answer> {
  const [id] = await createSessions(server, 1)
  const messages: SseMessage[] = []
  let retryBytes = 0
  let stream!: SseStream
  let opened!: () => void
  const open = new Promise<void>((resolve) => (opened = resolve))
  const done = new Promise<void>((resolve, reject) => {
    // `after=1`: the session's first event is the user's message (seq 1); the answer is everything after it.
    stream = new SseStream({
      host: server.host,
      port: server.port,
      path: `/events?client_id=${id}&after=1`,
      onOpen: () => {
        retryBytes = stream.bodyBytes
        opened()
      },
      onMessage: (message) => {
        messages.push(message)
        if (message.data.includes('data-state="final"')) resolve()
      },
      onClose: (error) => reject(new Error(`the HTML stream closed before the final fragment: ${error ?? 'no error'}`)),
    })
  })
  // A stream that fails before opening rejects `done`: race it so the failure surfaces instead of a hang.
  await Promise.race([open, done])
  await postMessage(server, id!, text)
  await done
  const bytes = stream.bodyBytes - retryBytes
  stream.close()
  return { bytes, messages }
}

/**
 * What the original design sends for the same answer: it resent the whole completion on every character, so the
 * k-th partial carries the first k characters in the same HTML wrapper. Computed from the frames stepstream sent:
 * each partial's frame with its one-character delta replaced by the whole prefix (prose: escaping changes nothing).
 */
function originalBytes(messages: SseMessage[], text: string): number {
  const chars = [...text]
  let k = 0
  let total = 0
  for (const message of messages) {
    const span = message.data.match(/<span>([^<]*)<\/span>/)
    if (!span || !message.data.includes('hx-swap="beforeend"')) {
      total += frameBytes(message.id, message.data)
      continue
    }
    k++
    total += frameBytes(message.id, message.data.replace(span[0], `<span>${chars.slice(0, k).join('')}</span>`))
  }
  return total
}

/**
 * Bytes on the wire for an answer on the HTML stream (what the browser page reads), against the original design.
 * The target "≤ 2× the text plus a fixed per-event overhead" holds when the overhead per event beyond twice the
 * text (once in the partials, once in the final fragment) does not grow with the answer: it is measured at the
 * full length and at a tenth of it, and must not be larger at the full length (one byte of slack: `id:` gains a
 * digit).
 */
export const answerBytes: Scenario = {
  key: 'answer-bytes',
  title: (s) => `answer bytes (${s.answerChars.toLocaleString('en')}-char answer, HTML stream)`,
  async run(context) {
    // The baseline serves no HTML: the comparison here is with the original design, computed.
    if (context.target.name !== 'stepstream') return undefined
    const server = await startServer(context.target, { echoDelayMs: ECHO_DELAY_MS, store: 'memory' })
    try {
      const overhead = (answer: Answer, text: string) => (answer.bytes - 2 * Buffer.byteLength(text)) / answer.messages.length
      const shortText = proseOf(Math.max(2, Math.round(context.sizes.answerChars / 10)))
      const short = await streamAnswer(server, shortText)
      const text = proseOf(context.sizes.answerChars)
      const full = await streamAnswer(server, text)
      return {
        textBytes: Buffer.byteLength(text),
        answerBytes: full.bytes,
        originalBytes: originalBytes(full.messages, text),
        events: full.messages.length,
        overheadPerEvent: overhead(full, text),
        overheadPerEventShort: overhead(short, shortText),
        originalOverheadPerEvent: (originalBytes(full.messages, text) - 2 * Buffer.byteLength(text)) / full.messages.length,
      }
    } finally {
      await server.stop()
    }
  },
}
