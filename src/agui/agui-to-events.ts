import { type AGUIEvent, EventType } from '@ag-ui/core'
import { EventSchemas } from '@ag-ui/core/schemas'
import type { Operation } from 'fast-json-patch'
import { fitEventText, type StepEvent } from '../events.ts'
import { EVENT_BOUNDS, jsonProblem, measureJson } from '../json-shape.ts'
import { ERROR_MAX_CHARS, EVENT_TEXT_MAX_CHARS, MAX_AGUI_OPEN, MAX_MAPPED_BATCH_BYTES, NAME_MAX_CHARS } from '../limits.ts'
import { parseToolArguments, ToolArgumentsError } from '../tool-arguments.ts'
import { applyStatePatch, PatchRefusal, STATE_BOUNDS, type StateMeasure } from './state-patch.ts'

/** `{}`'s size: the state every run starts from. */
const EMPTY_STATE: StateMeasure = { bytes: 2, nodes: 1 }

/** What `{"type":"agent-state","state":…}` adds to its state's JSON; bytes. */
const AGENT_STATE_WRAPPING_BYTES = '{"type":"agent-state","state":}'.length

/**
 * An AG-UI event that cannot be taken: `sentence` says why, naming the event by its 1-based `position`; `status` 413
 * when it is (or makes something) too big, 422 otherwise.
 */
export class AguiInputError extends Error {
  constructor(
    readonly position: number,
    readonly sentence: string,
    readonly status: 413 | 422 = 422,
  ) {
    super(sentence)
  }
}

interface OpenToolCall {
  name: string
  args: string
}

/** What the mapper remembers between events; plain data, so a batch can be mapped on a copy and then kept. */
interface MapperState {
  /** The answer so far: the content of the run's assistant text messages, in order. */
  text: string
  /** The role of each open text message (only an assistant's text is the answer); a Map: the ids are the client's. */
  roles: Map<string, string>
  /** Tool calls started and not yet ended, by id (the client's: a Map, so `__proto__` is an id like any other). */
  calls: Map<string, OpenToolCall>
  /** Characters of arguments held by the open tool calls, in all: at most EVENT_TEXT_MAX_CHARS. */
  openArgs: number
  /** The tool call the last TOOL_CALL_CHUNK belongs to, closed by the next event that is not one of its chunks. */
  chunkCall?: string
  /**
   * The agent's state after the last snapshot or patch; AG-UI starts every run from `{}`. Never changed in place (a
   * patch copies what it changes: state-patch.ts), so it is shared with the events that carried it and with forks.
   */
  state: unknown
  /** The state's size, measured when it was set: a patch counts from it instead of walking the state again. */
  stateSize: StateMeasure
  closed: boolean
}

/**
 * AG-UI (`@ag-ui/core` 1.0) → stepstream, for one run: the `agui` step reads an agent's stream through it, and the
 * publish API's `?format=ag-ui` the events a program sends, so both map exactly alike. Stateful per run (it puts tool
 * call arguments together, applies state patches and keeps the answer's text) and pure: no I/O, no clock.
 *
 * Text content → `partial`; reasoning content → `reasoning`; TOOL_CALL_START/ARGS/END → one `tool-call` with its
 * parsed arguments; TOOL_CALL_RESULT → `tool-result`; STEP_STARTED/FINISHED → `agent-step`; STATE_SNAPSHOT and
 * STATE_DELTA (an RFC 6902 patch, applied op by op: state-patch.ts) → `agent-state` with the whole state; RUN_FINISHED →
 * `final` with the answer; RUN_ERROR → `error` with its message. The rest (RUN_STARTED, message starts and ends,
 * MESSAGES_SNAPSHOT, ACTIVITY_*, RAW, CUSTOM, SUBAGENT_*) has nothing to show here and maps to nothing.
 */
export class AguiRunMapper {
  #s: MapperState = { text: '', roles: new Map(), calls: new Map(), openArgs: 0, state: {}, stateSize: EMPTY_STATE, closed: false }

  /** The answer streamed so far. */
  get text(): string {
    return this.#s.text
  }

  /** True once RUN_FINISHED or RUN_ERROR was mapped: the run has its closing event. */
  get closed(): boolean {
    return this.#s.closed
  }

  /**
   * Maps one AG-UI event (parsed JSON) to the stepstream events it stands for, in order; none for most.
   * @param position the event's 1-based number in its stream or request, for the sentence of an AguiInputError.
   */
  map(raw: unknown, position: number): StepEvent[] {
    // The event gate's bounds first, before anything walks the event recursively (its schema, a patch, a clone).
    const shape = jsonProblem(raw)
    if (shape) throw new AguiInputError(position, `AG-UI event ${position} ${shape.detail}.`, shape.status)
    const parsed = EventSchemas.safeParse(raw)
    if (!parsed.success) throw new AguiInputError(position, `AG-UI event ${position} is invalid: ${problemOf(raw, parsed.error.issues)}.`)
    if (this.#s.closed) {
      throw new AguiInputError(
        position,
        `AG-UI event ${position} (${parsed.data.type}) comes after the run finished; nothing may follow RUN_FINISHED or RUN_ERROR.`,
      )
    }
    const event = parsed.data as AGUIEvent
    const out = event.type === EventType.TOOL_CALL_CHUNK ? [] : this.#endChunkCall(position)
    out.push(...this.#map(event, position))
    return out
  }

  /** A copy to map a batch on (`mapAll`), kept in place of this one only if the batch is taken. */
  fork(): AguiRunMapper {
    const copy = new AguiRunMapper()
    const s = this.#s
    // The state is shared, not cloned: nothing changes it in place. Copying it cost every request (an NDJSON line is
    // one) the whole state's size, whatever the request held.
    const calls = new Map([...s.calls].map(([id, call]) => [id, { ...call }]))
    copy.#s = { ...s, roles: new Map(s.roles), calls, stateSize: { ...s.stateSize } }
    return copy
  }

  /**
   * Maps a batch; throws at its first invalid event, having moved on with those before it: map on a `fork()` and
   * keep the fork only when the batch is taken, for all or nothing.
   * @param firstPosition the 1-based number of the batch's first event.
   * @param budget what the request's mapped events may weigh in all (MAX_MAPPED_BATCH_BYTES): pass the same one to
   *   each call that maps a part of one request. Past it: AguiInputError 413.
   */
  mapAll(raws: readonly unknown[], firstPosition = 1, budget: MappedBytes = mappedBytes()): StepEvent[] {
    const out: StepEvent[] = []
    for (const [i, raw] of raws.entries()) {
      const position = firstPosition + i
      for (const event of this.map(raw, position)) {
        // Counted as each event is made, so the work stops at the limit: each STATE_DELTA carries the whole state.
        budget.used += this.#bytesOf(event, budget.max - budget.used)
        if (budget.used > budget.max) {
          throw new AguiInputError(
            position,
            `AG-UI event ${position} takes the events this request makes past ${budget.max.toLocaleString('en')} bytes of JSON in all, the most one request may make (each state change carries the whole state): send the rest in another request.`,
            413,
          )
        }
        out.push(event)
      }
    }
    return out
  }

  /** What an event just mapped weighs as JSON; bytes (past `room`, some number above it). An agent state's is known. */
  #bytesOf(event: StepEvent, room: number): number {
    if (event.type === 'agent-state' && event.state === this.#s.state) return this.#s.stateSize.bytes + AGENT_STATE_WRAPPING_BYTES
    return measureJson(event, { ...EVENT_BOUNDS, bytes: Math.max(room, 0) }).bytes
  }

  #map(event: AGUIEvent, position: number): StepEvent[] {
    const s = this.#s
    switch (event.type) {
      case EventType.TEXT_MESSAGE_START:
        this.#open(s.roles, event.messageId, event.role ?? 'assistant', position)
        return []
      case EventType.TEXT_MESSAGE_CONTENT:
        return this.#text(event.messageId, event.delta, position)
      case EventType.TEXT_MESSAGE_CHUNK:
        if (event.messageId !== undefined && !s.roles.has(event.messageId))
          this.#open(s.roles, event.messageId, event.role ?? 'assistant', position)
        return event.delta ? this.#text(event.messageId, event.delta, position) : []
      case EventType.TEXT_MESSAGE_END:
        s.roles.delete(event.messageId)
        return []
      case EventType.REASONING_MESSAGE_CONTENT:
      case EventType.REASONING_MESSAGE_CHUNK:
        return event.delta ? [{ type: 'reasoning', delta: event.delta }] : []
      case EventType.TOOL_CALL_START:
        this.#openCall(event.toolCallId, event.toolCallName, position)
        return []
      case EventType.TOOL_CALL_ARGS:
        this.#addArgs(this.#call(event.toolCallId, position, 'TOOL_CALL_ARGS'), event.delta, position)
        return []
      case EventType.TOOL_CALL_END:
        return [this.#endCall(event.toolCallId, position)]
      case EventType.TOOL_CALL_CHUNK:
        return this.#chunk(event, position)
      case EventType.TOOL_CALL_RESULT:
        return [{ type: 'tool-result', tool_result: { id: event.toolCallId.slice(0, NAME_MAX_CHARS), result: resultOf(event.content) } }]
      case EventType.STEP_STARTED:
      case EventType.STEP_FINISHED:
        return [
          {
            type: 'agent-step',
            name: event.stepName.slice(0, NAME_MAX_CHARS) || 'step',
            phase: event.type === EventType.STEP_STARTED ? 'started' : 'finished',
          },
        ]
      case EventType.STATE_SNAPSHOT:
        return [this.#setState(event.snapshot ?? {}, position)]
      case EventType.STATE_DELTA: {
        // A patch that changes nothing (none of its operations, or all of them undone) is no new state to store.
        const state = this.#patched(event.delta, position)
        return state === s.state ? [] : [this.#setState(state, position)]
      }
      case EventType.RUN_FINISHED:
        s.closed = true
        return [{ type: 'final', text: fitEventText(s.text) }]
      case EventType.RUN_ERROR: {
        s.closed = true
        const message = event.message.trim() || 'The agent reported an error without a message.'
        const error = message.length > ERROR_MAX_CHARS ? `${message.slice(0, ERROR_MAX_CHARS - 1)}…` : message
        return [{ type: 'error', error, ...(s.text && { text: fitEventText(s.text) }) }]
      }
      default:
        return []
    }
  }

  /** Opens a message or a tool call under the client's id, up to MAX_AGUI_OPEN of them open at once. */
  #open<T>(open: Map<string, T>, id: string, value: T, position: number): void {
    if (!open.has(id) && open.size >= MAX_AGUI_OPEN) {
      throw new AguiInputError(
        position,
        `AG-UI event ${position} opens more than ${MAX_AGUI_OPEN.toLocaleString('en')} messages or tool calls at once, the limit: end some first.`,
      )
    }
    open.set(id, value)
  }

  #openCall(id: string, name: string, position: number): void {
    // A START again under an open call's id starts it over: its arguments so far no longer count.
    this.#s.openArgs -= this.#s.calls.get(id)?.args.length ?? 0
    this.#open(this.#s.calls, id, { name, args: '' }, position)
  }

  #text(messageId: string | undefined, delta: string, position: number): StepEvent[] {
    const role = messageId === undefined ? 'assistant' : (this.#s.roles.get(messageId) ?? 'assistant')
    if (role !== 'assistant' || delta === '') return []
    if (this.#s.text.length + delta.length > EVENT_TEXT_MAX_CHARS) {
      throw new AguiInputError(
        position,
        `AG-UI event ${position} makes the answer longer than ${EVENT_TEXT_MAX_CHARS.toLocaleString('en')} characters, the longest an answer may be.`,
        413,
      )
    }
    this.#s.text += delta
    return [{ type: 'partial', delta }]
  }

  #call(id: string, position: number, kind: string): OpenToolCall {
    const call = this.#s.calls.get(id)
    if (!call)
      throw new AguiInputError(
        position,
        `AG-UI event ${position} (${kind}) names tool call ${JSON.stringify(id)}, which no TOOL_CALL_START opened.`,
      )
    return call
  }

  /** A call's arguments grow by `delta`; those of all open calls together, up to the longest text an event may carry. */
  #addArgs(call: OpenToolCall, delta: string, position: number): void {
    if (this.#s.openArgs + delta.length > EVENT_TEXT_MAX_CHARS) {
      throw new AguiInputError(
        position,
        `AG-UI event ${position} makes the arguments of the open tool calls longer than ${EVENT_TEXT_MAX_CHARS.toLocaleString('en')} characters in all, the limit.`,
        413,
      )
    }
    call.args += delta
    this.#s.openArgs += delta.length
  }

  #endCall(id: string, position: number): StepEvent {
    const call = this.#call(id, position, 'TOOL_CALL_END')
    this.#s.calls.delete(id)
    this.#s.openArgs -= call.args.length
    let input: unknown
    try {
      input = parseToolArguments(call.args)
    } catch (error) {
      if (!(error instanceof ToolArgumentsError)) throw error
      throw new AguiInputError(position, `AG-UI event ${position} ends a tool call whose arguments ${error.detail}.`, error.status)
    }
    return { type: 'tool-call', tool_call: { id: id.slice(0, NAME_MAX_CHARS), name: call.name.slice(0, NAME_MAX_CHARS), input } }
  }

  /** TOOL_CALL_CHUNK: AG-UI's shorthand for START/ARGS/END, a call's chunks in a row; the next other event ends it. */
  #chunk(event: Extract<AGUIEvent, { type: EventType.TOOL_CALL_CHUNK }>, position: number): StepEvent[] {
    const s = this.#s
    const out: StepEvent[] = []
    const id = event.toolCallId ?? s.chunkCall
    if (id === undefined)
      throw new AguiInputError(position, `AG-UI event ${position} (TOOL_CALL_CHUNK) starts a tool call without a toolCallId.`)
    if (id !== s.chunkCall) {
      out.push(...this.#endChunkCall(position))
      if (!event.toolCallName)
        throw new AguiInputError(position, `AG-UI event ${position} (TOOL_CALL_CHUNK) starts a tool call without a toolCallName.`)
      this.#openCall(id, event.toolCallName, position)
      s.chunkCall = id
    }
    this.#addArgs(this.#call(id, position, 'TOOL_CALL_CHUNK'), event.delta ?? '', position)
    return out
  }

  #endChunkCall(position: number): StepEvent[] {
    const id = this.#s.chunkCall
    if (id === undefined) return []
    this.#s.chunkCall = undefined
    return this.#s.calls.has(id) ? [this.#endCall(id, position)] : []
  }

  #patched(patch: readonly Operation[], position: number): unknown {
    try {
      return applyStatePatch(this.#s.state, patch, STATE_BOUNDS, this.#s.stateSize)
    } catch (error) {
      if (!(error instanceof PatchRefusal)) throw error
      throw new AguiInputError(position, `AG-UI event ${position} (STATE_DELTA): ${error.detail}.`, error.status)
    }
  }

  #setState(state: unknown, position: number): StepEvent {
    // The whole state is stored with every change: bounded (STATE_BOUNDS) well under what an event may hold.
    const size = measureJson(state, STATE_BOUNDS)
    const { problem } = size
    if (problem) throw new AguiInputError(position, `AG-UI event ${position} sets an agent state that ${problem.detail}.`, problem.status)
    this.#s.state = state
    this.#s.stateSize = { bytes: size.bytes, nodes: size.nodes }
    return { type: 'agent-state', state }
  }
}

/** What one request's events may weigh once mapped, and what those mapped so far do; bytes of JSON. */
export interface MappedBytes {
  max: number
  used: number
}

/** A request's budget, for `mapAll` calls that map one request in parts. @param max default MAX_MAPPED_BATCH_BYTES. */
export const mappedBytes = (max = MAX_MAPPED_BATCH_BYTES): MappedBytes => ({ max, used: 0 })

/** A tool's result: AG-UI sends text (usually JSON, shown parsed) or content parts (kept as they are). */
function resultOf(content: unknown): unknown {
  if (typeof content !== 'string') return content
  try {
    return JSON.parse(content)
  } catch {
    return content
  }
}

/** The first validation issue, as `type TEXT_MESSAGE_CONTENT: /delta expected string` words a reader can act on. */
function problemOf(raw: unknown, issues: readonly { path: PropertyKey[]; message: string }[]): string {
  const type = (raw as { type?: unknown } | null)?.type
  const kind = typeof type === 'string' ? type : undefined
  const first = issues[0]
  if (!kind) return 'it has no "type"'
  if (first?.path.length === 1 && first.path[0] === 'type') return `${JSON.stringify(kind)} is not an AG-UI event type`
  const where = first?.path.length ? `/${first.path.map(String).join('/')}` : '/'
  return `${kind} ${where}: ${first?.message ?? 'does not match its schema'}`
}
