import { AppError } from '../errors.ts'
import { isClosing, type NewEvent, type StoredEvent } from '../events.ts'
import { CLOSING_RESERVE_BYTES } from '../limits.ts'
import { payloadOf } from './sqlite-rows.ts'

/**
 * What `{"type":"…","step_id":"…","ts":"…",` adds to a payload's JSON besides the three strings themselves: the event's
 * JSON is that prefix followed by its payload without the payload's `{`. Every event has a payload field.
 */
export const ENVELOPE_BYTES = 31

const utf8 = (text: string) => Buffer.byteLength(text, 'utf8')

/**
 * The bytes an event takes as stored: the UTF-8 length of its JSON (exact unless its envelope needs escaping). Every
 * store counts with this function, and SQLite's retention with the same sum in SQL (sqlite-budget.ts), so all three
 * refuse at the same point. `payload` is `payloadOf(event)` when the caller already has it.
 */
export function eventBytes(event: NewEvent, payload = payloadOf(event)): number {
  return utf8(payload) + utf8(event.type) + utf8(event.step_id) + utf8(event.ts) + ENVELOPE_BYTES
}

/** The bytes of an event read back from a store: counted as when it was appended, without its seq and session. */
export function storedBytes(stored: StoredEvent): number {
  const { seq: _seq, session_id: _session, ...event } = stored
  return eventBytes(event as NewEvent)
}

/** Where a budget stands before an append: bytes used and the most it may hold; bytes. */
export interface Budget {
  used: number
  max: number
}

/** What an `error` event's sentence keeps however full its chat is; bytes. */
const MIN_ERROR_BYTES = 200

/** The note a closing event's text ends with when it was cut to fit a full chat. */
export const CUT_NOTE = '\n\n[The rest did not fit: this chat is full.]'

/**
 * The event to store under `budgets`, or a refusal. A run's closing event is never refused: once a run has started
 * it must be closable. Every other event must leave CLOSING_RESERVE_BYTES free in each budget, so a run that could
 * start always has room for its close; a closing event that does not fit what is left (a final's text may be up to
 * EVENT_TEXT_MAX_CHARS) has its text cut, with CUT_NOTE, to what is left. Only when several runs close into one
 * full budget can a budget go over, by at most the textless form of each closing event (a few hundred bytes).
 * `refuse` builds the refusal for the budget that is short; `bytes` is what the event is charged, `eventBytes(event)`
 * unless the store charges more (the memory store's `heldBytes`): `overhead` is then what it charges besides the JSON,
 * which a closing event's text is cut to leave room for.
 */
export function admit<B extends Budget>(
  event: NewEvent,
  budgets: readonly B[],
  refuse: (budget: B) => AppError,
  bytes = eventBytes(event),
  overhead = 0,
): NewEvent {
  if (!isClosing(event)) {
    const short = budgets.find((b) => b.used + bytes > b.max - CLOSING_RESERVE_BYTES)
    if (short) throw refuse(short)
    return event
  }
  const room = Math.min(...budgets.map((b) => b.max - b.used))
  return bytes <= room ? event : fitClosing(event, room - overhead)
}

/** A closing event whose text (a final's or interrupt's answer, an error's partial text and sentence) fits `room` bytes. */
export function fitClosing(event: NewEvent, room: number): NewEvent {
  if (event.type === 'error') {
    // The streamed text goes first; the sentence keeps at least MIN_ERROR_BYTES, so the reader learns what failed.
    const { text: _text, ...bare } = event
    const left = Math.max(room - eventBytes({ ...bare, error: '' }), MIN_ERROR_BYTES)
    return { ...bare, error: cutToBytes(event.error, left) }
  }
  if (event.type !== 'final' && event.type !== 'interrupt') return event
  const bare = { ...event, text: CUT_NOTE }
  const left = room - eventBytes(bare)
  return { ...event, text: cutToBytes(event.text, left) + CUT_NOTE }
}

/**
 * The longest prefix of `text` whose JSON string is at most `maxBytes` bytes, never ending inside a surrogate pair.
 * Each UTF-16 unit is at most 6 bytes of JSON (an escape such as `\u001f`), so a few proportional steps converge.
 */
export function cutToBytes(text: string, maxBytes: number): string {
  if (maxBytes <= 0) return ''
  let end = Math.min(text.length, maxBytes)
  for (;;) {
    let cut = text.slice(0, end)
    if (/[\uD800-\uDBFF]$/.test(cut)) cut = cut.slice(0, -1)
    const bytes = utf8(JSON.stringify(cut)) - 2
    if (bytes <= maxBytes) return cut
    end = Math.min(cut.length - 1, Math.floor((cut.length * maxBytes) / bytes))
  }
}

/** A mebibyte figure for sentences: 64 MiB, 0.5 MiB. */
const mib = (bytes: number) => `${Number((bytes / 1024 / 1024).toFixed(2))} MiB`

/** The refusal when a chat's own budget is spent: 413, since a new chat would take it. */
export const sessionFull = (maxBytes: number) =>
  new AppError('SESSION_FULL', `This chat is full: it holds at most ${mib(maxBytes)} (--max-session-bytes). Start a new chat to go on.`)

/** How long a client of a full memory store should wait before trying again; seconds. */
export const STORE_FULL_RETRY_AFTER_S = 60

/** The refusal when the memory store as a whole is full: 503 with a Retry-After, as retention frees room. */
export const storeBytesFull = (maxBytes: number) =>
  new AppError(
    'STORE_FULL',
    `The server's memory store is full (it holds at most ${mib(maxBytes)} in all, --max-store-bytes) and takes no new work until old chats expire. Try again later.`,
    STORE_FULL_RETRY_AFTER_S,
  )
