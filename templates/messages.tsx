/** @jsxImportSource @kitajs/html */
import { prettyJson } from '../src/bounded-json.ts'
import type { FinalMetaOf, StoredEventOf } from '../src/events.ts'
import type { AgentStepView, RunState, RunView, ToolView } from '../src/transcript.ts'
import { renderMarkdown } from './markdown.ts'
import { RENDERED_MARKDOWN_MAX_CHARS } from '../src/limits.ts'
import type { VersionsView } from '../src/http/versions.ts'

/** Element ids: a run's message is `step-<step_id>`, so every later event of the run can find it. */
export const ids = {
  run: (runId: string) => `step-${runId}`,
  runText: (runId: string) => `step-${runId}-text`,
  runTools: (runId: string) => `step-${runId}-tools`,
  runReasoning: (runId: string) => `step-${runId}-reasoning`,
  reasoningSummary: (runId: string) => `step-${runId}-reasoning-summary`,
  // Tool call ids come from a model: hash them into something that is always a valid id and CSS selector.
  tool: (runId: string, callId: string) => `tool-${runId}-${Bun.hash(callId).toString(36)}`,
  toolResult: (runId: string, callId: string) => `${ids.tool(runId, callId)}-result`,
  agentState: (runId: string) => `step-${runId}-agent-state`,
  agentStateJson: (runId: string) => `step-${runId}-agent-state-json`,
}

const STATE_LABEL: Record<RunState, string> = {
  running: 'streaming…',
  final: '',
  interrupt: 'interrupted',
  error: 'failed',
}

export function Time({ ts }: { ts: string }) {
  return (
    <time datetime={ts} safe>
      {ts.slice(11, 16)}
    </time>
  )
}

/** A message's footer: when it was written, and a button that copies its text (public/app.js does the copying). */
function MessageFooter({ ts }: { ts: string }) {
  return (
    <footer>
      <Time ts={ts} />
      <button type="button" class="copy" aria-label="Copy this message">
        Copy
      </button>
    </footer>
  )
}

/**
 * A user's message; on its owner's page, with the versions of it that editing and regenerating made ("‹ 2/3 ›"). The
 * stream's fragment has none: one fragment serves every reader of the chat, and a message just sent has one version.
 */
export function UserMessage({ event, versions }: { event: StoredEventOf<'user'>; versions?: VersionsView }) {
  return (
    <article class="msg user" id={`msg-${event.seq}`} data-seq={String(event.seq)} aria-label="You">
      <div class="text" safe>
        {event.text}
      </div>
      <MessageFooter ts={event.ts} />
      {versions ? <Versions versions={versions} /> : ''}
    </article>
  )
}

/** Links to the message's previous and next versions (branches of the chat), and which one this page shows. */
function Versions({ versions }: { versions: VersionsView }) {
  const label = `Version ${versions.index} of ${versions.total}`
  return (
    <nav class="versions" aria-label="Versions of this message">
      {versions.previous ? (
        <a href={versions.previous} rel="prev" aria-label="Previous version">
          ‹
        </a>
      ) : (
        <span aria-hidden="true">‹</span>
      )}
      <span class="version-index" title={label}>
        <span aria-hidden="true" safe>{`${versions.index}/${versions.total}`}</span>
        <span class="visually-hidden" safe>
          {label}
        </span>
      </span>
      {versions.next ? (
        <a href={versions.next} rel="next" aria-label="Next version">
          ›
        </a>
      ) : (
        <span aria-hidden="true">›</span>
      )}
    </nav>
  )
}

/**
 * While streaming, and when cut short, an answer is plain text; a finished one is rendered Markdown, unless it is
 * longer than RENDERED_MARKDOWN_MAX_CHARS: rendering is linear but not cheap, and every view of the chat pays it.
 */
function AnswerBody({ text, state }: { text: string; state: RunState }) {
  if (state !== 'final' || text.length > RENDERED_MARKDOWN_MAX_CHARS) {
    return (
      <div class="text" safe>
        {text}
      </div>
    )
  }
  const safeMarkdown = renderMarkdown(text)
  return <div class="text markdown">{safeMarkdown}</div>
}

const seconds = (ms: number) => `${(ms / 1000).toFixed(ms < 10_000 ? 1 : 0)} s`

/** The discreet line under a finished answer: model, tokens in and out, time to first token, duration. */
export function metaLine(meta: FinalMetaOf): string {
  const parts: string[] = []
  if (meta.model) parts.push(meta.model)
  const { prompt_tokens: input, completion_tokens: output } = meta.usage ?? {}
  if (input !== undefined || output !== undefined) parts.push(`${input ?? '?'} in · ${output ?? '?'} out tokens`)
  if (meta.ttft_ms !== undefined) parts.push(`first token ${seconds(meta.ttft_ms)}`)
  if (meta.duration_ms !== undefined) parts.push(`${seconds(meta.duration_ms)} in all`)
  return parts.join(' · ')
}

/** A run's answer text and its state line; `final`, `interrupt` and `error` replace it whole. */
export function RunText({ run }: { run: Pick<RunView, 'runId' | 'text' | 'state' | 'error' | 'meta'> }) {
  const meta = run.meta ? metaLine(run.meta) : ''
  return (
    <div class={`answer ${run.state}`} id={ids.runText(run.runId)} data-state={run.state}>
      <AnswerBody text={run.text} state={run.state} />
      {meta ? (
        <p class="run-meta" safe>
          {meta}
        </p>
      ) : (
        ''
      )}
      {run.error ? (
        <p class="run-error" role="alert" safe>
          {run.error}
        </p>
      ) : (
        ''
      )}
      {STATE_LABEL[run.state] ? (
        <p class="run-state" safe>
          {STATE_LABEL[run.state]}
        </p>
      ) : (
        ''
      )}
    </div>
  )
}

/** A tool's input or result, or an agent's state: data from outside, printed within the page's budget of bytes and depth. */
const pretty = (value: unknown) => prettyJson(value).text

export function ToolResult({ runId, tool }: { runId: string; tool: ToolView }) {
  return (
    <div class="tool-result" id={ids.toolResult(runId, tool.id)}>
      {tool.result ? (
        <>
          <p class="tool-label">result</p>
          <pre safe>{pretty(tool.result.value)}</pre>
        </>
      ) : (
        <p class="pending">waiting for the result…</p>
      )}
    </div>
  )
}

export function ToolBlock({ runId, tool }: { runId: string; tool: ToolView }) {
  return (
    <details class="tool" id={ids.tool(runId, tool.id)}>
      <summary>
        tool call <code safe>{tool.name}</code>
      </summary>
      <p class="tool-label">input</p>
      <pre safe>{pretty(tool.input)}</pre>
      <ToolResult runId={runId} tool={tool} />
    </details>
  )
}

/** A marker for a named stage of an agent's run (AG-UI's STEP_STARTED / STEP_FINISHED), among its tool calls. */
export function AgentStep({ step }: { step: AgentStepView }) {
  return (
    <p class={`agent-step ${step.phase}`}>
      <Time ts={step.ts} /> step <code safe>{step.name}</code> <span>{step.phase}</span>
    </p>
  )
}

/**
 * The agent's latest state, pretty-printed JSON; an `agent-state` fragment replaces only it, so the block stays open
 * or closed as the reader left it.
 */
export function AgentStateJson({ runId, state }: { runId: string; state: { value: unknown } | undefined }) {
  const json = state ? pretty(state.value) : ''
  return (
    <pre id={ids.agentStateJson(runId)} safe>
      {json}
    </pre>
  )
}

/**
 * The agent's state as a collapsible block. Every run has the element, so `agent-state` events always have a target;
 * the stylesheet hides it while it holds nothing.
 */
export function AgentState({ run }: { run: Pick<RunView, 'runId' | 'agentState'> }) {
  return (
    <details class="agent-state" id={ids.agentState(run.runId)}>
      <summary>agent state</summary>
      <AgentStateJson runId={run.runId} state={run.agentState} />
    </details>
  )
}

/** Says whether the model is still reasoning; a run's closing fragment replaces it with its finished form. */
export function ReasoningSummary({ runId, running }: { runId: string; running: boolean }) {
  return <summary id={ids.reasoningSummary(runId)}>{running ? 'Thinking…' : 'Thought'}</summary>
}

/**
 * The model's visible reasoning, collapsed above the answer. Every run has the element, so `reasoning` deltas always
 * have a target; the stylesheet hides it while it holds no text.
 */
export function Reasoning({ run }: { run: Pick<RunView, 'runId' | 'reasoning' | 'state'> }) {
  return (
    <details class="reasoning" id={ids.runReasoning(run.runId)}>
      <ReasoningSummary runId={run.runId} running={run.state === 'running'} />
      <div class="reasoning-text">{run.reasoning ? <span safe>{run.reasoning}</span> : ''}</div>
    </details>
  )
}

export function RunMessage({ run }: { run: RunView }) {
  return (
    <article class="msg assistant" id={ids.run(run.runId)} aria-label="Assistant">
      <Reasoning run={run} />
      <div class="tools" id={ids.runTools(run.runId)}>
        {run.activity.map((item) =>
          item.kind === 'tool' ? <ToolBlock runId={run.runId} tool={item.tool} /> : <AgentStep step={item.agentStep} />,
        )}
      </div>
      <AgentState run={run} />
      <RunText run={run} />
      <MessageFooter ts={run.ts} />
    </article>
  )
}

/** Tells the page whether a run is active; the composer's Send and Cancel buttons follow it. */
export function RunStatus({ running }: { running: boolean }) {
  return <div id="run-status" data-state={running ? 'running' : 'idle'} hidden />
}
