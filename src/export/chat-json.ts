import { writableValue } from '../writable-value.ts'
import type { ChatExportHead, ExportedEntry, ExportedRun } from './chat-export.ts'

/** A run with its tool inputs, results and agent state made writable; keys keep their order. */
function writableRun(run: ExportedRun): ExportedRun {
  return {
    ...run,
    tool_calls: run.tool_calls.map((call) => ({
      ...call,
      input: writableValue(call.input),
      ...(call.result && { result: { ...call.result, value: writableValue(call.result.value) } }),
    })),
    agent_state: run.agent_state === undefined ? undefined : writableValue(run.agent_state),
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
