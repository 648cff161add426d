import { nestedDeeperThan, prettyJson } from './bounded-json.ts'
import type { StoredEvent } from './events.ts'
import { RENDERED_JSON_MAX_DEPTH } from './limits.ts'

/**
 * What a reader gets in place of a value nested deeper than RENDERED_JSON_MAX_DEPTH levels (only data stored before
 * the event gate existed can be): valid JSON that says why, and what a page shows of the value. Writing it whole
 * would overflow JSON.stringify's stack (the 500 of issue 20), and most readers refuse such depth anyway (Python's
 * json at 1,000 levels); a string in its place would silently change the value's type.
 */
export interface OmittedValue {
  'stepstream.omitted': string
  /** The value pretty-printed within the page's budget, its cut marked. */
  preview: string
}

/** `value` itself, or an OmittedValue when it is too deep to serialize safely; iterative, so any depth is safe. */
export function writableValue(value: unknown): unknown {
  if (!nestedDeeperThan(value, RENDERED_JSON_MAX_DEPTH)) return value
  return {
    'stepstream.omitted': `This value is nested deeper than ${RENDERED_JSON_MAX_DEPTH} levels, too deep to serve as JSON.`,
    preview: prettyJson(value).text,
  } satisfies OmittedValue
}

/**
 * A stored event as read back from a database, its outside values made writable: the JSON API, both streams, the
 * AG-UI stream and the conversation sent to a model all serialize events with JSON.stringify. `json` is the text it
 * was parsed from: a value shorter than twice the depth limit cannot be that deep, which spares the walk for almost
 * every event.
 */
export function readableEvent(event: StoredEvent, json: string): StoredEvent {
  if (json.length < 2 * RENDERED_JSON_MAX_DEPTH) return event
  switch (event.type) {
    case 'tool-call': {
      const input = writableValue(event.tool_call.input)
      return input === event.tool_call.input ? event : { ...event, tool_call: { ...event.tool_call, input } }
    }
    case 'tool-result': {
      const result = writableValue(event.tool_result.result)
      return result === event.tool_result.result ? event : { ...event, tool_result: { ...event.tool_result, result } }
    }
    case 'agent-state': {
      const state = writableValue(event.state)
      return state === event.state ? event : { ...event, state }
    }
    default:
      return event
  }
}
