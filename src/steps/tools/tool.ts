import type { TSchema } from '@sinclair/typebox'
import { TypeCompiler } from '@sinclair/typebox/compiler'

/** A tool the model may call: its JSON-schema parameters are sent as `tools`, and its arguments checked against them. */
export interface Tool {
  /** The name the model calls it by. */
  readonly name: string
  /** One sentence telling the model what it is for. */
  readonly description: string
  /** A TypeBox schema, which is JSON Schema: sent to the model as is. */
  readonly parameters: TSchema
  /** Answers a call whose arguments matched `parameters`; throws ToolError with a sentence the model can act on. */
  run(input: never, signal: AbortSignal): unknown
}

/** A failure the model should read and can recover from (a bad time zone, a division by zero). */
export class ToolError extends Error {}

/** How long one tool call may take before its result is an error; milliseconds. */
export const TOOL_TIMEOUT_MS = 5000

/** The tools a step offers, by name; unknown names and bad arguments become errors the model reads. */
export class ToolRegistry {
  readonly #tools = new Map<string, { tool: Tool; check: ReturnType<typeof TypeCompiler.Compile> }>()

  /** @param timeoutMs how long one call may take; milliseconds, default TOOL_TIMEOUT_MS. */
  constructor(
    tools: readonly Tool[],
    private readonly timeoutMs = TOOL_TIMEOUT_MS,
  ) {
    for (const tool of tools) this.#tools.set(tool.name, { tool, check: TypeCompiler.Compile(tool.parameters) })
  }

  get size(): number {
    return this.#tools.size
  }

  /** The tools it holds, in the order they are offered. */
  get tools(): Tool[] {
    return [...this.#tools.values()].map(({ tool }) => tool)
  }

  /** The `tools` parameter of a chat completion request. */
  definitions() {
    return [...this.#tools.values()].map(({ tool }) => ({
      type: 'function' as const,
      function: { name: tool.name, description: tool.description, parameters: tool.parameters as Record<string, unknown> },
    }))
  }

  /**
   * Runs one call. Never throws: an unknown tool, arguments that are not JSON or do not match the schema, a tool's
   * failure and a timeout all come back as `{ error }`, which the model reads in the tool's result and can act on.
   */
  async call(name: string, args: unknown, signal: AbortSignal): Promise<unknown> {
    const entry = this.#tools.get(name)
    if (!entry) return { error: `There is no tool called ${JSON.stringify(name)}; the tools are ${[...this.#tools.keys()].join(', ')}.` }
    if (typeof args === 'string') return { error: `The arguments are not valid JSON: ${JSON.stringify(args.slice(0, 200))}.` }
    if (!entry.check.Check(args)) {
      const first = entry.check.Errors(args).First()
      return { error: `Bad arguments for ${name}: ${first?.path || '/'} ${first?.message ?? 'is invalid'}.` }
    }
    const timeout = AbortSignal.timeout(this.timeoutMs)
    const stop = AbortSignal.any([signal, timeout])
    try {
      const aborted = new Promise<never>((_, reject) => {
        const onAbort = () => reject(stop.reason)
        if (stop.aborted) onAbort()
        else stop.addEventListener('abort', onAbort, { once: true })
      })
      aborted.catch(() => {})
      return await Promise.race([Promise.resolve(entry.tool.run(args as never, stop)), aborted])
    } catch (error) {
      if (timeout.aborted) return { error: `The ${name} tool took longer than ${this.timeoutMs} ms and was stopped.` }
      if (signal.aborted) return { error: `The ${name} call was cancelled.` }
      if (error instanceof ToolError) return { error: error.message }
      return { error: `The ${name} tool failed.` }
    }
  }
}
