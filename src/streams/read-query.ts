import { type ReadFrom, readFrom } from './offsets.ts'
import { accept, type Parsed, refuse } from './parsed.ts'

/**
 * The query of a GET on a stream: where to read from, how (catch-up, long-poll, SSE), and the client's cursor. Other
 * parameters are ignored, as the protocol's extensibility asks.
 */

/** How a read goes on once caught up: it does not (catch-up), or it waits (long-poll), or it streams (SSE). */
export type LiveMode = 'catch-up' | 'long-poll' | 'sse'

export interface ReadQuery {
  from: ReadFrom
  live: LiveMode
  /** The client's `cursor`, as sent (responseCursor ignores a malformed one); null when absent. */
  cursor: string | null
}

/** Parses a GET's query: `live` is `long-poll`, `sse` or absent; an offset is required when it is not absent. */
export function parseReadQuery(params: URLSearchParams): Parsed<ReadQuery> {
  const lives = params.getAll('live')
  if (lives.length > 1) return refuse('live', 'Give one live parameter, not several.')
  const [liveValue] = lives
  if (liveValue !== undefined && liveValue !== 'long-poll' && liveValue !== 'sse') {
    return refuse('live', 'The live parameter is long-poll or sse (or absent, for a catch-up read).')
  }
  const live: LiveMode = liveValue ?? 'catch-up'
  const from = readFrom(params, live !== 'catch-up')
  if (!from.ok) return from
  return accept({ from: from.value, live, cursor: params.get('cursor') })
}
