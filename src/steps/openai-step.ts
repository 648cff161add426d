import { AppError } from '../errors.ts'
import OpenAI from 'openai'
import { parseToolArguments, ToolArgumentsError } from '../tool-arguments.ts'
import type { ChatCompletionMessageParam } from 'openai/resources/chat/completions'
import type { OpenAiConfig } from './openai-config.ts'
import type { FinalMetaOf } from '../events.ts'
import { NAME_MAX_CHARS } from '../limits.ts'
import type { Logger } from '../log.ts'
import { chosenSettings, prepareOpenAiOptions } from './openai-choice.ts'
import { askedUrl, CUT_SENTENCE, failureSentence } from './openai-failure.ts'
import { toChatMessages } from './openai-messages.ts'
import { addUsage, readTurn, type StreamedToolCall } from './openai-turn.ts'
import { RequestWatchdog } from './request-watchdog.ts'
import { defineStep, type StepAnswer, type StepRun } from './define-step.ts'
import type { StepFactory } from './step-registry.ts'
import type { Conversation, Step } from './step.ts'
import { calculator, loadCalculator } from './tools/calculator.ts'
import { currentTime } from './tools/current-time.ts'
import { ToolRegistry } from './tools/tool.ts'

/** Retries the client makes for a 429, a 5xx or a refused connection, before the first token; honours Retry-After. */
export const MAX_RETRIES = 2

/** The client's own request timeout, out of the way: the watchdog (`--request-timeout`) is the one timer. */
const CLIENT_TIMEOUT_MS = 24 * 3600 * 1000

export type OpenAiSettings = Omit<OpenAiConfig, 'models'> & { model: string }

/** The built-in tools: `current_time` and `calculator`. */
export const builtInTools = () => new ToolRegistry([currentTime(), calculator])

/** A run ended early: by the user's cancel, or with an error sentence. */
class RunStop {
  constructor(readonly sentence?: string) {}
}

/**
 * Answers through any OpenAI-compatible `/chat/completions` with `stream: true`: content → `partial`, reasoning →
 * `reasoning`, tool calls → `tool-call`, run by the tool registry → `tool-result`, then the next request, until the
 * model answers (`final` with its model, usage and timings) or `maxToolRounds` is exceeded. Every failure ends the
 * run with one `error` holding a sentence; a cancel aborts the request at once and ends it with an `interrupt`.
 * Written with `defineStep`, the API anyone's step uses (see openAiStep below).
 */
class OpenAiAnswer {
  readonly #host: string

  constructor(
    private readonly settings: OpenAiSettings,
    private readonly tools: ToolRegistry,
    private readonly log: Logger,
    /** The transport, for tests that must see what the client sends; the global `fetch` by default. */
    private readonly transport: typeof fetch = fetch,
  ) {
    this.#host = new URL(settings.baseUrl).host
  }

  async answer(input: Conversation, run: StepRun): Promise<StepAnswer> {
    const { signal } = run
    // Loaded while the first request is on its way, so a calculation later in the run does not wait for it.
    if (this.#offersTools) void loadCalculator()
    const { settings } = this
    const watchdog = new RequestWatchdog(settings.requestTimeoutMs)
    const client = this.#client(watchdog)
    const requestSignal = AbortSignal.any([signal, watchdog.signal])
    const messages = toChatMessages(input, settings.systemPrompt)
    const started = performance.now()
    const meta: FinalMetaOf = {}
    let text = ''
    try {
      for (let round = 0; ; round++) {
        const stream = await client.chat.completions.create(
          {
            model: settings.model,
            messages,
            stream: true,
            stream_options: { include_usage: true },
            ...(this.#offersTools && { tools: this.tools.definitions() }),
          },
          { signal: requestSignal },
        )
        const turn = await readTurn(stream, {
          token: () => {
            meta.ttft_ms ??= Math.round(performance.now() - started)
          },
          content: async (delta) => {
            text += delta
            await run.partial(delta)
          },
          reasoning: (delta) => run.reasoning(delta),
        })
        watchdog.pause()
        meta.model ??= turn.model
        meta.usage = addUsage(meta.usage, turn.usage)
        // The client ends a stream quietly when its signal aborts: which one did is told here.
        if (signal.aborted) throw new RunStop()
        if (watchdog.fired) throw watchdog.signal.reason
        if (!turn.finishReason) throw new RunStop(CUT_SENTENCE)
        if (turn.toolCalls.length === 0) {
          meta.duration_ms = Math.round(performance.now() - started)
          return { text, meta: withoutEmpty(meta) }
        }
        if (round >= settings.maxToolRounds) {
          throw new RunStop(
            `The model asked for tools more than ${settings.maxToolRounds} times without answering, so the run stopped. Ask again, or raise --max-tool-rounds.`,
          )
        }
        await this.#runTools(turn.toolCalls, turn.content, messages, run)
      }
    } catch (error) {
      // Cancelled: defineStep ends the run with an `interrupt` holding what streamed.
      if (signal.aborted) return { text }
      if (error instanceof ToolArgumentsError) throw new Error(argumentsSentence(error))
      // The server refused what the step emitted (an answer past its limit, say): its sentence is the reason.
      if (error instanceof AppError) throw new Error(error.message)
      const sentence = error instanceof RunStop ? error.sentence! : this.#sentence(error, watchdog, text !== '')
      if (!(error instanceof RunStop)) this.log.warn('the model request failed', this.#describe(error))
      // defineStep turns the throw into one `error` with this sentence and the text streamed so far.
      throw new Error(sentence)
    } finally {
      watchdog.pause()
    }
  }

  get #offersTools(): boolean {
    return this.settings.maxToolRounds > 0 && this.tools.size > 0
  }

  /** Emits the calls, runs them one after another, and adds the assistant's calls and their results to `messages`. */
  async #runTools(calls: StreamedToolCall[], content: string, messages: ChatCompletionMessageParam[], run: StepRun): Promise<void> {
    const { signal } = run
    const inputs = calls.map(argumentsOf)
    for (const [i, call] of calls.entries()) {
      await run.toolCall({ id: call.id.slice(0, 200), name: call.name.slice(0, 200), input: inputs[i] })
    }
    messages.push({
      role: 'assistant',
      content: content || null,
      tool_calls: calls.map((call) => ({ id: call.id, type: 'function', function: { name: call.name, arguments: call.arguments } })),
    })
    for (const [i, call] of calls.entries()) {
      const result = await this.tools.call(call.name, inputs[i], signal)
      if (signal.aborted) throw new RunStop()
      await run.toolResult(call.id.slice(0, 200), result)
      messages.push({ role: 'tool', tool_call_id: call.id, content: JSON.stringify(result) ?? 'null' })
    }
  }

  #client(watchdog: RequestWatchdog): OpenAI {
    const redact = this.#redact
    const forward = (level: 'warn' | 'debug') => (message: string) => this.log[level]('openai client', { detail: redact(String(message)) })
    return new OpenAI({
      baseURL: this.settings.baseUrl,
      // The client insists on a key; a local server without one gets a placeholder it ignores.
      apiKey: this.settings.apiKey ?? 'no-key',
      maxRetries: MAX_RETRIES,
      timeout: CLIENT_TIMEOUT_MS,
      fetch: watchdog.fetch(this.transport),
      // Its own logger would write to the console, chunks included; ours writes JSON, without the key.
      logger: { error: forward('warn'), warn: forward('warn'), info: forward('debug'), debug: forward('debug') },
      logLevel: 'warn',
    })
  }

  #sentence(error: unknown, watchdog: RequestWatchdog, streamed: boolean): string {
    return failureSentence(error, {
      model: this.settings.model,
      host: this.#host,
      url: askedUrl(this.settings.baseUrl),
      requestTimeoutMs: this.settings.requestTimeoutMs,
      maxRetries: MAX_RETRIES,
      timedOut: watchdog.fired,
      streamed,
      redact: this.#redact,
    })
  }

  /** What the log says about a failure: its kind, status and message, with the key removed. */
  #describe(error: unknown): Record<string, unknown> {
    const status = error instanceof OpenAI.APIError ? error.status : undefined
    const name = error instanceof Error ? error.constructor.name : typeof error
    return { error: this.#redact(String(error)), kind: name, status, host: this.#host, model: this.settings.model }
  }

  readonly #redact = (text: string): string => {
    const key = this.settings.apiKey
    return key ? text.replaceAll(key, '[redacted]') : text
  }
}

const withoutEmpty = (meta: FinalMetaOf): FinalMetaOf =>
  Object.fromEntries(Object.entries(meta).filter(([, value]) => value !== undefined)) as FinalMetaOf

const LOCAL_HOST =
  /^(localhost|.*\.localhost|.*\.local|127(\.\d+){3}|\[::1\]|0\.0\.0\.0|10(\.\d+){3}|192\.168(\.\d+){2}|172\.(1[6-9]|2\d|3[01])(\.\d+){2})$/

/** True for a server on this machine or a private network, which usually needs no API key (Ollama, llama.cpp). */
export const isLocalUrl = (url: string) => LOCAL_HOST.test(new URL(url).hostname)

/** Why the openai step cannot run with this configuration, as a sentence saying how to fix it; undefined if it can. */
export function openAiUnavailable(config: OpenAiConfig): string | undefined {
  if (!config.model) return 'The openai step needs a model: pass --model (or set STEPSTREAM_MODEL), e.g. --model gpt-4o-mini.'
  if (!config.apiKey && !isLocalUrl(config.baseUrl)) {
    return `The openai step has no API key for ${new URL(config.baseUrl).host}: pass --openai-api-key or set OPENAI_API_KEY (a model server on this machine or a private network needs none).`
  }
  return undefined
}

/**
 * The openai step for the registry: each chat asks the model and system prompt it chose at New Chat (recorded in its
 * step spec, see openai-choice.ts), else the server's, with the server's other settings.
 */
export function openAiStep(config: OpenAiConfig, log: Logger, tools: ToolRegistry = builtInTools(), transport?: typeof fetch): StepFactory {
  return defineStep({
    name: 'openai',
    description: `asks ${config.model ?? 'a model (none configured)'} at ${new URL(config.baseUrl).host}, with tools`,
    unavailable: openAiUnavailable(config),
    prepare: (options) => prepareOpenAiOptions(config, options),
    models: config.models,
    run: (conversation, run) =>
      new OpenAiAnswer({ ...config, ...chosenSettings(config, run.options) }, tools, log, transport).answer(conversation, run),
  })
}

/** The openai step for one session with these settings, as the tests drive it. */
export const openAiRunStep = (settings: OpenAiSettings, tools: ToolRegistry, log: Logger, transport?: typeof fetch): Step =>
  defineStep({
    name: 'openai',
    run: (conversation, run) => new OpenAiAnswer(settings, tools, log, transport).answer(conversation, run),
  }).create({})

/** A call's parsed arguments, or a ToolArgumentsError naming its tool when they pass the event gate's bounds. */
function argumentsOf(call: StreamedToolCall): unknown {
  try {
    return parseToolArguments(call.arguments)
  } catch (error) {
    if (!(error instanceof ToolArgumentsError)) throw error
    throw new ToolArgumentsError(error.status, error.detail, call.name.slice(0, NAME_MAX_CHARS))
  }
}

/** The `error` of a run whose model sent tool arguments past a limit: the model's doing, said with the limit. */
const argumentsSentence = (error: ToolArgumentsError) =>
  `The model sent arguments for the tool ${JSON.stringify(error.tool ?? '')} that ${error.detail}, so the run stopped.`
