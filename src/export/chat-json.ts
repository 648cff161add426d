import { writableValue } from '../writable-value.ts'
import type { ChatExportHead, ExportedEntry, ExportedRun, ExportedToolCall } from './chat-export.ts'

/** A tool call with its input and result made writable; keys keep their order. */
const writableCall = (call: ExportedToolCall): ExportedToolCall => ({
  ...call,
  input: writableValue(call.input),
  ...(call.result && { result: { ...call.result, value: writableValue(call.result.value) } }),
})

/** A run's value for `key` as written: tool inputs, results and agent state made writable one at a time. */
function writable(key: string, value: unknown): unknown {
  if (key === 'agent_state') return value === undefined ? undefined : writableValue(value)
  return value
}

const INDENT = '    '

/** `JSON.stringify(value, null, 2)` as it reads `pad` further in: JSON escapes every newline inside a string. */
const indented = (value: unknown, pad: string) => JSON.stringify(value, null, 2).replaceAll('\n', `\n${pad}`)

/** How much of a long string (a run's answer, its reasoning) one piece of the JSON export holds; UTF-16 units. */
const STRING_PIECE = 256 * 1024

/**
 * `JSON.stringify(text)` a slice at a time: JSON escapes each character on its own, so the slices' JSON joined is the
 * whole string's, as long as no cut falls between the two halves of a surrogate pair (each half alone is escaped).
 * @param slice UTF-16 units a piece holds, at least 2 (a pair must fit); default STRING_PIECE.
 */
export function* jsonStringPieces(text: string, slice = STRING_PIECE): Generator<string> {
  yield '"'
  for (let start = 0, end = 0; start < text.length; start = end) {
    end = Math.min(text.length, start + slice)
    const code = text.charCodeAt(end - 1)
    if (end < text.length && end - 1 > start && code >= 0xd800 && code <= 0xdbff) end--
    yield JSON.stringify(text.slice(start, end)).slice(1, -1)
  }
  yield '"'
}

/**
 * A run as `JSON.stringify(run, null, 2)` writes it inside the entries, a piece at a time: its keys one by one, a
 * long string in slices, and an array (its tool calls, its agent's steps) an item at a time, so that a run of many big tool calls is never one
 * string. Keys whose value is undefined are left out, as JSON.stringify leaves them.
 */
function* runPieces(run: ExportedRun, before: string): Generator<string> {
  const pad = `${INDENT}  `
  let separator = `${before}\n${INDENT}{`
  for (const [key, raw] of Object.entries(run)) {
    const value = writable(key, raw)
    if (value === undefined) continue
    const name = `${separator}\n${pad}${JSON.stringify(key)}: `
    separator = ','
    if (typeof value === 'string' && value.length > STRING_PIECE) {
      yield name
      yield* jsonStringPieces(value)
      continue
    }
    if (!Array.isArray(value) || value.length === 0) {
      yield `${name}${indented(value, pad)}`
      continue
    }
    yield `${name}[`
    for (const [i, item] of value.entries()) {
      const written = key === 'tool_calls' ? writableCall(item as ExportedToolCall) : item
      yield `${i > 0 ? ',' : ''}\n${pad}  ${indented(written, `${pad}  `)}`
    }
    yield `\n${pad}]`
  }
  yield `\n${INDENT}}`
}

/**
 * The JSON export written a piece at a time: its pieces joined are exactly `JSON.stringify(chat, null, 2)` and a
 * newline, for any chat whose values are within RENDERED_JSON_MAX_DEPTH. Pure.
 */
export const chatJsonPieces = {
  /** Everything up to the entries' opening bracket. */
  head: (head: ChatExportHead) => JSON.stringify({ ...head, entries: [] }, null, 2).slice(0, -']\n}'.length),
  /** The `index`-th entry (from 0), with the comma before it: a user message at once, a run in pieces. */
  *entry(entry: ExportedEntry, index: number): Generator<string> {
    const before = index > 0 ? ',' : ''
    if (entry.role === 'user') yield `${before}\n${INDENT}${indented(entry, INDENT)}`
    else yield* runPieces(entry, before)
  },
  /** What closes the document, after `count` entries. */
  tail: (count: number) => (count > 0 ? '\n  ]\n}\n' : ']\n}\n'),
}
