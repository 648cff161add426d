import MarkdownIt from 'markdown-it'

/** Parses as a reader would render: raw HTML on, as on GitHub, so that a check here holds there too. */
const parser = new MarkdownIt({ html: true })

/** A paragraph written after a text to learn whether the text left a block open: a block left open swallows it. */
const SENTINEL = 'stepstream-end-of-text'

const longestBackticks = (text: string) => Math.max(0, ...(text.match(/`+/g) ?? []).map((run) => run.length))

/**
 * A code fence longer than any run of backticks in `text`, so nothing inside can end the block early (CommonMark
 * closes a fence only with at least as many backticks as opened it), and nothing inside is read as Markdown.
 */
export function fenced(text: string, info = ''): string {
  const fence = '`'.repeat(Math.max(3, longestBackticks(text) + 1))
  return `${fence}${info}\n${text}\n${fence}`
}

/**
 * `text` as a code span that nothing inside can end: delimited by more backticks than any run inside, padded when it
 * starts or ends with one, its line breaks made spaces so that it stays on its line (a blank line would end the
 * paragraph it sits in and let the rest start blocks of its own).
 */
export function codeSpan(text: string): string {
  const flat = text.replace(/\r\n?|\n/g, ' ')
  const ticks = '`'.repeat(longestBackticks(flat) + 1)
  const pad = flat === '' || flat.startsWith('`') || flat.endsWith('`') || /^ .* $/s.test(flat) ? ' ' : ''
  return `${ticks}${pad}${flat}${pad}${ticks}`
}

/**
 * `text` (a time, an error sentence) as plain words within a line of ours: line breaks become spaces, so that it cannot
 * start a block, and `<` is escaped (with `\`, itself escaped), so that it cannot open an HTML element around ours.
 */
export const inlineText = (text: string) => text.replace(/\r\n?|\n/g, ' ').replace(/[\\<]/g, '\\$&')

type Token = ReturnType<typeof parser.parse>[number]

const isHeadingOrHtml = (token: Token): boolean =>
  token.type === 'heading_open' ||
  token.type === 'html_block' ||
  token.type === 'html_inline' ||
  (token.children ?? []).some(isHeadingOrHtml)

/**
 * Whether `text` stays inside its own block: it makes no heading (a fake `## You` turn), no raw HTML (a
 * `</details>` closing ours, a `<pre>` or `<!--` swallowing what follows), and leaves nothing open (an unclosed fence).
 */
function staysInItsBlock(text: string): boolean {
  const tokens = parser.parse(`${text}\n\n${SENTINEL}`, {})
  const [open, inline] = tokens.slice(-3)
  if (open?.type !== 'paragraph_open' || open.level !== 0 || inline?.content !== SENTINEL) return false
  return !tokens.some(isHeadingOrHtml)
}

/**
 * A message, an answer or reasoning as a block of the export: written as it is (it is Markdown already) when it stays
 * inside its block, else shown verbatim in a code fence, which nothing inside can leave. Either way no text from a
 * step or a model can start a heading of the export or close one of its blocks.
 */
export const markdownBlock = (text: string) => (text.length <= MARKDOWN_CHECKED_MAX_CHARS && staysInItsBlock(text) ? text : fenced(text))

/**
 * The longest text the export parses to see whether it may stay Markdown; characters (64 Ki). Parsing is linear but
 * not cheap (a 5 MB answer held the event loop 1.3 s): a longer text is fenced unread, which is as safe and as legible.
 */
const MARKDOWN_CHECKED_MAX_CHARS = 64 * 1024
