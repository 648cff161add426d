import { AppError } from '../errors.ts'
import type { NewEvent, StoredEvent } from '../events.ts'
import { mib } from './log-refusals.ts'

const utf8 = (text: string) => Buffer.byteLength(text, 'utf8')

/**
 * The bytes an event takes as stored: the UTF-8 length of its JSON, which is the entry the log keeps. The log core
 * counts every entry so (`Buffer.byteLength(data)`), on every backend, so all of them refuse at the same point.
 */
export function eventBytes(event: NewEvent): number {
  return utf8(JSON.stringify(event))
}

/** The bytes of an event read back from a store: counted as when it was appended, without its seq and session. */
export function storedBytes(stored: StoredEvent): number {
  const { seq: _seq, session_id: _session, ...event } = stored
  return eventBytes(event as NewEvent)
}

/** What an `error` event's sentence keeps however full its chat is; bytes. */
const MIN_ERROR_BYTES = 200

/** The note a closing event's text ends with when it was cut to fit a full chat. */
export const CUT_NOTE = '\n\n[The rest did not fit: this chat is full.]'

/**
 * A closing event whose text (a final's or interrupt's answer, an error's partial text and sentence) fits `room`
 * bytes: what the log core stores of a run's closing event when its chat (or the store) has less room than it needs.
 * A run that started must be closable, so it is never refused; every other event leaves CLOSING_RESERVE_BYTES free
 * for it. Only when several runs close into one full budget can a budget go over, by at most the textless form of
 * each closing event (a few hundred bytes).
 */
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

/** The refusal when a chat's own budget is spent: 413, since a new chat would take it. */
export const sessionFull = (maxBytes: number) =>
  new AppError('SESSION_FULL', `This chat is full: it holds at most ${mib(maxBytes)} (--max-session-bytes). Start a new chat to go on.`)
