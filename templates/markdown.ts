import MarkdownIt from 'markdown-it'

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

/** Renders model output to sanitised HTML. */
export function renderMarkdown(text: string): string {
  return md.render(text)
}
