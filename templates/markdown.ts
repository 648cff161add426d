import MarkdownIt, { type RendererRule } from 'markdown-it'
import { CODE_LANGUAGE_LABEL_MAX_CHARS } from '../src/limits.ts'

/**
 * Markdown for finished answers. Raw HTML in the source is escaped (`html: false`), markdown-it refuses
 * `javascript:`/`vbscript:`/`file:`/`data:` links, and images are off so a model cannot make the reader's browser
 * fetch a URL. Links open in a new tab without handing it this page.
 */
const md = new MarkdownIt({ html: false, linkify: true, breaks: true }).disable('image')

md.renderer.rules.link_open = (tokens, idx, options, _env, self) => {
  tokens[idx]!.attrSet('rel', 'noopener noreferrer nofollow')
  tokens[idx]!.attrSet('target', '_blank')
  return self.renderToken(tokens, idx, options)
}

// A wide table scrolls inside its own box, so on a phone it never widens the page; the box takes keyboard focus so
// that it can be scrolled without a pointer, and a name so that a screen reader says what the focus landed on.
md.renderer.rules.table_open = () => '<div class="table-wrap" tabindex="0" role="region" aria-label="Table"><table>\n'
md.renderer.rules.table_close = () => '</table></div>\n'

/** The longest cell kept on one line; characters of its Markdown source. */
const SHORT_CELL_CHARS = 20

// markdown-it aligns a column with a `style` attribute, which the page's Content-Security-Policy (no inline styles)
// refuses: the alignment travels as a class instead. A short cell ("O(n log n)", "yes", a date) is kept on one line, so
// that on a phone the table scrolls instead of folding every cell into a tall narrow column; longer text still wraps.
const cell: RendererRule = (tokens, idx, options, _env, self) => {
  const token = tokens[idx]!
  const align = String(token.attrGet('style') ?? '').match(/^text-align:(left|center|right)$/)?.[1]
  const classes = [align ? `align-${align}` : '', (tokens[idx + 1]?.content.length ?? 0) <= SHORT_CELL_CHARS ? 'short' : '']
  token.attrs = null
  if (classes.some(Boolean)) token.attrSet('class', classes.filter(Boolean).join(' '))
  return self.renderToken(tokens, idx, options)
}
md.renderer.rules.th_open = cell
md.renderer.rules.td_open = cell

/**
 * Every code block gets a head with its language and a copy button (public/app.js copies the code's text and
 * highlights the code in a worker: the server sends plain, escaped code, so rendering stays as cheap as before).
 */
function withHead(render: RendererRule): RendererRule {
  return (tokens, idx, options, env, self) => {
    const language = tokens[idx]!.info.trim().split(/\s+/, 1)[0]!.slice(0, CODE_LANGUAGE_LABEL_MAX_CHARS)
    return (
      '<div class="code-block"><div class="code-head">' +
      `<span class="code-lang">${md.utils.escapeHtml(language)}</span>` +
      '<button type="button" class="code-copy">Copy code</button></div>' +
      `${render(tokens, idx, options, env, self)}</div>\n`
    )
  }
}
md.renderer.rules.fence = withHead(md.renderer.rules.fence!)
md.renderer.rules.code_block = withHead(md.renderer.rules.code_block!)

/** Renders model output to sanitised HTML. */
export function renderMarkdown(text: string): string {
  return md.render(text)
}
