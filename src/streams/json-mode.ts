import { AppError } from '../errors.ts'
import { jsonProblem } from '../json-shape.ts'
import { MAX_EVENT_DEPTH } from '../limits.ts'
import { accept, type Parsed, refuse } from './parsed.ts'

const strictUtf8 = new TextDecoder('utf-8', { fatal: true })

/** The text of a JSON number that may be past a double's range (1.8e308): an exponent of 3 digits, or 309 digits. */
const MAY_OVERFLOW = /\d{309}|[eE][+]?\d{3}/

/**
 * JSON mode (`application/json`, PROTOCOL.md §7.1): a POST's body becomes one entry holding its messages, each
 * serialised compactly and joined by `,` (an array without its brackets); a read joins entries with `,` and wraps
 * them in `[…]`. A chat read as a stream gives each event as one message (its JSON as the JSON API renders it for
 * the reader: src/streams/chat-stream-log.ts).
 */

/**
 * How deep one message may nest: an event's depth, the body one level more (the array that batches messages). A value
 * nested 32,000 deep held the event loop in JSON.stringify and deeper overflowed its stack (src/http/capped-body.ts).
 */
const BODY_BOUNDS = {
  depth: MAX_EVENT_DEPTH + 1,
  nodes: Number.POSITIVE_INFINITY,
  stringChars: Number.POSITIVE_INFINITY,
  bytes: Number.POSITIVE_INFINITY,
}

/**
 * The entry data of a JSON body: its messages (an array is flattened one level: `[[1,2],[3]]` is two messages, `[1,2]`
 * and `[3]`) joined by `,`. Invalid JSON is a 400; so is `[]` on an append, which stores nothing — on a create it makes
 * an empty stream, and the data is ''.
 */
export function jsonEntryData(input: Uint8Array | string, purpose: 'create' | 'append'): Parsed<string> {
  let body: string
  try {
    // Bytes that are not UTF-8 are refused, never replaced by U+FFFD and stored changed.
    body = typeof input === 'string' ? input : strictUtf8.decode(input)
  } catch {
    return refuse('body', 'The body is not UTF-8, which JSON must be: send it encoded as UTF-8.')
  }
  let value: unknown
  try {
    value = JSON.parse(body)
  } catch {
    return refuse('body', 'The body is not valid JSON, which a stream of application/json takes: send one JSON value or an array of them.')
  }
  const problem = jsonProblem(value, BODY_BOUNDS)
  if (problem) return { ok: false, error: new AppError('BODY_TOO_DEEP', `The JSON body ${problem.detail}: flatten it and send it again.`) }
  // A number past a double's range parses as Infinity and would be stored as null: refused instead, never changed. Only
  // a body with such a number's text (an exponent of 3 digits, or 309 digits in a row) is walked: most are not.
  if (MAY_OVERFLOW.test(body) && hasInfinity(value))
    return refuse('body', 'The body holds a number too large for JSON to keep (past 1.8e308): send it as a string.')
  const messages = Array.isArray(value) ? value : [value]
  if (messages.length === 0 && purpose === 'append') {
    return refuse('body', 'The body is an empty JSON array, which appends nothing: send at least one message.')
  }
  return accept(messages.map((message) => JSON.stringify(message)).join(','))
}

/** The body of a JSON-mode read: every message of `entries` in one array (`[]` for none). */
export function jsonReadBody(entries: readonly string[]): string {
  return `[${entries.filter((data) => data !== '').join(',')}]`
}

/** The messages of one entry, each as its JSON (for a fork that takes the first few of an append). */
export function jsonMessages(data: string): string[] {
  if (data === '') return []
  return (JSON.parse(`[${data}]`) as unknown[]).map((message) => JSON.stringify(message))
}

/** Whether a parsed value (its depth bounded already) holds a number that is not finite; without recursion. */
function hasInfinity(value: unknown): boolean {
  const pending: unknown[] = [value]
  while (pending.length > 0) {
    const item = pending.pop()
    if (typeof item === 'number' && !Number.isFinite(item)) return true
    if (item !== null && typeof item === 'object') for (const inner of Array.isArray(item) ? item : Object.values(item)) pending.push(inner)
  }
  return false
}
