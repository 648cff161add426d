import { createHash } from 'node:crypto'
import { TurnSlicer } from '../next-turn.ts'
import { FrameTooLarge, SseFrameCutter } from './sse-frame-cutter.ts'
import { MAX_EVENT_BYTES } from '../limits.ts'
import { BackwardCompatibility_0_0_45, HttpAgent } from '@ag-ui/client'
import { PROTOCOL_VERSION, type RunAgentInput } from '@ag-ui/core'
import { toAguiMessages } from '../agui/agui-messages.ts'
import { AguiInputError, AguiRunMapper } from '../agui/agui-to-events.ts'
import type { AguiConfig } from './agui-config.ts'
import { AppError } from '../errors.ts'
import { type StepEvent, unreachable } from '../events.ts'
import type { Logger } from '../log.ts'
import type { StepAnswer, StepRun } from './define-step.ts'
import { RequestWatchdog } from './request-watchdog.ts'
import { withArticle } from '../sentence.ts'

/** A run ended early with this sentence for the reader. */
class RunStop extends Error {}

const seconds = (ms: number) => `${Math.round(ms / 100) / 10} s`

/**
 * Answers through an AG-UI agent (LangGraph, Mastra, Pydantic AI, CrewAI, …): POSTs AG-UI's `RunAgentInput` (thread
 * id = the session, run id = the run, the conversation as AG-UI messages) and reads the agent's SSE stream with the
 * official `@ag-ui/client` (`HttpAgent`), each event checked against `@ag-ui/core`'s schemas and mapped by the one
 * AG-UI mapper (src/agui/agui-to-events.ts) the publish API uses too. Every failure ends the run with one `error`
 * holding a sentence; a cancel aborts the request and ends the run with an `interrupt`.
 */
export class AguiAnswer {
  readonly #host: string

  constructor(
    private readonly config: AguiConfig & { url: string },
    private readonly log: Logger,
    /** The transport, for tests; the global `fetch` by default. */
    private readonly transport: typeof fetch = fetch,
  ) {
    this.#host = new URL(config.url).host
  }

  async answer(conversation: Parameters<typeof toAguiMessages>[0], run: StepRun): Promise<StepAnswer> {
    const { signal } = run
    const watchdog = new RequestWatchdog(this.config.requestTimeoutMs)
    // Ended here too: an answer that stops on our side (refused, past its limit) must not leave the agent streaming.
    const finished = new AbortController()
    const requestSignal = AbortSignal.any([signal, watchdog.signal, finished.signal])
    const watched = watchdog.fetch(this.transport)
    const body = new GuardedBody()
    const agent = new HttpAgent({
      url: this.config.url,
      headers: this.config.headers,
      // The agent's own abort controller is not ours to drive: the request ends on cancel or on silence.
      fetch: async (url, init) => body.guard(await watched(url, { ...init, signal: requestSignal })),
    })
    const input: RunAgentInput = {
      threadId: agentThreadId(run.sessionId),
      runId: run.runId,
      protocolVersion: PROTOCOL_VERSION,
      state: {},
      messages: toAguiMessages(conversation),
      tools: [],
      context: [],
      forwardedProps: {},
    }
    const mapper = new AguiRunMapper()
    let position = 0
    try {
      // Agents written before AG-UI named reasoning REASONING_* still send THINKING_*: the client's own compatibility
      // step renames them (`agent.run` alone skips it; `runAgent` would add state handling stepstream does not use).
      for await (const event of eventsOf(new BackwardCompatibility_0_0_45().run(input, agent), requestSignal)) {
        // The client turns an aborted read into a RUN_ERROR of its own: which signal aborted is told here.
        if (signal.aborted) return { text: mapper.text }
        if (watchdog.fired) break
        position++
        for (const mapped of mapper.map(event, position)) {
          const answer = await deliver(mapped, run)
          if (answer) return answer
        }
      }
      if (signal.aborted) return { text: mapper.text }
      if (watchdog.fired) throw new RunStop(this.#timeoutSentence(mapper.text !== ''))
      if (body.broken) throw body.broken.error
      throw new RunStop(
        `The AG-UI agent at ${this.#host} ended its stream without RUN_FINISHED, so the answer may be cut short${mapper.text ? '; what arrived is kept above' : ''}. Send your message again.`,
      )
    } catch (error) {
      // Cancelled: defineStep ends the run with an `interrupt` holding what streamed.
      if (signal.aborted) return { text: mapper.text }
      // The store refused an event (the run lost its hold, the store is down): its own sentence, not the agent's fault.
      if (error instanceof RunStop || error instanceof AppError) throw error
      if (!(error instanceof AguiInputError)) this.log.warn('the AG-UI request failed', { error: String(error), host: this.#host })
      throw new RunStop(this.#sentence(error, watchdog, mapper.text !== ''))
    } finally {
      watchdog.pause()
      finished.abort()
    }
  }

  #timeoutSentence(streamed: boolean): string {
    const cut = streamed ? ' The answer was cut off there; what arrived is kept above.' : ''
    return `The AG-UI agent at ${this.#host} sent nothing for ${seconds(this.config.requestTimeoutMs)} (--request-timeout), so the request was stopped.${cut} Try again, or raise --request-timeout for a slow agent.`
  }

  /** The sentence a reader gets for a failure: never a library's own words, which may quote a URL or a header. */
  #sentence(error: unknown, watchdog: RequestWatchdog, streamed: boolean): string {
    if (watchdog.fired) return this.#timeoutSentence(streamed)
    if (error instanceof AguiInputError) {
      return `The AG-UI agent at ${this.#host} sent something stepstream cannot take, so the run stopped: ${error.sentence}`
    }
    const status = (error as { status?: unknown } | null)?.status
    if (typeof status === 'number') {
      const auth = status === 401 || status === 403 ? ' Check --agui-header (its credentials).' : ''
      return `The AG-UI agent at ${this.#host} refused the run (HTTP ${status}).${auth}`
    }
    if (error instanceof SyntaxError) return `The AG-UI agent at ${this.#host} sent a frame that is not JSON, so the run stopped there.`
    if (streamed)
      return `The connection to the AG-UI agent at ${this.#host} broke mid-answer; what arrived is kept above. Send your message again.`
    return `Could not reach the AG-UI agent at ${this.#host}. Check that it is running and that --agui-url is right.`
  }
}

/**
 * Reads a response body so that a broken connection ends it like a normal end, and says so in `broken`. The client
 * cancels the body's reader when its subscription ends and rethrows any rejection but an AbortError — and cancelling
 * an errored stream rejects with its error: a broken connection became an unhandled rejection (checked with
 * @ag-ui/client 1.0.0, a fake agent resetting its connection). Closed instead, the stream's end is checked here.
 */
class GuardedBody {
  broken: { error: unknown } | undefined

  guard(response: Response): Response {
    if (!response.ok || !response.body) return response
    const reader = response.body.getReader()
    // Whole frames only (sse-frame-cutter.ts), and a turn of the event loop now and then: an agent streaming faster
    // than we map is otherwise read, parsed and mapped in microtasks alone, a whole socket buffer at a time.
    const cutter = new SseFrameCutter(MAX_EVENT_BYTES + SSE_FRAME_OVERHEAD_BYTES)
    const slicer = new TurnSlicer()
    /** Whole frames read and not yet handed over. */
    let ready: Uint8Array = new Uint8Array(0)
    const guarded = new ReadableStream<Uint8Array>({
      pull: async (controller) => {
        await slicer.pause()
        try {
          while (ready.length === 0) {
            const { done, value } = await reader.read()
            if (done) {
              const rest = cutter.rest()
              if (rest.length > 0) controller.enqueue(rest)
              return controller.close()
            }
            ready = cutter.push(value)
          }
          // A few KiB of frames at a time: a socket buffer of a thousand small events, mapped at once, held the loop.
          const cut = frameEndFrom(ready, PIECE_BYTES)
          controller.enqueue(ready.subarray(0, cut))
          ready = ready.subarray(cut)
        } catch (error) {
          this.broken = { error: error instanceof FrameTooLarge ? frameTooLarge(error.maxBytes) : error }
          reader.cancel().catch(() => {})
          controller.close()
        }
      },
      cancel: (reason) => reader.cancel(reason).catch(() => {}),
    })
    return new Response(guarded, { status: response.status, statusText: response.statusText, headers: response.headers })
  }
}

/** The most of an agent's stream handed to the AG-UI client at a time, unless one frame is longer; bytes (8 KiB). */
const PIECE_BYTES = 8 * 1024

/** Where the first frame ending at or after `from` ends in `frames` (whole frames: it ends with one). */
function frameEndFrom(frames: Uint8Array, from: number): number {
  for (let i = Math.max(1, from); i < frames.length; i++) if (frames[i] === 0x0a && frames[i - 1] === 0x0a) return i + 1
  return frames.length
}

/** What an SSE frame adds to the event it carries (`event:`, `id:`, `data: ` on each line); bytes (64 KiB). */
const SSE_FRAME_OVERHEAD_BYTES = 64 * 1024

const frameTooLarge = (maxBytes: number) =>
  new AppError(
    'EVENT_TOO_LARGE',
    `The AG-UI agent sent an event longer than ${maxBytes.toLocaleString('en')} bytes (the limit), so the run stopped.`,
  )

/** Hands one mapped event to the run; a closing one ends the answer (`final`) or throws its sentence (`error`). */
async function deliver(event: StepEvent, run: StepRun): Promise<StepAnswer | undefined> {
  switch (event.type) {
    case 'partial':
      return void (await run.partial(event.delta))
    case 'reasoning':
      return void (await run.reasoning(event.delta))
    case 'tool-call':
      return void (await run.toolCall(event.tool_call))
    case 'tool-result':
      return void (await run.toolResult(event.tool_result.id, event.tool_result.result))
    case 'agent-step':
      return void (await run.agentStep(event.name, event.phase))
    case 'agent-state':
      return void (await run.agentState(event.state))
    case 'final':
      return { text: event.text }
    case 'error':
      throw new RunStop(event.error)
    // The mapper writes none of these: a user message, a run's start and its interrupt are the runner's.
    case 'user':
    case 'start':
    case 'interrupt':
      throw new Error(`the AG-UI mapper produced ${withArticle(event.type)} event`)
    default:
      return unreachable(event)
  }
}

/**
 * The client's Observable as an async iterable, one event at a time, so that each is stored before the next is
 * mapped. Events that arrive while one is being stored wait in a queue (the agent's stream is read as fast as it
 * comes; stored events are small and the store keeps up, as with the openai step's stream).
 */
async function* eventsOf<T>(
  source: { subscribe(observer: { next(value: T): void; error(error: unknown): void; complete(): void }): { unsubscribe(): void } },
  signal: AbortSignal,
): AsyncGenerator<T> {
  const queue: T[] = []
  let done = false
  let failure: { error: unknown } | undefined
  let wake: (() => void) | undefined
  const poke = () => {
    wake?.()
    wake = undefined
  }
  const subscription = source.subscribe({
    next: (value) => {
      queue.push(value)
      poke()
    },
    error: (error) => {
      failure = { error }
      poke()
    },
    complete: () => {
      done = true
      poke()
    },
  })
  signal.addEventListener('abort', poke, { once: true })
  try {
    while (true) {
      if (queue.length > 0) {
        yield queue.shift()!
        continue
      }
      if (failure) throw failure.error
      if (done || signal.aborted) return
      await new Promise<void>((resolve) => {
        wake = resolve
      })
    }
  } finally {
    signal.removeEventListener('abort', poke)
    subscription.unsubscribe()
  }
}

/**
 * The thread id an agent gets for a chat: the same for every run of it, so the agent can keep the thread's memory,
 * but not the chat's id, which is its owner's write capability and no business of a third party's.
 */
export const agentThreadId = (sessionId: string): string =>
  createHash('sha256').update(`stepstream agent thread\0${sessionId}`).digest('base64url').slice(0, 22)
