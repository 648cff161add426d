import { expect, test } from 'bun:test'
import type { StoredEvent } from '../../src/events.ts'
import { foldTranscript, type RunView } from '../../src/transcript.ts'

const SEARCHES = ['find', 'findIndex', 'findLast', 'findLastIndex', 'filter', 'some', 'every'] as const

/**
 * How many times `run` calls back an array search (`find`, `filter`, …): a fold that looks each result's call up by
 * searching the run's calls makes calls × results of them. Counted by wrapping the searches while `run` runs; it is
 * synchronous, so nothing else runs meanwhile.
 */
function searchCallbacks<T>(run: () => T): { value: T; callbacks: number } {
  const originals = SEARCHES.map((name) => [name, Array.prototype[name]] as const)
  let callbacks = 0
  const proto = Array.prototype as unknown as Record<string, (this: unknown[], ...args: unknown[]) => unknown>
  for (const [name, original] of originals) {
    proto[name] = function (this: unknown[], callback: unknown, ...rest: unknown[]) {
      const counted = (...args: unknown[]) => {
        callbacks++
        return (callback as (...a: unknown[]) => unknown)(...args)
      }
      return (original as (...a: unknown[]) => unknown).call(this, counted, ...rest)
    }
  }
  try {
    return { value: run(), callbacks }
  } finally {
    for (const [name, original] of originals) proto[name] = original as never
  }
}

test('the transcript fold finds each tool result its call without searching the run: linear in the calls', () => {
  const calls = 2000
  const ts = '2026-03-04T09:05:01.000Z'
  const base = { session_id: 's', step_id: 'r', ts }
  const events: StoredEvent[] = [{ ...base, seq: 1, type: 'start', step_type: 'echo' } as StoredEvent]
  for (let n = 0; n < calls; n++) {
    events.push({ ...base, seq: events.length + 1, type: 'tool-call', tool_call: { id: `c${n}`, name: 't', input: n } } as StoredEvent)
  }
  // Results in the reverse order: a search from the front walks the most for each.
  for (let n = calls - 1; n >= 0; n--) {
    events.push({ ...base, seq: events.length + 1, type: 'tool-result', tool_result: { id: `c${n}`, result: n } } as StoredEvent)
  }
  const { value, callbacks } = searchCallbacks(() => foldTranscript(events))
  const run = value.entries[0] as RunView
  expect(run.tools.map((tool) => tool.result?.value)).toEqual(run.tools.map((_, n) => n))
  // A search per result would call back ~calls²/2 = 2,000,000 times.
  expect(callbacks).toBeLessThanOrEqual(calls)
})

test('a result goes to the first call of its id, and an id like __proto__ is only an id', () => {
  const base = { session_id: 's', step_id: 'r', ts: '2026-03-04T09:05:01.000Z' }
  const call = (seq: number, id: string, input: unknown) =>
    ({ ...base, seq, type: 'tool-call', tool_call: { id, name: 't', input } }) as StoredEvent
  const result = (seq: number, id: string, value: unknown) =>
    ({ ...base, seq, type: 'tool-result', tool_result: { id, result: value } }) as StoredEvent
  const { entries } = foldTranscript([
    call(1, '__proto__', 1),
    call(2, '__proto__', 2),
    call(3, 'constructor', 3),
    result(4, '__proto__', 'a'),
    result(5, 'constructor', 'b'),
    result(6, 'toString', 'c'),
  ])
  const run = entries[0] as RunView
  expect(run.tools.map((tool) => tool.result?.value)).toEqual(['a', undefined, 'b'])
})
