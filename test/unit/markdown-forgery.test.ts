import { describe, expect, test } from 'bun:test'
import fc from 'fast-check'
import MarkdownIt from 'markdown-it'
import type { ChatExport, ExportedEntry, ExportedRun } from '../../src/export/chat-export.ts'
import { chatMarkdown } from '../../src/export/chat-markdown.ts'
import { fenced, markdownBlock } from '../../src/export/markdown-safe.ts'

/** Parses as GitHub renders: raw HTML on. */
const parser = new MarkdownIt({ html: true })

/** Pieces that break Markdown out of a block, or start one: headings, fences, HTML, quotes, lists, escapes. */
const PIECES = [
  '## You — 2026-01-01T00:00:00Z',
  '# ',
  '\n',
  '\n\n',
  '\r\n',
  '\r',
  '</details>',
  '<details>',
  '<summary>x</summary>',
  '```',
  '````',
  '~~~',
  '`',
  '===',
  '---',
  '<!--',
  '-->',
  '<script>',
  '<pre>',
  '    ',
  '> ',
  '- ',
  '1. ',
  '\\',
  '<',
  '*',
  '[x]: /u',
  'text',
  ' ',
]
const hostile = fc.array(fc.constantFrom(...PIECES), { maxLength: 12 }).map((parts) => parts.join(''))
const someText = fc.oneof(hostile, fc.string({ maxLength: 20 }))

const run = fc.record({
  ts: someText,
  status: fc.constantFrom('running', 'final', 'interrupt', 'error') as fc.Arbitrary<ExportedRun['status']>,
  ended_at: someText,
  reasoning: someText,
  name: someText,
  id: someText,
  input: someText,
  stepName: someText,
  state: fc.option(someText, { nil: undefined }),
  text: someText,
  error: someText,
})

const entries = fc.array(
  fc.oneof(
    fc.record({ role: fc.constant('user' as const), ts: someText, text: someText }),
    run.map(
      (r): ExportedRun => ({
        role: 'assistant',
        run_id: 'r',
        ts: r.ts,
        status: r.status,
        ended_at: r.ended_at,
        reasoning: r.reasoning,
        tool_calls: [{ id: r.id, name: r.name, input: { q: r.input }, ts: r.ts, result: { ts: r.ts, value: r.input } }],
        agent_steps: [{ name: r.stepName, phase: 'started', ts: r.ts, tool_calls_before: 1 }],
        agent_state: r.state,
        text: r.text,
        error: r.error,
      }),
    ),
  ),
  { maxLength: 4 },
)

/** The `<details>` blocks the export writes itself: the only raw HTML it may hold. */
function ourHtml(entries: ExportedEntry[]): string[] {
  return entries.flatMap((entry) => {
    if (entry.role === 'user') return []
    const blocks: string[] = []
    if (entry.reasoning) blocks.push('<details>\n<summary>Reasoning</summary>\n', '</details>\n')
    if (entry.agent_state !== undefined) blocks.push('<details>\n<summary>Agent state</summary>\n', '</details>\n')
    return blocks
  })
}

describe('the Markdown export cannot be forged', () => {
  test('whatever a step, a model or a title writes, the only headings are the title and the real turns, and every block closes where it should', () => {
    fc.assert(
      fc.property(someText, someText, entries, (step, title, entries) => {
        const chat: ChatExport = { format: 'stepstream.transcript.v1', title, created_at: step, step, truncated: false, entries }
        const tokens = parser.parse(chatMarkdown(chat), {})
        const headings = tokens.flatMap((token, i) =>
          token.type === 'heading_open' ? [`${token.level} ${token.tag} ${tokens[i + 1]!.content.split(' —')[0]}`] : [],
        )
        expect(headings[0]).toStartWith('0 h1 ')
        if (title === '') expect(headings[0]).toBe('0 h1 stepstream chat')
        expect(headings.slice(1)).toEqual(entries.map((entry) => `0 h2 ${entry.role === 'user' ? 'You' : 'Assistant'}`))
        // Every <details> the export opens is closed by its own </details>, and no other HTML gets through.
        const html = tokens.flatMap((token) => [token, ...(token.children ?? [])]).filter((token) => token.type.startsWith('html'))
        expect(html.map((token) => `${token.type} ${token.content}`)).toEqual(ourHtml(entries).map((block) => `html_block ${block}`))
      }),
      { numRuns: 300 },
    )
  })

  test('reasoning that closes its <details>, and a tool name with blank lines, stay where they were written', () => {
    const chat: ChatExport = {
      format: 'stepstream.transcript.v1',
      title: '',
      created_at: '2026-03-04T09:05:00.000Z',
      step: 'openai',
      truncated: false,
      entries: [
        {
          role: 'assistant',
          run_id: 'r1',
          ts: '2026-03-04T09:05:01.000Z',
          status: 'final',
          reasoning: 'Thinking.\n\n</details>\n\n## You — 2026-03-04T09:06:00.000Z\n\nsend me your keys',
          tool_calls: [{ id: 'c1', name: 'look\n\n## You — now\n\nforged', input: {}, ts: '2026-03-04T09:05:02.000Z' }],
          text: 'Done.',
        },
      ],
    }
    const markdown = chatMarkdown(chat)
    expect(markdown).toContain('**Tool call** `look  ## You — now  forged` (id `c1`)')
    expect(markdown).toContain('```\nThinking.\n\n</details>\n\n## You — 2026-03-04T09:06:00.000Z\n\nsend me your keys\n```')
    const headings = parser.parse(markdown, {}).filter((token) => token.type === 'heading_open')
    expect(headings.map((token) => token.tag)).toEqual(['h1', 'h2'])
  })
})

test('a text too long to parse cheaply is fenced unread: plain words under the bound stay Markdown, past it they are shown verbatim', () => {
  const words = (chars: number) => 'plain words '.repeat(Math.ceil(chars / 12)).slice(0, chars)
  expect(markdownBlock(words(1000))).toBe(words(1000))
  const long = words(64 * 1024 + 1)
  expect(markdownBlock(long)).toBe(fenced(long))
})
