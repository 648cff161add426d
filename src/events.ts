import { type Static, Type as t } from '@sinclair/typebox'
import { TypeCompiler } from '@sinclair/typebox/compiler'
import { AppError } from './errors.ts'
import { jsonProblem, measuredJson } from './json-shape.ts'
import { ERROR_MAX_CHARS, EVENT_TEXT_MAX_CHARS, NAME_MAX_CHARS } from './limits.ts'

/**
 * The event model, declared once. Every other module (store, steps, templates, JSON API) imports the schemas
 * and the types derived from them here. Written with TypeBox itself, not Elysia's `t` (the same builder): the
 * model sits below HTTP, and what a store or a step needs must not load the web framework.
 */

const Text = t.String({ maxLength: EVENT_TEXT_MAX_CHARS })

const ToolCall = t.Object({
  id: t.String({ maxLength: NAME_MAX_CHARS }),
  name: t.String({ maxLength: NAME_MAX_CHARS }),
  input: t.Unknown(),
})
const ToolResult = t.Object({ id: t.String({ maxLength: NAME_MAX_CHARS }), result: t.Unknown() })

/** Token counts as the model server reported them (`stream_options.include_usage`), summed over a run's requests. */
const Usage = t.Object(
  {
    prompt_tokens: t.Optional(t.Integer({ minimum: 0 })),
    completion_tokens: t.Optional(t.Integer({ minimum: 0 })),
    total_tokens: t.Optional(t.Integer({ minimum: 0 })),
  },
  { additionalProperties: false },
)

/** What a model run adds to its `final`: the model that answered, its usage, and timings in milliseconds. */
const FinalMeta = t.Object(
  {
    model: t.Optional(t.String({ maxLength: NAME_MAX_CHARS })),
    usage: t.Optional(Usage),
    /** From the request to the first streamed token (content, reasoning or tool call); milliseconds. */
    ttft_ms: t.Optional(t.Number({ minimum: 0 })),
    /** From the run's first request to its answer; milliseconds. */
    duration_ms: t.Optional(t.Number({ minimum: 0 })),
  },
  { additionalProperties: false },
)

const Envelope = {
  // The id of the run the event belongs to. `step_id` is its name on the wire (stored logs, the JSON API, AG-UI's
  // followers read it) since before runs had a name of their own; the code calls it `runId` everywhere else.
  step_id: t.String({ minLength: 1, maxLength: 64 }),
  ts: t.String({ minLength: 1, maxLength: 40 }),
}
const strict = { additionalProperties: false } as const

/** Every event type and its payload, as in DESIGN.md's event model; the envelope is the same for all. */
const SCHEMAS = {
  user: t.Object({ type: t.Literal('user'), ...Envelope, text: Text }, strict),
  start: t.Object({ type: t.Literal('start'), ...Envelope, step_type: t.String({ minLength: 1, maxLength: 64 }) }, strict),
  partial: t.Object({ type: t.Literal('partial'), ...Envelope, delta: Text }, strict),
  reasoning: t.Object({ type: t.Literal('reasoning'), ...Envelope, delta: Text }, strict),
  'tool-call': t.Object({ type: t.Literal('tool-call'), ...Envelope, tool_call: ToolCall }, strict),
  'tool-result': t.Object({ type: t.Literal('tool-result'), ...Envelope, tool_result: ToolResult }, strict),
  final: t.Object({ type: t.Literal('final'), ...Envelope, text: Text, meta: t.Optional(FinalMeta) }, strict),
  interrupt: t.Object({ type: t.Literal('interrupt'), ...Envelope, text: Text }, strict),
  // `text`: what the run had streamed before it failed (a stream cut mid-answer keeps it), when the step says so.
  error: t.Object(
    { type: t.Literal('error'), ...Envelope, error: t.String({ minLength: 1, maxLength: ERROR_MAX_CHARS }), text: t.Optional(Text) },
    strict,
  ),
  // A named stage of an agent's run began or ended (AG-UI's STEP_STARTED / STEP_FINISHED): a marker in the transcript.
  'agent-step': t.Object(
    {
      type: t.Literal('agent-step'),
      ...Envelope,
      name: t.String({ minLength: 1, maxLength: NAME_MAX_CHARS }),
      phase: t.Union([t.Literal('started'), t.Literal('finished')]),
    },
    strict,
  ),
  // The agent's whole state after a snapshot or a patch (AG-UI's STATE_SNAPSHOT / STATE_DELTA): the latest one is
  // what the page shows, so a reload, the live stream and the AG-UI follow stream each render it from one event.
  'agent-state': t.Object({ type: t.Literal('agent-state'), ...Envelope, state: t.Unknown() }, strict),
}

/** An event as a step (or the runner) emits it: no `seq` and no `session_id` yet. */
export type NewEvent = Static<(typeof SCHEMAS)[keyof typeof SCHEMAS]>
export type EventType = NewEvent['type']
/** The metadata a `final` may carry. */
export type FinalMetaOf = Static<typeof FinalMeta>
export type NewEventOf<K extends EventType> = Extract<NewEvent, { type: K }>
export const EVENT_TYPES = Object.keys(SCHEMAS) as EventType[]

/** The types that end a run, listed once (the SQL that looks for them is built from this list too). */
export const CLOSING_TYPES = ['final', 'interrupt', 'error'] as const satisfies readonly EventType[]
export type ClosingType = (typeof CLOSING_TYPES)[number]

const closing: ReadonlySet<EventType> = new Set<EventType>(CLOSING_TYPES)

/** True for the events that end a run: exactly one of them closes every run. */
export const isClosing = (event: { type: EventType }): event is { type: ClosingType } => closing.has(event.type)

/**
 * The closing types whose `text` is the run's whole answer: compaction may drop the `partial`s of such runs. An
 * `error` carries no text, so the partials of a failed run are what is left of its answer.
 */
export const CLOSING_WITH_TEXT: readonly ClosingType[] = ['final', 'interrupt']

/** `text` cut to the longest an event may carry, never in the middle of a surrogate pair. */
export function fitEventText(text: string): string {
  if (text.length <= EVENT_TEXT_MAX_CHARS) return text
  const cut = text.slice(0, EVENT_TEXT_MAX_CHARS)
  return /[\uD800-\uDBFF]$/.test(cut) ? cut.slice(0, -1) : cut
}

/** An event as the store keeps it: the envelope adds the session and its position in the session's log. */
export type StoredEvent = NewEvent & { seq: number; session_id: string }
export type StoredEventOf<K extends EventType> = Extract<StoredEvent, { type: K }>

/** An event as a read-only viewer gets it: without `session_id`, the session id, which is a write capability. */
export type ViewerEvent = NewEvent & { seq: number }

/** The viewer's copy of a stored event (a new object: the stored one may be shared through caches). */
export function forViewer(event: StoredEvent): ViewerEvent {
  const { session_id: _owner, ...rest } = event
  return rest as ViewerEvent
}

/** Who reads a chat's events: its owner (who holds the session id), or a read-only link (which must never see it). */
export type EventReader = 'owner' | 'viewer'

/**
 * An event's JSON as every JSON view of a chat gives it (the JSON stream, the chat as a Durable Stream, as the events
 * API's objects serialise): the stored event for its owner, without `session_id` for a read-only link.
 */
export const eventJson = (event: StoredEvent, reader: EventReader): string => JSON.stringify(reader === 'owner' ? event : forViewer(event))

/** What a step emits: the runner adds the envelope (step id, timestamp). */
export type StepEvent = NewEvent extends infer E ? (E extends NewEvent ? Omit<E, 'step_id' | 'ts'> : never) : never

const checkers = new Map(EVENT_TYPES.map((type) => [type, TypeCompiler.Compile(SCHEMAS[type])]))

/** Why an event is refused: `EVENT_TOO_LARGE` (413) for its size, `INVALID_EVENT` (422) for anything else. */
export interface EventProblem {
  code: 'INVALID_EVENT' | 'EVENT_TOO_LARGE'
  /** The problem, for a sentence: "tool-call event is nested more than 64 levels deep (the limit)". */
  detail: string
}

/**
 * The one gate every event passes, whatever made it (a step, a publisher, an AG-UI agent, a model's tool arguments):
 * its shape first (depth, values, string length, bytes; limits.ts), walked without recursion, then its schema.
 * Returns the first problem, or undefined.
 */
export function validateNewEvent(event: unknown): EventProblem | undefined {
  const passed = gate(event, false)
  return typeof passed === 'string' ? undefined : passed
}

/**
 * validateNewEvent for the stores: the event's JSON, stringified once for the log to keep; throws its problem as an
 * AppError (413 or 422).
 */
export function checkNewEvent(event: unknown): string {
  const passed = gate(event, true)
  if (typeof passed !== 'string') throw new AppError(passed.code, `${passed.detail}.`)
  return passed
}

/** validateNewEvent's checks: the problem, or the event's JSON when `encode` ('' without). */
function gate(event: unknown, encode: boolean): EventProblem | string {
  const type = (event as { type?: unknown } | null)?.type
  const checker = typeof type === 'string' ? checkers.get(type as EventType) : undefined
  if (!checker)
    return { code: 'INVALID_EVENT', detail: `unknown event type ${JSON.stringify(type)}; expected one of ${EVENT_TYPES.join(', ')}` }
  const shape = encode ? measuredJson(event) : { problem: jsonProblem(event), json: '' }
  if (shape.problem)
    return { code: shape.problem.status === 413 ? 'EVENT_TOO_LARGE' : 'INVALID_EVENT', detail: `${type} event ${shape.problem.detail}` }
  if (checker.Check(event)) return shape.json ?? JSON.stringify(event)
  const first = checker.Errors(event).First()
  return { code: 'INVALID_EVENT', detail: `${type} event: ${first?.path || '/'} ${first?.message ?? 'is invalid'}` }
}

/** Makes a `switch` over the event types exhaustive: a new type fails to compile until every view handles it. */
export function unreachable(value: never): never {
  throw new Error(`unhandled event ${JSON.stringify(value)}`)
}
