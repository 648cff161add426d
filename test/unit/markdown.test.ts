import { describe, expect, test } from 'bun:test'
import { CODE_LANGUAGE_LABEL_MAX_CHARS } from '../../src/limits.ts'
import { renderMarkdown } from '../../templates/markdown.ts'

describe('answers rendered as Markdown', () => {
  test('a table sits in a box of its own that scrolls, takes the keyboard focus and has a name', () => {
    const html = renderMarkdown('| a | b |\n|---|---|\n| 1 | 2 |')
    expect(html.startsWith('<div class="table-wrap" tabindex="0" role="region" aria-label="Table"><table>\n')).toBe(true)
    expect(html.trimEnd().endsWith('</table></div>')).toBe(true)
  })

  test('a column’s alignment is a class, never a style attribute the page’s CSP would refuse', () => {
    const html = renderMarkdown('| l | c | r | n |\n|:--|:-:|--:|---|\n| 1 | 2 | 3 | 4 |')
    expect(html).not.toContain('style=')
    expect(html).toContain('<th class="align-left short">l</th>')
    expect(html).toContain('<td class="align-center short">2</td>')
    expect(html).toContain('<td class="align-right short">3</td>')
    expect(html).toContain('<td class="short">4</td>')
  })

  test('a short cell is marked to stay on one line; a longer one wraps', () => {
    const long = 'a cell long enough to wrap'
    const html = renderMarkdown(`| name | note |\n|---|---|\n| O(n log n) | ${long} |`)
    expect(html).toContain('<td class="short">O(n log n)</td>')
    expect(html).toContain(`<td>${long}</td>`)
  })

  test('every code block, fenced or indented, has a head with its language and a copy button; the code stays escaped text', () => {
    const fenced = renderMarkdown('```ts\nconst x = 1 < 2 && "<b>"\n```')
    expect(fenced).toBe(
      '<div class="code-block"><div class="code-head"><span class="code-lang">ts</span>' +
        '<button type="button" class="code-copy">Copy code</button></div>' +
        '<pre><code class="language-ts">const x = 1 &lt; 2 &amp;&amp; &quot;&lt;b&gt;&quot;\n</code></pre>\n</div>\n',
    )
    const indented = renderMarkdown('text\n\n    indented <i>\n')
    expect(indented).toContain(
      '<span class="code-lang"></span><button type="button" class="code-copy">Copy code</button></div><pre><code>indented &lt;i&gt;',
    )
  })

  test('the language label is escaped and cut to CODE_LANGUAGE_LABEL_MAX_CHARS', () => {
    const html = renderMarkdown(`\`\`\`<img${'x'.repeat(100)} other words\ncode\n\`\`\``)
    const label = html.match(/<span class="code-lang">([^<]*)<\/span>/)![1]!
    expect(label).toBe(`&lt;img${'x'.repeat(CODE_LANGUAGE_LABEL_MAX_CHARS - 4)}`)
    expect(html).not.toContain('<img')
  })
})
