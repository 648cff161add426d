import type { StoredEvent } from '../events.ts'
import { foldTranscript, type RunView, type TranscriptEntry } from '../transcript.ts'

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
  /** An agent's named stages (AG-UI STEP_STARTED/FINISHED), in order; absent when it marked none. */
  agent_steps?: ExportedAgentStep[]
  /** The agent's state as its last snapshot or patch left it; absent when it sent none. */
  agent_state?: unknown
  /** The answer: a `final`'s or `interrupt`'s text, else what had streamed (before an `error`, or still running). */
  text: string
  /** The sentence of an `error`. */
  error?: string
}

export interface ExportedAgentStep {
  name: string
  phase: 'started' | 'finished'
  ts: string
  /** How many of the run's `tool_calls` came before it: where it stands among them. */
  tool_calls_before: number
}

export type ExportedEntry = ExportedUserMessage | ExportedRun

/**
 * A whole conversation as `GET …/transcript.json` answers it (and `transcript.md` renders it). It never holds the
 * session's ids: an export made through a read-only link must not carry the session id, and one format serves both.
 */
export interface ChatExport {
  format: 'stepstream.transcript.v1'
  /** The chat's title, as its list and tab show it; '' while it has no message. */
  title: string
  created_at: string
  /** The step the session runs, by name. */
  step: string
  /** True when retention had removed the oldest events: the transcript then begins part-way. */
  truncated: boolean
  entries: ExportedEntry[]
}

/** What of the session an export states besides its events. */
export interface ExportedSession {
  title: string
  created_at: string
  step: { name: string }
}

/** What an export says before its entries. */
export type ChatExportHead = Omit<ChatExport, 'entries'>

/** The head of a session's export, once the seq of the first event it holds is known (undefined: none). Pure. */
export function exportHead(session: ExportedSession, firstSeq: number | undefined): ChatExportHead {
  return {
    format: 'stepstream.transcript.v1',
    title: session.title,
    created_at: session.created_at,
    step: session.step.name,
    truncated: firstSeq !== undefined && firstSeq > 1,
  }
}

/** One entry of the transcript as the export writes it. Pure. */
export const exportedEntry = (entry: TranscriptEntry): ExportedEntry =>
  entry.kind === 'user' ? { role: 'user', ts: entry.event.ts, text: entry.event.text } : exportedRun(entry)

/** A session's log as its export, entries in the order they happened: the page's own fold, written out. Pure. */
export function exportChat(session: ExportedSession, events: Iterable<StoredEvent>): ChatExport {
  const { entries, firstSeq } = foldTranscript(events)
  return { ...exportHead(session, firstSeq), entries: entries.map(exportedEntry) }
}

/** One run, its keys in the order the JSON lists them (keys left undefined are not written). */
function exportedRun(run: RunView): ExportedRun {
  let calls = 0
  const agentSteps: ExportedAgentStep[] = []
  for (const item of run.activity) {
    if (item.kind === 'tool') calls++
    else agentSteps.push({ ...item.agentStep, tool_calls_before: calls })
  }
  return {
    role: 'assistant',
    run_id: run.runId,
    // When the step began; its first event's time when retention removed its `start`.
    ts: run.startedAt ?? run.ts,
    step_type: run.stepType,
    status: run.state,
    ended_at: run.endedAt,
    reasoning: run.reasoning,
    tool_calls: run.tools.map(({ id, name, input, ts, result }) => ({
      id,
      name,
      input,
      ts: ts ?? run.ts,
      ...(result && { result: { ts: result.ts ?? run.ts, value: result.value } }),
    })),
    agent_steps: agentSteps.length > 0 ? agentSteps : undefined,
    agent_state: run.agentState?.value,
    text: run.text,
    error: run.error,
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
