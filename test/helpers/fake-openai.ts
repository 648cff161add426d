/**
 * A fake OpenAI-compatible server on 127.0.0.1 for the openai step's tests: it replays chat completion streams in the
 * wire format the real servers send (`data: <chunk JSON>` frames, a role chunk, content, reasoning and tool call
 * deltas, a `finish_reason`, a usage chunk with empty `choices`, `data: [DONE]`), answers scripted errors, and records
 * every request it receives — its body, its headers, and when its connection closed.
 */
import { type ClosedWatch, endlessBody, type ScriptedEnd, type StreamHold, scriptedBody, watchClose } from './fake-upstream.ts'

export interface RecordedRequest extends ClosedWatch {
  path: string
  headers: Record<string, string>
  // biome-ignore lint/suspicious/noExplicitAny: a chat completion request as the client sent it, checked field by field.
  body: any
  at: number
}

/** How a stream ends: `done` sends `data: [DONE]` and closes; else as a scripted stream ends (fake-upstream.ts). */
export type StreamEnd = 'done' | ScriptedEnd

export type Reply =
  /** `hold`: the stream stops before chunk `hold.at` until the test resolves `hold.until`. */
  | { stream: (object | string)[]; delayMs?: number; end?: StreamEnd; headers?: Record<string, string>; hold?: StreamHold }
  | { status: number; body?: unknown; headers?: Record<string, string> }
  /** Never answers, not even the status line. */
  | { silent: true }
  /** A stream that never ends: chunk `i` is `forever(i)`, sent as fast as the client reads. */
  | { forever: (i: number) => object | string }

const MODEL = 'gpt-4o-mini-2024-07-18'
const envelope = (model = MODEL) => ({
  id: 'chatcmpl-B9MBs8CjcvOU2jLn4n570S5qMJKcT',
  object: 'chat.completion.chunk',
  created: 1741570283,
  model,
  service_tier: 'default',
  system_fingerprint: 'fp_06737a9306',
})

/** One chunk with one choice, as OpenAI sends it (with `stream_options.include_usage`, `usage` is null until the end). */
export const chunk = (delta: object, finish_reason: string | null = null, model?: string) => ({
  ...envelope(model),
  choices: [{ index: 0, delta, logprobs: null, finish_reason }],
  usage: null,
})

/** The last chunk when usage was asked for: empty `choices`, then the counts. */
export const usageChunk = (prompt: number, completion: number, model?: string) => ({
  ...envelope(model),
  choices: [],
  usage: {
    prompt_tokens: prompt,
    completion_tokens: completion,
    total_tokens: prompt + completion,
    prompt_tokens_details: { cached_tokens: 0, audio_tokens: 0 },
    completion_tokens_details: { reasoning_tokens: 0, audio_tokens: 0, accepted_prediction_tokens: 0, rejected_prediction_tokens: 0 },
  },
})

export const roleChunk = (model?: string) => chunk({ role: 'assistant', content: '', refusal: null }, null, model)

/** A whole answer: the role chunk, optional reasoning deltas (`reasoning_content`), content deltas, `stop`, usage. */
export function answer(content: string[], options: { reasoning?: string[]; usage?: [number, number]; model?: string } = {}) {
  return [
    roleChunk(options.model),
    ...(options.reasoning ?? []).map((r) => chunk({ reasoning_content: r }, null, options.model)),
    ...content.map((c) => chunk({ content: c }, null, options.model)),
    chunk({}, 'stop', options.model),
    ...(options.usage ? [usageChunk(...options.usage, options.model)] : []),
  ]
}

/**
 * A turn that calls tools: the first delta of each call carries its id, type and name with empty arguments; the
 * arguments follow in fragments, the calls' fragments interleaved (as parallel calls arrive), then `tool_calls`.
 */
export function toolCalls(calls: { id: string; name: string; args: string[] }[], options: { usage?: [number, number] } = {}) {
  const frames: object[] = [roleChunk()]
  calls.forEach((call, index) => {
    frames.push(chunk({ tool_calls: [{ index, id: call.id, type: 'function', function: { name: call.name, arguments: '' } }] }))
  })
  const longest = Math.max(...calls.map((c) => c.args.length))
  for (let i = 0; i < longest; i++) {
    calls.forEach((call, index) => {
      const args = call.args[i]
      if (args !== undefined) frames.push(chunk({ tool_calls: [{ index, function: { arguments: args } }] }))
    })
  }
  frames.push(chunk({}, 'tool_calls'))
  if (options.usage) frames.push(usageChunk(...options.usage))
  return frames
}

export class FakeOpenAI {
  readonly requests: RecordedRequest[] = []
  readonly #replies: Reply[] = []
  readonly #server: ReturnType<typeof Bun.serve>
  #fallback: Reply | undefined

  constructor() {
    this.#server = Bun.serve({ hostname: '127.0.0.1', port: 0, idleTimeout: 0, fetch: (req) => this.#answer(req) })
  }

  /** The base URL the step is given, like https://api.openai.com/v1. */
  get baseUrl(): string {
    return `http://127.0.0.1:${this.#server.port}/v1`
  }

  /** Queues the answers to the next requests, in order. */
  reply(...replies: Reply[]): this {
    this.#replies.push(...replies)
    return this
  }

  /** The answer once the queue is empty (else a 500 saying nothing was scripted). */
  always(reply: Reply): this {
    this.#fallback = reply
    return this
  }

  async stop(): Promise<void> {
    await this.#server.stop(true)
  }

  async #answer(req: Request): Promise<Response> {
    const { watch, close } = watchClose(req)
    const record: RecordedRequest = Object.assign(watch, {
      path: new URL(req.url).pathname,
      headers: Object.fromEntries(req.headers),
      body: req.method === 'POST' ? await req.json() : undefined,
      at: performance.now(),
    })
    this.requests.push(record)
    const reply = this.#replies.shift() ?? this.#fallback ?? { status: 500, body: { error: { message: 'the fake has no reply scripted' } } }
    if ('silent' in reply) return new Promise<Response>(() => {})
    if ('forever' in reply) {
      const frame = (i: number) => {
        const c = reply.forever(i)
        return `data: ${typeof c === 'string' ? c : JSON.stringify(c)}\n\n`
      }
      return new Response(endlessBody(frame, close), { headers: { 'content-type': 'text/event-stream; charset=utf-8' } })
    }
    if ('status' in reply) {
      return Response.json(reply.body ?? { error: { message: `status ${reply.status}` } }, { status: reply.status, headers: reply.headers })
    }
    return new Response(this.#stream(reply, close), {
      headers: { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache', ...reply.headers },
    })
  }

  #stream(reply: Extract<Reply, { stream: unknown }>, close: () => void): ReadableStream<Uint8Array> {
    const frames = reply.stream.map((c) => `data: ${typeof c === 'string' ? c : JSON.stringify(c)}\n\n`)
    const end = reply.end ?? 'done'
    if (end === 'done') frames.push('data: [DONE]\n\n')
    return scriptedBody(frames, reply.delayMs, end === 'done' ? 'close' : end, close, reply.hold)
  }
}
