import type { AppError } from '../errors.ts'
import { isClosing, type NewEvent, type StoredEvent } from '../events.ts'
import { CLOSING_RESERVE_BYTES } from '../limits.ts'
import { CUT_NOTE, cutToBytes, fitClosing, sessionFull } from '../log/byte-budget.ts'
import { payloadOf } from './sqlite-rows.ts'

/*
 * The old SQLite and Redis stores' counting (payload and envelope) and admission, kept only until their log backends
 * replace them (src/log/backends/); byte budgets live in src/log/byte-budget.ts.
 */
export { CUT_NOTE, cutToBytes, fitClosing, sessionFull }

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

/**
 * The event to store under `budgets`, or a refusal. A run's closing event is never refused: once a run has started
 * it must be closable. Every other event must leave CLOSING_RESERVE_BYTES free in each budget, so a run that could
 * start always has room for its close; a closing event that does not fit what is left (a final's text may be up to
 * EVENT_TEXT_MAX_CHARS) has its text cut, with CUT_NOTE, to what is left. Only when several runs close into one
 * full budget can a budget go over, by at most the textless form of each closing event (a few hundred bytes).
 * `refuse` builds the refusal for the budget that is short; `bytes` is what the event is charged, `eventBytes(event)`
 * unless the store charges more: `overhead` is then what it charges besides the JSON, which a closing event's text is
 * cut to leave room for.
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
