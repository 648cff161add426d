/**
 * The Server-Sent Events wire format, as pure functions
 * (https://html.spec.whatwg.org/multipage/server-sent-events.html#event-stream-interpretation).
 */

/** One SSE message. `data` may hold any text: it is split into one `data:` line per line of it. */
export interface SseFrame {
  id?: string
  event?: string
  data?: string
  /** Reconnection delay the client should use, in milliseconds. */
  retry?: number
}

/** The spec's three line endings; splitting on all of them is what keeps a model's output from forging a field. */
const LINE_BREAK = /\r\n|\r|\n/

/**
 * Refuses values that would end the field early: a CR or LF in `id` or `event` would let the rest of the value be
 * read as a new field (an `id:` or a whole forged event), and a NUL makes clients ignore an `id`.
 */
function checkField(name: 'id' | 'event', value: string): string {
  if (/[\r\n\0]/.test(value)) throw new TypeError(`SSE ${name} must not contain CR, LF or NUL: ${JSON.stringify(value)}`)
  return value
}

/** Encodes one message, ending with the blank line that dispatches it. */
export function encodeFrame(frame: SseFrame): string {
  let out = ''
  if (frame.event !== undefined) out += `event: ${checkField('event', frame.event)}\n`
  if (frame.id !== undefined) out += `id: ${checkField('id', frame.id)}\n`
  if (frame.retry !== undefined) {
    if (!Number.isInteger(frame.retry) || frame.retry < 0) throw new TypeError(`SSE retry must be a non-negative integer: ${frame.retry}`)
    out += `retry: ${frame.retry}\n`
  }
  if (frame.data !== undefined) {
    for (const line of frame.data.split(LINE_BREAK)) out += `data: ${line}\n`
  }
  return `${out}\n`
}

/** A comment line: ignored by clients, but it keeps proxies and idle timers from closing a quiet stream. */
export function encodeComment(text: string): string {
  return `: ${text.replace(/[\r\n]+/g, ' ')}\n\n`
}
