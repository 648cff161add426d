import { describe, expect, test } from 'bun:test'
import { verifyEvents } from '@ag-ui/client'
import type { AGUIEvent, BaseEvent } from '@ag-ui/core'
import { EventSchemas } from '@ag-ui/core/schemas'
import { from, lastValueFrom, toArray } from 'rxjs'
import { AguiFollower, encodeAguiGroup, type FollowedEvent } from '../../src/agui/events-to-agui.ts'
import type { StepEvent } from '../../src/events.ts'

/** A log of three runs: one with every kind of event, one interrupted, one failed; and a published `final` alone. */
function log(): FollowedEvent[] {
  const runs: [string, StepEvent[]][] = [
    [
      'run-a',
      [
        { type: 'user', text: 'Weather?' },
        { type: 'start', step_type: 'agui' },
        { type: 'agent-step', name: 'plan', phase: 'started' },
        { type: 'reasoning', delta: 'Think' },
        { type: 'reasoning', delta: 'ing.' },
        { type: 'agent-state', state: { city: 'Paris' } },
        { type: 'agent-step', name: 'plan', phase: 'finished' },
        { type: 'partial', delta: 'Let me ' },
        { type: 'partial', delta: 'look.' },
        { type: 'tool-call', tool_call: { id: 'c1', name: 'get_weather', input: { city: 'Paris' } } },
        { type: 'tool-result', tool_result: { id: 'c1', result: { temp_c: 21 } } },
        { type: 'partial', delta: ' 21 °C.' },
        { type: 'final', text: 'Let me look. 21 °C.' },
      ],
    ],
    [
      'run-b',
      [
        { type: 'user', text: 'Again' },
        { type: 'start', step_type: 'agui' },
        { type: 'partial', delta: 'Once' },
        { type: 'interrupt', text: 'Once' },
      ],
    ],
    [
      'run-c',
      [
        { type: 'user', text: 'Fail' },
        { type: 'start', step_type: 'agui' },
        { type: 'error', error: 'The agent failed.' },
      ],
    ],
    [
      'run-d',
      [
        { type: 'start', step_type: 'published' },
        { type: 'final', text: 'Published whole.' },
      ],
    ],
  ]
  let seq = 0
  return runs.flatMap(([step_id, events]) =>
    events.map((e) => ({ ...e, seq: ++seq, step_id, ts: new Date(1_700_000_000_000 + seq * 1000).toISOString() }) as FollowedEvent),
  )
}

const translate = (follower: AguiFollower, events: FollowedEvent[]) => events.flatMap((e) => follower.toAgui(e))

describe('stepstream → AG-UI (the follow stream)', () => {
  test('two user messages of one run (a published run may hold several) are two messages, with their own ids', () => {
    const follower = new AguiFollower('t')
    const ids = [1, 2].flatMap((seq) =>
      follower
        .toAgui({ type: 'user', text: `Hi ${seq}`, step_id: 'r', ts: '2026-01-01T00:00:00.000Z', seq } as FollowedEvent)
        .filter((e) => e.type === 'TEXT_MESSAGE_START')
        .map((e) => (e as { messageId: string }).messageId),
    )
    expect(new Set(ids).size).toBe(2)
  })

  test('every event validates against @ag-ui/core and the whole passes the client’s verifyEvents', async () => {
    const out = translate(new AguiFollower('thread-1'), log())
    for (const event of out) {
      const parsed = EventSchemas.safeParse(event)
      if (!parsed.success) throw new Error(`${JSON.stringify(event)}: ${parsed.error.message}`)
    }
    const verified = await lastValueFrom(verifyEvents()(from(out as BaseEvent[])).pipe(toArray()))
    expect(verified.length).toBe(out.length)
    expect(out.map((e) => e.type as string)).toEqual([
      'RUN_STARTED',
      'TEXT_MESSAGE_START',
      'TEXT_MESSAGE_CONTENT',
      'TEXT_MESSAGE_END',
      'STEP_STARTED',
      'REASONING_START',
      'REASONING_MESSAGE_START',
      'REASONING_MESSAGE_CONTENT',
      'REASONING_MESSAGE_CONTENT',
      'STATE_SNAPSHOT',
      'REASONING_MESSAGE_END',
      'REASONING_END',
      'STEP_FINISHED',
      'TEXT_MESSAGE_START',
      'TEXT_MESSAGE_CONTENT',
      'TEXT_MESSAGE_CONTENT',
      'TEXT_MESSAGE_END',
      'TOOL_CALL_START',
      'TOOL_CALL_ARGS',
      'TOOL_CALL_END',
      'TOOL_CALL_RESULT',
      'TEXT_MESSAGE_START',
      'TEXT_MESSAGE_CONTENT',
      'TEXT_MESSAGE_END',
      'RUN_FINISHED',
      'RUN_STARTED',
      'TEXT_MESSAGE_START',
      'TEXT_MESSAGE_CONTENT',
      'TEXT_MESSAGE_END',
      'TEXT_MESSAGE_START',
      'TEXT_MESSAGE_CONTENT',
      'TEXT_MESSAGE_END',
      'RUN_FINISHED',
      'RUN_STARTED',
      'TEXT_MESSAGE_START',
      'TEXT_MESSAGE_CONTENT',
      'TEXT_MESSAGE_END',
      'RUN_ERROR',
      'RUN_STARTED',
      'TEXT_MESSAGE_START',
      'TEXT_MESSAGE_CONTENT',
      'TEXT_MESSAGE_END',
      'RUN_FINISHED',
    ])
    const threads = out.filter((e) => 'threadId' in e).map((e) => (e as { threadId: string }).threadId)
    expect(new Set(threads)).toEqual(new Set(['thread-1']))
    expect(out.find((e) => e.type === 'TOOL_CALL_ARGS')).toMatchObject({ toolCallId: 'c1', delta: '{"city":"Paris"}' })
    expect(out.find((e) => e.type === 'TOOL_CALL_RESULT')).toMatchObject({ toolCallId: 'c1', content: '{"temp_c":21}' })
    expect(out.filter((e) => e.type === 'RUN_FINISHED').map((e) => (e as { outcome?: { type: string } }).outcome?.type)).toEqual([
      'success',
      'cancelled',
      'success',
    ])
    expect(out.at(-3)).toMatchObject({ type: 'TEXT_MESSAGE_CONTENT', delta: 'Published whole.' })
    expect(out[0]!.timestamp).toBe(1_700_000_001_000)
  })

  test('a follower primed up to any cursor continues exactly: no gap, no duplicate, still valid for a strict client', async () => {
    const events = log()
    const whole = translate(new AguiFollower('t'), events)
    for (let cut = 0; cut <= events.length; cut++) {
      const before = translate(new AguiFollower('t'), events.slice(0, cut))
      const resumed = new AguiFollower('t')
      for (const e of events.slice(0, cut)) resumed.prime(e)
      const after = translate(resumed, events.slice(cut))
      expect([...before, ...after] as AGUIEvent[]).toEqual(whole)
      await lastValueFrom(verifyEvents()(from([...before, ...after] as BaseEvent[])).pipe(toArray()))
    }
  })

  test('a group’s frames: data only, the id on its last message alone; an empty group sends nothing', () => {
    const group = new AguiFollower('t').toAgui(log()[0]!)
    const text = encodeAguiGroup(1, group)
    const frames = text.split('\n\n').filter(Boolean)
    expect(frames.length).toBe(4)
    expect(frames.slice(0, 3).every((f) => !f.includes('id:'))).toBe(true)
    expect(frames[3]!.startsWith('id: 1\ndata: {"type":"TEXT_MESSAGE_END"')).toBe(true)
    expect(encodeAguiGroup(2, [])).toBe('')
  })
})
