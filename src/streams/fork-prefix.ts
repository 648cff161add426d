import { isJsonMode } from './content-type.ts'
import { decodeEntryBytes, encodeEntryBytes } from './entry-bytes.ts'
import { jsonMessages } from './json-mode.ts'
import { accept, type Parsed, refuse } from './parsed.ts'

/**
 * A fork's sub-offset (`Stream-Fork-Sub-Offset: k`): the first `k` bytes of the source's append at the fork offset (or,
 * in JSON mode, its first `k` messages) become the fork's own next entry. `k` equal to the append's length takes it
 * whole; past it is a 400, as the suite expects. Undefined for `k` 0 (no entry: the same as no sub-offset).
 */
export function forkPrefix(next: string | undefined, contentType: string, k: number): Parsed<string | undefined> {
  if (k === 0) return accept(undefined)
  if (next === undefined) {
    return refuse('stream-fork-sub-offset', 'There is no append at that offset to take a sub-offset of: fork at an earlier offset.')
  }
  if (isJsonMode(contentType)) {
    const messages = jsonMessages(next)
    if (k > messages.length) return refuse('stream-fork-sub-offset', overshoot(k, messages.length, 'messages'))
    return accept(messages.slice(0, k).join(','))
  }
  const bytes = decodeEntryBytes(next)
  if (k > bytes.length) return refuse('stream-fork-sub-offset', overshoot(k, bytes.length, 'bytes'))
  // Re-encoded: a cut through a UTF-8 sequence is no longer text, and is kept as bytes.
  return accept(encodeEntryBytes(bytes.subarray(0, k), contentType))
}

const overshoot = (k: number, length: number, unit: string) =>
  `Stream-Fork-Sub-Offset is ${k}, but the append at that offset holds ${length} ${unit}: send at most ${length}.`
