import { describe, expect, test } from 'bun:test'
import type { StepEvent, StoredEvent } from '../../src/events.ts'
import { validateNewEvent } from '../../src/events.ts'
import { conversationOf } from '../../src/steps/conversation.ts'
import { toChatMessages } from '../../src/steps/openai-messages.ts'
import { foldTranscript } from '../../src/transcript.ts'
import { renderEventFragment } from '../../templates/event-fragments.tsx'
import { RunMessage } from '../../templates/messages.tsx'
import { toHtml } from '../../templates/to-html.ts'

let seq = 0
const ev = (event: StepEvent & { step_id: string }): StoredEvent =>
  ({ ts: '2026-01-02T03:04:05.000Z', ...event, seq: ++seq, session_id: 's' }) as StoredEvent
const HOSTILE = '<img src=x onerror=alert(1)>'
const meta = { model: 'llama3.2', usage: { prompt_tokens: 12, completion_tokens: 34, total_tokens: 46 }, ttft_ms: 250, duration_ms: 1500 }

describe('reasoning, final meta and an error that keeps its text', () => {
  test('the schemas take reasoning {delta}, final {meta} and error {text}, and refuse meta with unknown fields', () => {
    expect(validateNewEvent({ type: 'reasoning', step_id: 'r', ts: 't', delta: 'hm' })).toBeUndefined()
    expect(validateNewEvent({ type: 'final', step_id: 'r', ts: 't', text: 'a', meta })).toBeUndefined()
    expect(validateNewEvent({ type: 'error', step_id: 'r', ts: 't', error: 'Cut.', text: 'Hal' })).toBeUndefined()
    expect(validateNewEvent({ type: 'final', step_id: 'r', ts: 't', text: 'a', meta: { cost: 3 } })?.detail).toMatch(/final event/)
    expect(validateNewEvent({ type: 'final', step_id: 'r', ts: 't', text: 'a', meta: { usage: { prompt_tokens: -1 } } })?.detail).toMatch(
      /final event/,
    )
  })

  test('a reasoning delta is appended, escaped, into the run’s collapsed block; the closing event says "Thought"', () => {
    expect(renderEventFragment(ev({ type: 'reasoning', step_id: 'r1', delta: HOSTILE }))).toBe(
      '<hx-partial hx-target="#step-r1-reasoning .reasoning-text" hx-swap="beforeend"><span>&lt;img src=x onerror=alert(1)&gt;</span></hx-partial>',
    )
    const user = renderEventFragment(ev({ type: 'user', step_id: 'r1', text: 'hi' }))
    expect(user).toContain('<details class="reasoning" id="step-r1-reasoning"><summary id="step-r1-reasoning-summary">Thinking…</summary>')
    for (const closing of [
      ev({ type: 'final', step_id: 'r1', text: 'ok' }),
      ev({ type: 'interrupt', step_id: 'r1', text: '' }),
      ev({ type: 'error', step_id: 'r1', error: 'Down.' }),
    ]) {
      expect(renderEventFragment(closing)).toContain(
        '<hx-partial hx-target="#step-r1-reasoning-summary" hx-swap="outerHTML"><summary id="step-r1-reasoning-summary">Thought</summary></hx-partial>',
      )
    }
  })

  test('a final’s meta is one discreet line under the answer: model, tokens, first token, duration', () => {
    const html = renderEventFragment(ev({ type: 'final', step_id: 'r1', text: 'ok', meta }))
    expect(html).toContain('<p class="run-meta">llama3.2 · 12 in · 34 out tokens · first token 0.3 s · 1.5 s in all</p>')
    expect(renderEventFragment(ev({ type: 'final', step_id: 'r1', text: 'ok' }))).not.toContain('run-meta')
    const hostile = renderEventFragment(ev({ type: 'final', step_id: 'r1', text: 'ok', meta: { model: HOSTILE } }))
    expect(hostile).toContain('&lt;img src=x')
  })

  test('an error with text shows what had streamed above its sentence', () => {
    const html = renderEventFragment(ev({ type: 'error', step_id: 'r1', error: 'Cut off.', text: 'Half an ans' }))
    expect(html).toContain('<div class="text">Half an ans</div>')
    expect(html).toContain('Cut off.')
  })

  test('the transcript folds reasoning and meta, and a reloaded page renders them as the stream did', () => {
    const events = [
      ev({ type: 'user', step_id: 'r1', text: 'hi' }),
      ev({ type: 'reasoning', step_id: 'r1', delta: 'Let me ' }),
      ev({ type: 'reasoning', step_id: 'r1', delta: 'think.' }),
      ev({ type: 'partial', step_id: 'r1', delta: 'Hello' }),
      ev({ type: 'final', step_id: 'r1', text: 'Hello', meta }),
      ev({ type: 'user', step_id: 'r2', text: 'more' }),
      ev({ type: 'partial', step_id: 'r2', delta: 'Par' }),
      ev({ type: 'error', step_id: 'r2', error: 'Cut.' }),
    ]
    const [, run1, , run2] = foldTranscript(events).entries
    expect(run1).toMatchObject({ reasoning: 'Let me think.', text: 'Hello', state: 'final', meta })
    expect(run2).toMatchObject({ text: 'Par', state: 'error', error: 'Cut.', reasoning: '' })
    const html = toHtml(RunMessage({ run: run1 as never }) as JSX.Element)
    expect(html).toContain(
      '<summary id="step-r1-reasoning-summary">Thought</summary><div class="reasoning-text"><span>Let me think.</span></div>',
    )
    expect(html).toContain('class="run-meta"')
  })

  test('reasoning is kept out of the conversation the model sees next', () => {
    const conversation = conversationOf([
      ev({ type: 'user', step_id: 'r1', text: 'hi' }),
      ev({ type: 'reasoning', step_id: 'r1', delta: 'secret thoughts' }),
      ev({ type: 'final', step_id: 'r1', text: 'Hello' }),
    ])
    expect(JSON.stringify(conversation)).not.toContain('secret')
  })
})

describe('the messages sent to the model', () => {
  test('the system prompt is the configured one; calls without results (a cancelled run) and orphan results are left out', () => {
    const messages = toChatMessages(
      [
        { role: 'system', content: 'default' },
        { role: 'user', content: 'go' },
        {
          role: 'assistant',
          content: '',
          tool_calls: [
            { id: 'a', name: 'calculator', input: { expression: '1+1' } },
            { id: 'b', name: 'calculator', input: '{"expr' },
          ],
        },
        { role: 'tool', tool_call_id: 'a', result: { result: 2 } },
        { role: 'tool', tool_call_id: 'zzz', result: 'orphan' },
        { role: 'assistant', content: '', tool_calls: [{ id: 'c', name: 'current_time', input: {} }] },
        { role: 'assistant', content: 'Two.' },
      ],
      'Be brief.',
    )
    expect(messages).toEqual([
      { role: 'system', content: 'Be brief.' },
      { role: 'user', content: 'go' },
      {
        role: 'assistant',
        content: null,
        tool_calls: [{ id: 'a', type: 'function', function: { name: 'calculator', arguments: '{"expression":"1+1"}' } }],
      },
      { role: 'tool', tool_call_id: 'a', content: '{"result":2}' },
      { role: 'assistant', content: 'Two.' },
    ])
  })
})
