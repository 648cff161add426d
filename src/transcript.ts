import { type FinalMetaOf, type StoredEvent, type StoredEventOf, unreachable } from './events.ts'

/** How a run stands: still streaming, or ended by one of the three closing events. */
export type RunState = 'running' | 'final' | 'interrupt' | 'error'

export interface ToolView {
  id: string
  name: string
  input: unknown
  result?: { value: unknown }
}

export interface RunView {
  kind: 'run'
  stepId: string
  ts: string
  text: string
  /** The model's visible reasoning, shown collapsed above the answer. */
  reasoning: string
  state: RunState
  error?: string
  /** What a `final` said about the model, its usage and timings. */
  meta?: FinalMetaOf
  tools: ToolView[]
}

export type TranscriptEntry = { kind: 'user'; event: StoredEventOf<'user'> } | RunView

export interface Transcript {
  entries: TranscriptEntry[]
  /** The seq of the last event folded in: the page opens its stream after it. */
  lastSeq: number
}

/** Folds a session's log into what the page shows: user messages and one entry per run, in order. */
export function foldTranscript(events: Iterable<StoredEvent>): Transcript {
  const entries: TranscriptEntry[] = []
  const runs = new Map<string, RunView>()
  let lastSeq = 0
  const runOf = (event: StoredEvent): RunView => {
    let run = runs.get(event.step_id)
    if (!run) {
      // A run whose `start` retention dropped still gets its entry, from whatever of it is left.
      run = { kind: 'run', stepId: event.step_id, ts: event.ts, text: '', reasoning: '', state: 'running', tools: [] }
      runs.set(event.step_id, run)
      entries.push(run)
    }
    return run
  }
  for (const event of events) {
    lastSeq = event.seq
    switch (event.type) {
      case 'user':
        // A run's entry follows the message that started it, as the stream's `user` fragment places it.
        entries.push({ kind: 'user', event })
        runOf(event)
        break
      case 'start':
        runOf(event)
        break
      case 'partial':
        runOf(event).text += event.delta
        break
      case 'reasoning':
        runOf(event).reasoning += event.delta
        break
      case 'tool-call':
        runOf(event).tools.push({ ...event.tool_call })
        break
      case 'tool-result': {
        const tool = runOf(event).tools.find((t) => t.id === event.tool_result.id)
        if (tool) tool.result = { value: event.tool_result.result }
        break
      }
      case 'final':
        Object.assign(runOf(event), { text: event.text, state: event.type, meta: event.meta })
        break
      case 'interrupt':
        Object.assign(runOf(event), { text: event.text, state: event.type })
        break
      case 'error': {
        // An error that says what had streamed holds it whole; otherwise the partials folded so far stay.
        const run = runOf(event)
        Object.assign(run, { state: 'error', error: event.error, text: event.text ?? run.text })
        break
      }
      default:
        unreachable(event)
    }
  }
  return { entries, lastSeq }
}
