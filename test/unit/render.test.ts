import { describe, expect, test } from 'bun:test'
import type { StepEvent, StoredEvent } from '../../src/events.ts'
import { EVENT_TEXT_MAX_CHARS, RENDERED_MARKDOWN_MAX_CHARS } from '../../src/limits.ts'
import { foldTranscript } from '../../src/transcript.ts'
import { renderEventFragment } from '../../templates/event-fragments.tsx'

let seq = 0
const ev = (event: StepEvent & { step_id: string; ts?: string }): StoredEvent =>
  ({ ts: '2026-01-02T03:04:05.000Z', ...event, seq: ++seq, session_id: 's' }) as StoredEvent
const HOSTILE = '<img src=x onerror=alert(1)>"\'&'

describe('event fragments', () => {
  test('partial carries only its delta, appended into the run text', () => {
    const html = renderEventFragment(ev({ type: 'partial', step_id: 'r1', delta: 'lo' }))
    expect(html).toBe('<hx-partial hx-target="#step-r1-text .text" hx-swap="beforeend"><span>lo</span></hx-partial>')
  })

  test('user appends the message and its answer bubble with a stable id, and marks the session running', () => {
    const html = renderEventFragment(ev({ type: 'user', step_id: 'r1', text: 'hi' }))
    expect(html).toContain('<article class="msg user"')
    expect(html).toContain('<article class="msg assistant" id="step-r1"')
    expect(html).toContain('id="step-r1-text"')
    expect(html).toContain('<div id="run-status" data-state="running" hidden></div>')
    expect(renderEventFragment(ev({ type: 'start', step_id: 'r1', step_type: 'echo' }))).toBe(
      '<hx-partial hx-target="#run-status" hx-swap="outerHTML"><div id="run-status" data-state="running" hidden></div></hx-partial>',
    )
  })

  test('final, interrupt and error replace the run text whole and mark the session idle', () => {
    for (const event of [
      ev({ type: 'final', step_id: 'r1', text: 'done' }),
      ev({ type: 'interrupt', step_id: 'r1', text: 'do' }),
      ev({ type: 'error', step_id: 'r1', error: 'The model is down.' }),
    ]) {
      const html = renderEventFragment(event)
      expect(html).toContain('<hx-partial hx-target="#step-r1-text" hx-swap="outerHTML">')
      expect(html).toContain(`class="answer ${event.type}"`)
      expect(html).toContain('data-state="idle"')
    }
    expect(renderEventFragment(ev({ type: 'interrupt', step_id: 'r1', text: 'do' }))).toContain('interrupted')
    expect(renderEventFragment(ev({ type: 'error', step_id: 'r1', error: 'The model is down.' }))).toContain('role="alert"')
  })

  test('a final answer is rendered Markdown, sanitised; an interrupted one stays plain text', () => {
    const text = '# Title\n\n- a\n- b\n\n<script>alert(1)</script> [x](javascript:alert(1))\n\n```\ncode <b>\n```'
    const html = renderEventFragment(ev({ type: 'final', step_id: 'r1', text }))
    expect(html).toContain('<h1>Title</h1>')
    expect(html).toContain('<li>a</li>')
    expect(html).toContain('<pre><code>code &lt;b&gt;')
    expect(html).not.toContain('<script>')
    expect(html).not.toContain('href="javascript:')
    const cut = renderEventFragment(ev({ type: 'interrupt', step_id: 'r1', text: '# Tit' }))
    expect(cut).toContain('<div class="text"># Tit</div>')
  })

  test('a final answer longer than RENDERED_MARKDOWN_MAX_CHARS is shown as plain text, escaped', () => {
    const text = `# Title <b>\n\n${'word '.repeat(RENDERED_MARKDOWN_MAX_CHARS / 5)}`
    const html = renderEventFragment(ev({ type: 'final', step_id: 'r1', text }))
    expect(html).not.toContain('<h1>')
    expect(html).toContain('<div class="text"># Title &lt;b&gt;')
  })

  test('tool calls and results become blocks with pretty-printed JSON, whatever the call id', () => {
    const call = renderEventFragment(ev({ type: 'tool-call', step_id: 'r1', tool_call: { id: 'call "1"', name: 'add', input: { a: 1 } } }))
    const result = renderEventFragment(ev({ type: 'tool-result', step_id: 'r1', tool_result: { id: 'call "1"', result: 3 } }))
    const id = call.match(/<details class="tool" id="([^"]+)"/)![1]!
    expect(id).toMatch(/^tool-r1-[a-z0-9]+$/)
    expect(result).toContain(`hx-target="#${id}-result"`)
    expect(call).toContain('{\n  &quot;a&quot;: 1\n}')
  })

  test('text from users and models is escaped everywhere', () => {
    const events = [
      ev({ type: 'user', step_id: 'r1', text: HOSTILE }),
      ev({ type: 'partial', step_id: 'r1', delta: HOSTILE }),
      ev({ type: 'final', step_id: 'r1', text: HOSTILE }),
      ev({ type: 'error', step_id: 'r1', error: HOSTILE }),
      ev({ type: 'tool-call', step_id: 'r1', tool_call: { id: HOSTILE, name: HOSTILE, input: HOSTILE } }),
      ev({ type: 'tool-result', step_id: 'r1', tool_result: { id: HOSTILE, result: HOSTILE } }),
    ]
    for (const event of events) {
      const html = renderEventFragment(event)
      expect(html).not.toContain('<img')
      expect(html).toContain('&lt;img')
    }
  })
})

describe('transcript fold', () => {
  test('user messages and runs in order, a run accumulating its deltas until its final', () => {
    const t = foldTranscript([
      ev({ type: 'user', step_id: 'a', text: 'hi' }),
      ev({ type: 'start', step_id: 'a', step_type: 'echo' }),
      ev({ type: 'partial', step_id: 'a', delta: 'h' }),
      ev({ type: 'partial', step_id: 'a', delta: 'i' }),
      ev({ type: 'final', step_id: 'a', text: 'hi' }),
      ev({ type: 'user', step_id: 'b', text: 'more' }),
      ev({ type: 'start', step_id: 'b', step_type: 'echo' }),
      ev({ type: 'partial', step_id: 'b', delta: 'm' }),
    ])
    expect(t.entries.map((e) => (e.kind === 'user' ? `user:${e.event.text}` : `run:${e.text}:${e.state}`))).toEqual([
      'user:hi',
      'run:hi:final',
      'user:more',
      'run:m:running',
    ])
    expect(t.lastSeq).toBe(seq)
  })

  test('a running run shows the text an interrupt would keep: its own partials, cut to what one event may carry', () => {
    const t = foldTranscript([
      ev({ type: 'start', step_id: 'a', step_type: 'echo' }),
      ev({ type: 'partial', step_id: 'a', delta: 'x'.repeat(EVENT_TEXT_MAX_CHARS) }),
      ev({ type: 'partial', step_id: 'a', delta: 'over' }),
    ])
    expect(t.entries[0]).toMatchObject({ state: 'running', text: 'x'.repeat(EVENT_TEXT_MAX_CHARS) })
  })

  test('tool results attach to their call; errors keep their sentence', () => {
    const t = foldTranscript([
      ev({ type: 'start', step_id: 'a', step_type: 'x' }),
      ev({ type: 'tool-call', step_id: 'a', tool_call: { id: 'c', name: 'add', input: [1, 2] } }),
      ev({ type: 'tool-result', step_id: 'a', tool_result: { id: 'c', result: 3 } }),
      ev({ type: 'error', step_id: 'a', error: 'Upstream failed.' }),
    ])
    const run = t.entries[0]!
    expect(run).toMatchObject({
      kind: 'run',
      state: 'error',
      error: 'Upstream failed.',
      tools: [{ id: 'c', name: 'add', result: { value: 3 } }],
    })
  })

  test('a run cut before its start (closed by crash recovery) still has its entry after the question', () => {
    const t = foldTranscript([ev({ type: 'user', step_id: 'q', text: 'hello?' }), ev({ type: 'interrupt', step_id: 'q', text: '' })])
    expect(t.entries.map((e) => e.kind)).toEqual(['user', 'run'])
    expect(t.entries[1]).toMatchObject({ state: 'interrupt', text: '' })
  })

  test('a run whose start was pruned still shows what is left of it', () => {
    const t = foldTranscript([
      ev({ type: 'partial', step_id: 'z', delta: 'tail' }),
      ev({ type: 'final', step_id: 'z', text: 'whole tail' }),
    ])
    expect(t.entries).toHaveLength(1)
    expect(t.entries[0]).toMatchObject({ kind: 'run', text: 'whole tail', state: 'final' })
  })
})
