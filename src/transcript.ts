import { type FinalMetaOf, type StoredEvent, type StoredEventOf, unreachable } from './events.ts'
import { StreamedText } from './log/folds.ts'

/** How a run stands: still streaming, or ended by one of the three closing events. */
export type RunState = 'running' | 'final' | 'interrupt' | 'error'

export interface ToolView {
  id: string
  name: string
  input: unknown
  /** When the tool was called (ISO 8601); absent in a fragment rendered from a lone `tool-result`. */
  ts?: string
  result?: { value: unknown; ts?: string }
}

/** A named stage of an agent's run that began or ended (an `agent-step` event): a marker among the tool calls. */
export interface AgentStepView {
  name: string
  phase: 'started' | 'finished'
  ts: string
}

/** What a run did besides answering, in the order it happened: tool calls and an agent's stage markers. */
export type ActivityView = { kind: 'tool'; tool: ToolView } | { kind: 'agent-step'; agentStep: AgentStepView }

export interface RunView {
  kind: 'run'
  runId: string
  /** Its first event's time (ISO 8601). */
  ts: string
  /** Its `start`: when the step began, and which step it was; absent when retention removed it. */
  startedAt?: string
  stepType?: string
  /** Its closing event's time. */
  endedAt?: string
  text: string
  /** The model's visible reasoning, shown collapsed above the answer. */
  reasoning: string
  state: RunState
  error?: string
  /** What a `final` said about the model, its usage and timings. */
  meta?: FinalMetaOf
  tools: ToolView[]
  /** The run's tool calls (the same objects as `tools`) and agent stage markers, in order: the page shows them so. */
  activity: ActivityView[]
  /** The agent's latest state (the last `agent-state`), shown as a collapsible block; absent when it sent none. */
  agentState?: { value: unknown }
}

export type TranscriptEntry = { kind: 'user'; event: StoredEventOf<'user'> } | RunView

export interface Transcript {
  entries: TranscriptEntry[]
  /** The seq of the first event folded in: above 1 when retention removed the oldest events. */
  firstSeq?: number
  /** The seq of the last event folded in: the page opens its stream after it. */
  lastSeq: number
}

/** A run the fold still holds: its view, its tool calls by id (ids come from outside, so a Map), its streamed text. */
interface OpenRun {
  view: RunView
  tools: Map<string, ToolView>
  streamed: StreamedText
}

/**
 * Folds a session's log into what the page shows, and what an export writes (src/export/chat-export.ts): user
 * messages and one entry per run, in order.
 */
export function foldTranscript(events: Iterable<StoredEvent>): Transcript {
  const fold = new TranscriptFold()
  for (const event of events) fold.add(event)
  return { entries: fold.takeSettled(true), firstSeq: fold.firstSeq, lastSeq: fold.lastSeq }
}

/**
 * The transcript fold, an event at a time, so that an export can write out the entries that are done while it reads
 * the rest of a long log, and hold only those that are not.
 */
export class TranscriptFold {
  #entries: TranscriptEntry[] = []
  /** The runs not yet taken, by id (ids come from outside, so a Map). */
  readonly #runs = new Map<string, OpenRun>()
  /** The seq of the first event folded in. */
  firstSeq: number | undefined
  /** The seq of the last event folded in. */
  lastSeq = 0

  #openRunOf(event: StoredEvent): OpenRun {
    let open = this.#runs.get(event.step_id)
    if (!open) {
      // A run whose `start` retention dropped still gets its entry, from whatever of it is left.
      const view: RunView = {
        kind: 'run',
        runId: event.step_id,
        ts: event.ts,
        text: '',
        reasoning: '',
        state: 'running',
        tools: [],
        activity: [],
      }
      open = { view, tools: new Map(), streamed: new StreamedText(event.step_id) }
      this.#runs.set(event.step_id, open)
      this.#entries.push(view)
    }
    return open
  }

  #runOf(event: StoredEvent): RunView {
    return this.#openRunOf(event).view
  }

  /**
   * The entries off the front that nothing more can change: user messages and ended runs (after its closing
   * event nothing more of a run is stored), or every entry with `all`, at the end of the log.
   */
  takeSettled(all = false): TranscriptEntry[] {
    const settled = (entry: TranscriptEntry) => all || entry.kind === 'user' || entry.state !== 'running'
    let n = 0
    while (n < this.#entries.length && settled(this.#entries[n]!)) n++
    const taken = this.#entries.splice(0, n)
    for (const entry of taken) if (entry.kind === 'run') this.#runs.delete(entry.runId)
    return taken
  }

  add(event: StoredEvent): void {
    this.firstSeq ??= event.seq
    this.lastSeq = event.seq
    switch (event.type) {
      case 'user':
        // A run's entry follows the message that started it, as the stream's `user` fragment places it.
        this.#entries.push({ kind: 'user', event })
        this.#runOf(event)
        break
      case 'start':
        Object.assign(this.#runOf(event), { startedAt: event.ts, stepType: event.step_type })
        break
      case 'partial': {
        // The text streamed so far, as an `interrupt` would hold it (folds.ts), so a page shows what a stop keeps.
        const open = this.#openRunOf(event)
        open.streamed.add(event)
        open.view.text = open.streamed.text
        break
      }
      case 'reasoning':
        this.#runOf(event).reasoning += event.delta
        break
      case 'tool-call': {
        const { view, tools } = this.#openRunOf(event)
        const tool = { ...event.tool_call, ts: event.ts }
        view.tools.push(tool)
        view.activity.push({ kind: 'tool', tool })
        // A result goes to the first call of its id, as a search from the front would find it.
        if (!tools.has(tool.id)) tools.set(tool.id, tool)
        break
      }
      case 'agent-step':
        this.#runOf(event).activity.push({ kind: 'agent-step', agentStep: { name: event.name, phase: event.phase, ts: event.ts } })
        break
      case 'agent-state':
        this.#runOf(event).agentState = { value: event.state }
        break
      case 'tool-result': {
        const tool = this.#openRunOf(event).tools.get(event.tool_result.id)
        if (tool) tool.result = { value: event.tool_result.result, ts: event.ts }
        break
      }
      case 'final':
        Object.assign(this.#runOf(event), { text: event.text, state: event.type, meta: event.meta, endedAt: event.ts })
        break
      case 'interrupt':
        Object.assign(this.#runOf(event), { text: event.text, state: event.type, endedAt: event.ts })
        break
      case 'error': {
        // An error that says what had streamed holds it whole; otherwise the partials folded so far stay.
        const run = this.#runOf(event)
        Object.assign(run, { state: 'error', error: event.error, text: event.text ?? run.text, endedAt: event.ts })
        break
      }
      default:
        unreachable(event)
    }
  }
}
