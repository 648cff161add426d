import { type BaseEvent, EventType } from '@ag-ui/core'
import { type ClosedWatch, endlessBody, type ScriptedEnd, scriptedBody, watchClose } from './fake-upstream.ts'
import { EventEncoder } from '@ag-ui/encoder'

/**
 * A fake AG-UI agent on 127.0.0.1 for the agui step's tests: it answers a POSTed RunAgentInput with an SSE stream
 * encoded by the official `@ag-ui/encoder` (as LangGraph's, Mastra's and Pydantic AI's servers do), answers scripted
 * errors, and records every request — its body, its headers, and when its connection closed.
 */

export interface RecordedRun extends ClosedWatch {
  headers: Record<string, string>
  // biome-ignore lint/suspicious/noExplicitAny: a RunAgentInput as the client sent it, checked field by field.
  body: any
}

export type AgentReply =
  /** Events, each encoded by EventEncoder; a string is sent as the data of a frame, as it is (a frame that is not JSON). */
  | { events: (BaseEvent | Record<string, unknown> | string)[]; delayMs?: number; end?: ScriptedEnd }
  | { status: number; body?: string }
  /** A stream that never ends: event `i` is `forever(i)`, sent as fast as the client reads. */
  | { forever: (i: number) => BaseEvent | Record<string, unknown> }

/**
 * A whole run as an agent built on AG-UI streams it: text, reasoning, two tool calls whose arguments arrive in
 * several TOOL_CALL_ARGS, their results, steps, a state snapshot and two deltas, then RUN_FINISHED.
 */
export function fullRun(threadId: string, runId: string): BaseEvent[] {
  const E = EventType
  return [
    { type: E.RUN_STARTED, threadId, runId },
    { type: E.STEP_STARTED, stepName: 'plan' },
    { type: E.REASONING_START, messageId: 'r1' },
    { type: E.REASONING_MESSAGE_START, messageId: 'r1', role: 'reasoning' },
    { type: E.REASONING_MESSAGE_CONTENT, messageId: 'r1', delta: 'The user wants ' },
    { type: E.REASONING_MESSAGE_CONTENT, messageId: 'r1', delta: 'the weather.' },
    { type: E.REASONING_MESSAGE_END, messageId: 'r1' },
    { type: E.REASONING_END, messageId: 'r1' },
    { type: E.STATE_SNAPSHOT, snapshot: { city: 'Paris', steps: [] } },
    { type: E.STEP_FINISHED, stepName: 'plan' },
    { type: E.STEP_STARTED, stepName: 'tools' },
    { type: E.TOOL_CALL_START, toolCallId: 'call-1', toolCallName: 'get_weather' },
    { type: E.TOOL_CALL_ARGS, toolCallId: 'call-1', delta: '{"ci' },
    { type: E.TOOL_CALL_ARGS, toolCallId: 'call-1', delta: 'ty": "Pa' },
    { type: E.TOOL_CALL_ARGS, toolCallId: 'call-1', delta: 'ris"}' },
    { type: E.TOOL_CALL_END, toolCallId: 'call-1' },
    { type: E.TOOL_CALL_START, toolCallId: 'call-2', toolCallName: 'get_time' },
    { type: E.TOOL_CALL_ARGS, toolCallId: 'call-2', delta: '{"zone":' },
    { type: E.TOOL_CALL_ARGS, toolCallId: 'call-2', delta: ' "Europe/Paris"}' },
    { type: E.TOOL_CALL_END, toolCallId: 'call-2' },
    { type: E.TOOL_CALL_RESULT, messageId: 'tr1', toolCallId: 'call-1', content: '{"temp_c": 21}', role: 'tool' },
    { type: E.TOOL_CALL_RESULT, messageId: 'tr2', toolCallId: 'call-2', content: '14:05', role: 'tool' },
    { type: E.STATE_DELTA, delta: [{ op: 'add', path: '/steps/-', value: 'weather' }] },
    { type: E.STATE_DELTA, delta: [{ op: 'replace', path: '/city', value: 'Paris, FR' }] },
    { type: E.STEP_FINISHED, stepName: 'tools' },
    { type: E.TEXT_MESSAGE_START, messageId: 'm1', role: 'assistant' },
    { type: E.TEXT_MESSAGE_CONTENT, messageId: 'm1', delta: 'It is 21 °C ' },
    { type: E.TEXT_MESSAGE_CONTENT, messageId: 'm1', delta: 'in Paris <b>now</b>.' },
    { type: E.TEXT_MESSAGE_END, messageId: 'm1' },
    { type: E.RUN_FINISHED, threadId, runId },
  ] as BaseEvent[]
}

/** A short run: `text` in one message, then RUN_FINISHED. */
export function textRun(threadId: string, runId: string, text: string): BaseEvent[] {
  return [
    { type: EventType.RUN_STARTED, threadId, runId },
    { type: EventType.TEXT_MESSAGE_START, messageId: 'm', role: 'assistant' },
    { type: EventType.TEXT_MESSAGE_CONTENT, messageId: 'm', delta: text },
    { type: EventType.TEXT_MESSAGE_END, messageId: 'm' },
    { type: EventType.RUN_FINISHED, threadId, runId },
  ] as BaseEvent[]
}

export class FakeAgent {
  readonly runs: RecordedRun[] = []
  readonly #replies: ((body: { threadId: string; runId: string }) => AgentReply)[] = []
  readonly #server: ReturnType<typeof Bun.serve>
  readonly #encoder = new EventEncoder({ accept: 'text/event-stream' })

  constructor() {
    this.#server = Bun.serve({ hostname: '127.0.0.1', port: 0, idleTimeout: 0, fetch: (req) => this.#answer(req) })
  }

  /** The AG-UI endpoint the step is given. */
  get url(): string {
    return `http://127.0.0.1:${this.#server.port}/agent`
  }

  /** Queues the answers to the next runs, in order; each is built from the run's thread and run ids. */
  reply(...replies: ((body: { threadId: string; runId: string }) => AgentReply)[]): this {
    this.#replies.push(...replies)
    return this
  }

  async stop(): Promise<void> {
    await this.#server.stop(true)
  }

  async #answer(req: Request): Promise<Response> {
    const { watch, close } = watchClose(req)
    const record: RecordedRun = Object.assign(watch, { headers: Object.fromEntries(req.headers), body: await req.json() })
    this.runs.push(record)
    const reply = this.#replies.shift()?.(record.body) ?? { status: 500, body: 'the fake agent has no reply scripted' }
    if ('status' in reply) return new Response(reply.body ?? '', { status: reply.status })
    if ('forever' in reply) {
      const frame = (i: number) => this.#encoder.encodeSSE(reply.forever(i) as BaseEvent)
      return new Response(endlessBody(frame, close), { headers: { 'content-type': this.#encoder.getContentType() } })
    }
    const frames = reply.events.map((event) =>
      typeof event === 'string' ? `data: ${event}\n\n` : this.#encoder.encodeSSE(event as BaseEvent),
    )
    return new Response(scriptedBody(frames, reply.delayMs, reply.end ?? 'close', close), {
      headers: { 'content-type': this.#encoder.getContentType(), 'cache-control': 'no-cache' },
    })
  }
}
