import { EVENT_BOUNDS, type JsonBounds, jsonProblem } from './json-shape.ts'
import { EVENT_TEXT_MAX_CHARS } from './limits.ts'

/**
 * Arguments that cannot be recorded: `detail` ends a sentence ("are nested more than 62 levels deep (the limit)");
 * `status` 413 when they are too big, 422 otherwise; `tool` the name of the tool they were for, when known.
 */
export class ToolArgumentsError extends Error {
  constructor(
    readonly status: 413 | 422,
    readonly detail: string,
    readonly tool?: string,
  ) {
    super(detail)
  }
}

/** Arguments longer than an event may carry: refused as they stream in, before they are put together whole. */
export const argumentsTooLong = (tool?: string) =>
  new ToolArgumentsError(413, `are longer than ${EVENT_TEXT_MAX_CHARS.toLocaleString('en')} characters (the limit)`, tool)

/** An event's bounds, less the two levels above a tool call's `input` in its event (`tool_call`, the event). */
const ARGUMENT_BOUNDS: JsonBounds = { ...EVENT_BOUNDS, depth: EVENT_BOUNDS.depth - 2 }

/**
 * A tool call's arguments as a step records them: parsed JSON, `{}` for none, or the raw text when it is not JSON
 * (a model can send broken arguments; the tool, or the reader, says so). They come from a model or an agent, so they
 * pass the event gate's bounds here, where they are parsed: a ToolArgumentsError says which they pass.
 */
export function parseToolArguments(raw: string): unknown {
  if (!raw.trim()) return {}
  if (raw.length > EVENT_TEXT_MAX_CHARS) throw argumentsTooLong()
  let parsed: unknown
  try {
    parsed = JSON.parse(raw)
  } catch {
    return raw
  }
  const problem = jsonProblem(parsed, ARGUMENT_BOUNDS)
  if (problem)
    throw new ToolArgumentsError(
      problem.status,
      problem.detail.replace(/^(holds|is)\b/, (verb) => (verb === 'is' ? 'are' : 'hold')),
    )
  return parsed
}
