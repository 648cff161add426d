import { type StoredEvent, unreachable } from '../events.ts'

/** How a run ended, named after its closing event; `running` when it had not ended at the time of the export. */
export type ExportedRunStatus = 'running' | 'final' | 'interrupt' | 'error'

export interface ExportedToolCall {
  id: string
  name: string
  input: unknown
  /** When the model asked for the tool (ISO 8601). */
  ts: string
  /** The tool's answer; absent while it had not answered. */
  result?: { ts: string; value: unknown }
}

export interface ExportedUserMessage {
  role: 'user'
  ts: string
  text: string
}

export interface ExportedRun {
  role: 'assistant'
  /** The run's `step_id`. */
  run_id: string
  /** When the run began (its `start`, else its first event). */
  ts: string
  /** The `step_type` of its `start` (`echo`, `openai`, …), when the log still holds it. */
  step_type?: string
  status: ExportedRunStatus
  /** When its closing event was written. */
  ended_at?: string
  /** The model's visible reasoning, shown collapsed; empty when it had none. */
  reasoning: string
  tool_calls: ExportedToolCall[]
  /** The answer: a `final`'s or `interrupt`'s text, else what had streamed (before an `error`, or still running). */
  text: string
  /** The sentence of an `error`. */
  error?: string
}

export type ExportedEntry = ExportedUserMessage | ExportedRun

/**
 * A whole conversation as `GET …/transcript.json` answers it (and `transcript.md` renders it). It never holds the
 * session's ids: an export made through a read-only link must not carry the owner id, and one format serves both.
 */
export interface ChatExport {
  format: 'stepstream.transcript.v1'
  created_at: string
  /** The step the session runs, by name. */
  step: string
  /** True when retention had removed the oldest events: the transcript then begins part-way. */
  truncated: boolean
  entries: ExportedEntry[]
}

/** What of the session an export states besides its events. */
export interface ExportedSession {
  created_at: string
  step: { name: string }
}

/** Folds a session's log into its export, entries in the order they happened. Pure. */
export function exportChat(session: ExportedSession, events: Iterable<StoredEvent>): ChatExport {
  const entries: ExportedEntry[] = []
  const runs = new Map<string, ExportedRun>()
  let firstSeq: number | undefined
  const runOf = (event: StoredEvent): ExportedRun => {
    let run = runs.get(event.step_id)
    if (!run) {
      // Every key up front, in the order the JSON lists them (keys left undefined are not written).
      run = {
        role: 'assistant',
        run_id: event.step_id,
        ts: event.ts,
        step_type: undefined,
        status: 'running',
        ended_at: undefined,
        reasoning: '',
        tool_calls: [],
        text: '',
        error: undefined,
      }
      runs.set(event.step_id, run)
      entries.push(run)
    }
    return run
  }
  for (const event of events) {
    firstSeq ??= event.seq
    switch (event.type) {
      case 'user':
        entries.push({ role: 'user', ts: event.ts, text: event.text })
        // The answer's entry follows the message that asked for it; its time is set by its `start`.
        runOf(event)
        break
      case 'start':
        Object.assign(runOf(event), { ts: event.ts, step_type: event.step_type })
        break
      case 'partial':
        runOf(event).text += event.delta
        break
      case 'reasoning':
        runOf(event).reasoning += event.delta
        break
      case 'tool-call':
        runOf(event).tool_calls.push({ ...event.tool_call, ts: event.ts })
        break
      case 'tool-result': {
        const call = runOf(event).tool_calls.find((c) => c.id === event.tool_result.id)
        if (call) call.result = { ts: event.ts, value: event.tool_result.result }
        break
      }
      case 'final':
      case 'interrupt':
        Object.assign(runOf(event), { status: event.type, ended_at: event.ts, text: event.text })
        break
      case 'error': {
        // An error may carry the text streamed before it (a cut answer): it is what the reader saw.
        const run = runOf(event)
        Object.assign(run, { status: 'error', ended_at: event.ts, error: event.error, text: event.text ?? run.text })
        break
      }
      default:
        unreachable(event)
    }
  }
  return {
    format: 'stepstream.transcript.v1',
    created_at: session.created_at,
    step: session.step.name,
    truncated: firstSeq !== undefined && firstSeq > 1,
    entries,
  }
}

/**
 * The download's file name: `stepstream-chat-2026-01-31-0905.md`, from when the chat was created (UTC). Never an
 * id, so a file shared onwards names no capability.
 */
export function exportFileName(createdAt: string, extension: 'md' | 'json'): string {
  const when = /^(\d{4}-\d{2}-\d{2})T(\d{2}):(\d{2})/.exec(createdAt)
  return when ? `stepstream-chat-${when[1]}-${when[2]}${when[3]}.${extension}` : `stepstream-chat.${extension}`
}
