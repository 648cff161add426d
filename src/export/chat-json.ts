import { nestedDeeperThan, prettyJson } from '../bounded-json.ts'
import { RENDERED_JSON_MAX_DEPTH } from '../limits.ts'
import type { ChatExportHead, ExportedEntry, ExportedRun } from './chat-export.ts'

/**
 * What the JSON export writes in place of a value nested deeper than RENDERED_JSON_MAX_DEPTH levels (only data stored
 * before the event limits existed can be): valid JSON that says why, and what a page shows of the value. Writing it
 * whole would overflow JSON.stringify's stack (the 500 of issue 20), and most readers refuse such depth anyway
 * (Python's json at 1,000 levels); a string in its place would silently change the value's type.
 */
export interface OmittedValue {
  'stepstream.omitted': string
  /** The value pretty-printed within the page's budget, its cut marked. */
  preview: string
}

function writable(value: unknown): unknown {
  if (!nestedDeeperThan(value, RENDERED_JSON_MAX_DEPTH)) return value
  return {
    'stepstream.omitted': `This value is nested deeper than ${RENDERED_JSON_MAX_DEPTH} levels, too deep to export as JSON.`,
    preview: prettyJson(value).text,
  } satisfies OmittedValue
}

/** A run with its tool inputs, results and agent state made writable; keys keep their order. */
function writableRun(run: ExportedRun): ExportedRun {
  return {
    ...run,
    tool_calls: run.tool_calls.map((call) => ({
      ...call,
      input: writable(call.input),
      ...(call.result && { result: { ...call.result, value: writable(call.result.value) } }),
    })),
    agent_state: run.agent_state === undefined ? undefined : writable(run.agent_state),
  }
}

const INDENT = '    '

/**
 * The JSON export written a piece at a time: its pieces joined are exactly `JSON.stringify(chat, null, 2)` and a
 * newline, for any chat whose values are within RENDERED_JSON_MAX_DEPTH. Pure.
 */
export const chatJsonPieces = {
  /** Everything up to the entries' opening bracket. */
  head: (head: ChatExportHead) => JSON.stringify({ ...head, entries: [] }, null, 2).slice(0, -']\n}'.length),
  /** The `index`-th entry (from 0), with the comma before it. */
  entry: (entry: ExportedEntry, index: number) => {
    const text = JSON.stringify(entry.role === 'user' ? entry : writableRun(entry), null, 2)
    // JSON.stringify escapes every newline inside a string, so each one here starts a line to indent.
    return `${index > 0 ? ',' : ''}\n${INDENT}${text.replaceAll('\n', `\n${INDENT}`)}`
  },
  /** What closes the document, after `count` entries. */
  tail: (count: number) => (count > 0 ? '\n  ]\n}\n' : ']\n}\n'),
}
