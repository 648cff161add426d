import { describe, expect, test } from 'bun:test'
import type { NewEvent, StoredEvent } from '../../src/events.ts'
import { type ChatExport, exportChat, exportFileName } from '../../src/export/chat-export.ts'
import { chatMarkdown } from '../../src/export/chat-markdown.ts'

const SESSION = { title: 'Once upon a <b>time</b>', created_at: '2026-03-04T09:05:00.000Z', step: { name: 'scripted' } }
const at = (second: number) => `2026-03-04T09:05:${String(second).padStart(2, '0')}.000Z`

/** Three runs: one with a tool call and an answer, one that failed mid-answer, one interrupted. */
const LOG: NewEvent[] = [
  { type: 'user', step_id: 'r1', ts: at(1), text: 'What is 2 + 3?' },
  { type: 'start', step_id: 'r1', ts: at(2), step_type: 'scripted' },
  { type: 'tool-call', step_id: 'r1', ts: at(3), tool_call: { id: 'call-1', name: 'add', input: { a: 2, b: 3 } } },
  { type: 'tool-result', step_id: 'r1', ts: at(4), tool_result: { id: 'call-1', result: { sum: 5, note: 'fenced ``` inside' } } },
  { type: 'partial', step_id: 'r1', ts: at(5), delta: 'It is ' },
  { type: 'partial', step_id: 'r1', ts: at(5), delta: '**5**.' },
  { type: 'final', step_id: 'r1', ts: at(6), text: 'It is **5**.' },
  { type: 'user', step_id: 'r2', ts: at(10), text: 'And 2 / 0?' },
  { type: 'start', step_id: 'r2', ts: at(11), step_type: 'scripted' },
  { type: 'partial', step_id: 'r2', ts: at(12), delta: 'Let me' },
  { type: 'error', step_id: 'r2', ts: at(13), error: 'The model is unavailable (503). Try again in a minute.' },
  { type: 'user', step_id: 'r3', ts: at(20), text: 'Tell me a story.' },
  { type: 'start', step_id: 'r3', ts: at(21), step_type: 'scripted' },
  { type: 'partial', step_id: 'r3', ts: at(22), delta: 'Once upon' },
  { type: 'interrupt', step_id: 'r3', ts: at(23), text: 'Once upon' },
]
const stored = (events: NewEvent[], firstSeq = 1): StoredEvent[] =>
  events.map((event, i) => ({ ...event, seq: firstSeq + i, session_id: 'OWNER-ID-never-exported' }) as StoredEvent)

describe('the transcript export', () => {
  test('JSON: every message and run with its times, tool calls and results, the error and the interruption', () => {
    const exported = exportChat(SESSION, stored(LOG))
    // Compared as JSON text: the exact bytes a download holds, key order included, no stray keys.
    const expected = {
      format: 'stepstream.transcript.v1',
      title: 'Once upon a <b>time</b>',
      created_at: '2026-03-04T09:05:00.000Z',
      step: 'scripted',
      truncated: false,
      entries: [
        { role: 'user', ts: at(1), text: 'What is 2 + 3?' },
        {
          role: 'assistant',
          run_id: 'r1',
          ts: at(2),
          step_type: 'scripted',
          status: 'final',
          ended_at: at(6),
          reasoning: '',
          tool_calls: [
            {
              id: 'call-1',
              name: 'add',
              input: { a: 2, b: 3 },
              ts: at(3),
              result: { ts: at(4), value: { sum: 5, note: 'fenced ``` inside' } },
            },
          ],
          text: 'It is **5**.',
        },
        { role: 'user', ts: at(10), text: 'And 2 / 0?' },
        {
          role: 'assistant',
          run_id: 'r2',
          ts: at(11),
          step_type: 'scripted',
          status: 'error',
          ended_at: at(13),
          reasoning: '',
          tool_calls: [],
          text: 'Let me',
          error: 'The model is unavailable (503). Try again in a minute.',
        },
        { role: 'user', ts: at(20), text: 'Tell me a story.' },
        {
          role: 'assistant',
          run_id: 'r3',
          ts: at(21),
          step_type: 'scripted',
          status: 'interrupt',
          ended_at: at(23),
          reasoning: '',
          tool_calls: [],
          text: 'Once upon',
        },
      ],
    }
    expect(JSON.stringify(exported, null, 2)).toBe(JSON.stringify(expected, null, 2))
    expect(JSON.stringify(exported)).not.toContain('OWNER-ID')
  })

  test('Markdown: headings with times, tool JSON in fences longer than any backticks inside, the error and the interruption in words', () => {
    expect(chatMarkdown(exportChat(SESSION, stored(LOG)))).toBe(
      [
        // The title as written, its `<` escaped so that it cannot open HTML.
        '# Once upon a \\<b>time\\</b>',
        '',
        '- Created: 2026-03-04T09:05:00.000Z',
        '- Step: scripted',
        '',
        '## You — 2026-03-04T09:05:01.000Z',
        '',
        'What is 2 + 3?',
        '',
        '## Assistant — 2026-03-04T09:05:02.000Z',
        '',
        '**Tool call** `add` (id `call-1`) — 2026-03-04T09:05:03.000Z',
        '',
        '```json',
        '{',
        '  "a": 2,',
        '  "b": 3',
        '}',
        '```',
        '',
        '**Result** — 2026-03-04T09:05:04.000Z',
        '',
        '````json',
        '{',
        '  "sum": 5,',
        '  "note": "fenced ``` inside"',
        '}',
        '````',
        '',
        'It is **5**.',
        '',
        '## You — 2026-03-04T09:05:10.000Z',
        '',
        'And 2 / 0?',
        '',
        '## Assistant — 2026-03-04T09:05:11.000Z',
        '',
        'Let me',
        '',
        '**Error** — 2026-03-04T09:05:13.000Z: The model is unavailable (503). Try again in a minute.',
        '',
        '## You — 2026-03-04T09:05:20.000Z',
        '',
        'Tell me a story.',
        '',
        '## Assistant — 2026-03-04T09:05:21.000Z',
        '',
        'Once upon',
        '',
        '*Interrupted at 2026-03-04T09:05:23.000Z: the answer above is what had been written.*',
        '',
      ].join('\n'),
    )
  })

  test('Markdown: reasoning collapsed in <details>, a tool still waiting, a run still going', () => {
    const chat: ChatExport = {
      format: 'stepstream.transcript.v1',
      title: '',
      created_at: at(0),
      step: 'openai',
      truncated: false,
      entries: [
        {
          role: 'assistant',
          run_id: 'r1',
          ts: at(1),
          status: 'running',
          reasoning: 'The user wants the weather.',
          tool_calls: [{ id: 'c1', name: 'weather', input: { city: 'Oslo' }, ts: at(2) }],
          text: '',
        },
      ],
    }
    expect(chatMarkdown(chat)).toBe(
      [
        // No message, no title: the heading says what it is.
        '# stepstream chat',
        '',
        `- Created: ${at(0)}`,
        '- Step: openai',
        '',
        `## Assistant — ${at(1)}`,
        '',
        '<details>',
        '<summary>Reasoning</summary>',
        '',
        'The user wants the weather.',
        '',
        '</details>',
        '',
        `**Tool call** \`weather\` (id \`c1\`) — ${at(2)}`,
        '',
        '```json',
        '{',
        '  "city": "Oslo"',
        '}',
        '```',
        '',
        '*No result yet.*',
        '',
        '*Still running when this transcript was exported.*',
        '',
      ].join('\n'),
    )
  })

  test("an agent's run: its steps among its tool calls in order, and its last state, in JSON and in Markdown", () => {
    const agentLog: NewEvent[] = [
      { type: 'user', step_id: 'a1', ts: at(1), text: 'Find robots.' },
      { type: 'start', step_id: 'a1', ts: at(2), step_type: 'agui' },
      { type: 'agent-step', step_id: 'a1', ts: at(3), name: 'search', phase: 'started' },
      { type: 'agent-state', step_id: 'a1', ts: at(3), state: { hits: [] } },
      { type: 'tool-call', step_id: 'a1', ts: at(3), tool_call: { id: 't1', name: 'find', input: { q: 'robots' } } },
      { type: 'tool-result', step_id: 'a1', ts: at(4), tool_result: { id: 't1', result: ['R2-D2'] } },
      { type: 'agent-state', step_id: 'a1', ts: at(4), state: { hits: ['R2-D2'] } },
      { type: 'agent-step', step_id: 'a1', ts: at(4), name: 'search', phase: 'finished' },
      { type: 'final', step_id: 'a1', ts: at(5), text: 'Found R2-D2.' },
    ]
    const chat = exportChat(SESSION, stored(agentLog))
    expect(chat.entries[1]).toMatchObject({
      agent_steps: [
        { name: 'search', phase: 'started', ts: at(3), tool_calls_before: 0 },
        { name: 'search', phase: 'finished', ts: at(4), tool_calls_before: 1 },
      ],
      agent_state: { hits: ['R2-D2'] },
    })
    expect(JSON.stringify(exportChat(SESSION, stored(LOG)))).not.toContain('agent_')
    const markdown = chatMarkdown(chat)
    const order = [
      '*Step `search` started*',
      '**Tool call** `find`',
      '*Step `search` finished*',
      '<summary>Agent state</summary>',
      'Found R2-D2.',
    ]
    const places = order.map((text) => markdown.indexOf(text))
    expect(places.every((i) => i >= 0)).toBe(true)
    expect(places).toEqual([...places].sort((x, y) => x - y))
    expect(markdown).toContain('"R2-D2"')
  })

  test('a log whose oldest events retention removed says it begins part-way; an interrupt before any text says so', () => {
    const tail = stored(LOG.slice(12), 13)
    const chat = exportChat(SESSION, tail)
    expect(chat.truncated).toBe(true)
    expect(chat.entries).toMatchObject([{ role: 'assistant', run_id: 'r3', status: 'interrupt', text: 'Once upon' }])
    expect(chatMarkdown(chat)).toContain("> The oldest events of this chat were removed by the server's retention: it begins part-way.")
    const cut = exportChat(SESSION, stored([LOG[11]!, { type: 'interrupt', step_id: 'r3', ts: at(21), text: '' }]))
    expect(chatMarkdown(cut)).toEndWith('*Interrupted at 2026-03-04T09:05:21.000Z, before any answer.*\n')
    expect(exportChat(SESSION, []).truncated).toBe(false)
  })

  test('the file name says when the chat began, never an id', () => {
    expect(exportFileName('2026-03-04T09:05:00.000Z', 'md')).toBe('stepstream-chat-2026-03-04-0905.md')
    expect(exportFileName('2026-12-31T23:59:59Z', 'json')).toBe('stepstream-chat-2026-12-31-2359.json')
    expect(exportFileName('not a date', 'md')).toBe('stepstream-chat.md')
  })
})
