import { t, type Static } from 'elysia'
import { TypeCompiler } from '@sinclair/typebox/compiler'

/**
 * The event model, declared once. Every other module (store, steps, templates, JSON API) imports the schemas
 * and the types derived from them here.
 */

const Text = t.String({ maxLength: 1_000_000 })

const ToolCall = t.Object({ id: t.String({ maxLength: 200 }), name: t.String({ maxLength: 200 }), input: t.Unknown() })
const ToolResult = t.Object({ id: t.String({ maxLength: 200 }), result: t.Unknown() })

/** The payload of each event type, keyed by its `type`. */
const payloads = {
  user: { text: Text },
  start: { step_type: t.String({ minLength: 1, maxLength: 64 }) },
  partial: { delta: Text },
  'tool-call': { tool_call: ToolCall },
  'tool-result': { tool_result: ToolResult },
  final: { text: Text },
  interrupt: { text: Text },
  error: { error: t.String({ minLength: 1, maxLength: 10_000 }) },
} as const

type Payloads = typeof payloads
export type EventType = keyof Payloads
export const EVENT_TYPES = Object.keys(payloads) as EventType[]

/** The types that end a run: exactly one of them closes every run. */
export const TERMINAL_TYPES: ReadonlySet<EventType> = new Set(['final', 'interrupt', 'error'])

const Envelope = {
  step_id: t.String({ minLength: 1, maxLength: 64 }),
  ts: t.String({ minLength: 1, maxLength: 40 }),
}

function eventSchema<K extends EventType>(type: K) {
  return t.Object({ type: t.Literal(type), ...Envelope, ...(payloads[type] as Payloads[K]) }, { additionalProperties: false })
}

/** An event as a step (or the runner) emits it: no `seq` and no `session_id` yet. */
export const NewEventSchema = t.Union(EVENT_TYPES.map(eventSchema) as ReturnType<typeof eventSchema<EventType>>[])

type EventOf<K extends EventType> = Static<ReturnType<typeof eventSchema<K>>>
export type NewEvent = { [K in EventType]: EventOf<K> }[EventType]
export type NewEventOf<K extends EventType> = EventOf<K>

/** An event as the store keeps it: the envelope adds the session and its position in the session's log. */
export type StoredEvent = NewEvent & { seq: number; session_id: string }
export type StoredEventOf<K extends EventType> = EventOf<K> & { seq: number; session_id: string }

/** What a step emits: the envelope (step id, timestamp) is added by the runner. */
export type StepEvent = { [K in EventType]: Omit<EventOf<K>, 'step_id' | 'ts'> }[EventType]

const checkers = new Map(EVENT_TYPES.map((type) => [type, TypeCompiler.Compile(eventSchema(type))]))

/** Validates an event at the store boundary; returns a sentence naming the first problem, or undefined. */
export function validateNewEvent(event: unknown): string | undefined {
  const type = (event as { type?: unknown } | null)?.type
  const checker = typeof type === 'string' ? checkers.get(type as EventType) : undefined
  if (!checker) return `unknown event type ${JSON.stringify(type)}; expected one of ${EVENT_TYPES.join(', ')}`
  if (checker.Check(event)) return undefined
  const first = checker.Errors(event).First()
  return `${type} event: ${first?.path || '/'} ${first?.message ?? 'is invalid'}`
}
