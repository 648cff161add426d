/** @jsxImportSource @kitajs/html */
import { type StoredEvent, type StoredEventOf, unreachable } from '../src/events.ts'
import { toHtml } from './to-html.ts'
import {
  AgentStateJson,
  AgentStep,
  ReasoningSummary,
  RunMessage,
  RunStatus,
  RunText,
  ToolBlock,
  ToolResult,
  UserMessage,
  ids,
} from './messages.tsx'

/**
 * The HTML stream's fragment for each event type. The page's stream element appends what a fragment holds at its
 * top level; `<hx-partial>` children go to their own targets (the run's text, the run status, a tool block).
 * `partial` carries only its delta: never the whole completion again.
 */
function Partial({ target, swap, children }: { target: string; swap: 'beforeend' | 'outerHTML'; children: JSX.Element }) {
  return (
    <hx-partial hx-target={`#${target}`} hx-swap={swap}>
      {children}
    </hx-partial>
  )
}

function finished(event: StoredEventOf<'final' | 'interrupt' | 'error'>) {
  const run =
    event.type === 'error'
      ? { runId: event.step_id, text: event.text ?? '', state: event.type, error: event.error }
      : { runId: event.step_id, text: event.text, state: event.type, meta: event.type === 'final' ? event.meta : undefined }
  return (
    <>
      <Partial target={ids.runText(event.step_id)} swap="outerHTML">
        <RunText run={run} />
      </Partial>
      <Partial target={ids.reasoningSummary(event.step_id)} swap="outerHTML">
        <ReasoningSummary runId={event.step_id} running={false} />
      </Partial>
      <Partial target="run-status" swap="outerHTML">
        <RunStatus running={false} />
      </Partial>
    </>
  )
}

export function renderEventFragment(event: StoredEvent): string {
  return toHtml(fragment(event))
}

function fragment(event: StoredEvent): JSX.Element {
  switch (event.type) {
    case 'user':
      // The answer's bubble appears with the question: every later event of the run (even an `interrupt` written
      // by crash recovery before any `start`) then has an element to land in.
      return (
        <>
          <UserMessage event={event} />
          <RunMessage
            run={{ kind: 'run', runId: event.step_id, ts: event.ts, text: '', reasoning: '', state: 'running', tools: [], activity: [] }}
          />
          <Partial target="run-status" swap="outerHTML">
            <RunStatus running />
          </Partial>
        </>
      )
    case 'start':
      return (
        <Partial target="run-status" swap="outerHTML">
          <RunStatus running />
        </Partial>
      )
    case 'partial':
      // A span per delta keeps whitespace-only deltas (a lone space) from being dropped as an empty swap.
      return (
        <Partial target={`${ids.runText(event.step_id)} .text`} swap="beforeend">
          <span safe>{event.delta}</span>
        </Partial>
      )
    case 'reasoning':
      return (
        <Partial target={`${ids.runReasoning(event.step_id)} .reasoning-text`} swap="beforeend">
          <span safe>{event.delta}</span>
        </Partial>
      )
    case 'tool-call':
      return (
        <Partial target={ids.runTools(event.step_id)} swap="beforeend">
          <ToolBlock runId={event.step_id} tool={event.tool_call} />
        </Partial>
      )
    case 'tool-result':
      return (
        <Partial target={ids.toolResult(event.step_id, event.tool_result.id)} swap="outerHTML">
          <ToolResult
            runId={event.step_id}
            tool={{ id: event.tool_result.id, name: '', input: null, result: { value: event.tool_result.result } }}
          />
        </Partial>
      )
    case 'agent-step':
      return (
        <Partial target={ids.runTools(event.step_id)} swap="beforeend">
          <AgentStep step={{ name: event.name, phase: event.phase, ts: event.ts }} />
        </Partial>
      )
    case 'agent-state':
      return (
        <Partial target={ids.agentStateJson(event.step_id)} swap="outerHTML">
          <AgentStateJson runId={event.step_id} state={{ value: event.state }} />
        </Partial>
      )
    case 'final':
    case 'interrupt':
    case 'error':
      return finished(event)
    default:
      return unreachable(event)
  }
}
