import { AppError } from './errors.ts'
import { TITLE_MAX_BYTES, TITLE_MAX_CHARS } from './limits.ts'

/*
 * A chat's title: cut from its first message, or given by a rename. Either way it is data: bounded here, where it
 * enters, and rendered escaped wherever it is shown (a list of chats, the tab's <title>).
 */

/**
 * Characters a title never holds: C0 and C1 controls and DEL (a newline would break a one-line list; NUL and ESC have
 * no business in a label), and the bidirectional embeddings, overrides and isolates, which reorder the text around
 * them in a list of other people's titles.
 */
const UNSHOWN = /[\p{Cc}\u202A-\u202E\u2066-\u2069]/u
const UNSHOWN_ALL = /[\p{Cc}\u202A-\u202E\u2066-\u2069\s]+/gu

const graphemes = new Intl.Segmenter('en', { granularity: 'grapheme' })

/** How many characters (code points) a string holds. */
const charsOf = (text: string) => {
  let n = 0
  for (const _ of text) n++
  return n
}

/** The ellipsis that ends a cut title: one character, three bytes. */
const ELLIPSIS = '…'

/**
 * The automatic title of a chat: its first message on one line (runs of spaces, line breaks and unshown characters
 * become one space), cut on a grapheme boundary (an emoji or an accented letter is never split) to fit
 * TITLE_MAX_CHARS and TITLE_MAX_BYTES with an ellipsis when cut. Empty for a message of only spaces.
 */
export function autoTitle(text: string): string {
  // Only the start is ever shown: a 32 KiB message is not segmented whole. A surrogate pair cut by the slice is dropped.
  const start = text.slice(0, TITLE_MAX_CHARS * 8).replace(/[\uD800-\uDBFF]$/, '')
  const line = start.replace(UNSHOWN_ALL, ' ').trim()
  let title = ''
  // The longest start that leaves room for the ellipsis: where a title too long is cut.
  let cut = ''
  let chars = 0
  let bytes = 0
  for (const { segment } of graphemes.segment(line)) {
    chars += charsOf(segment)
    bytes += Buffer.byteLength(segment, 'utf8')
    if (chars > TITLE_MAX_CHARS || bytes > TITLE_MAX_BYTES) return `${cut.trimEnd()}${ELLIPSIS}`
    title += segment
    if (chars < TITLE_MAX_CHARS && bytes <= TITLE_MAX_BYTES - 3) cut = title
  }
  return title
}

/**
 * A rename's title, checked once at the edge: a string, at most TITLE_MAX_CHARS characters and TITLE_MAX_BYTES bytes,
 * without controls (422 BAD_TITLE with a sentence). Spaces around it are trimmed; an empty title answers undefined:
 * the chat goes back to its automatic title (the first message), which is how a rename is undone.
 */
export function checkedTitle(value: unknown): string | undefined {
  if (typeof value !== 'string') throw new AppError('BAD_REQUEST', 'The body must be a JSON object like {"title": "Trip to Lisbon"}.')
  const title = value.trim()
  if (title === '') return undefined
  if (!title.isWellFormed())
    throw new AppError('BAD_TITLE', 'The title is not valid Unicode text (it holds a lone surrogate): send it as UTF-8.')
  const chars = charsOf(title)
  if (chars > TITLE_MAX_CHARS) {
    throw new AppError('BAD_TITLE', `The title is ${chars} characters long: keep it to ${TITLE_MAX_CHARS} at most.`)
  }
  const bytes = Buffer.byteLength(title, 'utf8')
  if (bytes > TITLE_MAX_BYTES) {
    throw new AppError('BAD_TITLE', `The title takes ${bytes} bytes: keep it to ${TITLE_MAX_BYTES} bytes of UTF-8 at most.`)
  }
  if (UNSHOWN.test(title)) {
    throw new AppError('BAD_TITLE', 'The title holds a line break or another control character: keep it to one line of plain text.')
  }
  return title
}
