import { strictDecimal } from './parsed.ts'

/**
 * `Stream-Cursor` (long-poll) and `streamCursor` (SSE control events), PROTOCOL.md §8.1: the number of 20-second
 * intervals since 2024-10-09T00:00:00Z, so that clients waiting on the same offset share a CDN cache key that moves on
 * with time. A client echoes it as `cursor=`; when its cursor is not behind the current interval (a cached answer came
 * back within the same interval), the answer is its cursor plus a random 1–3600 s in intervals, so cursors never go
 * back and a cache cannot serve the same empty answer forever. The clock and the randomness are injected.
 */

/** The length of one cursor interval; seconds (20, the protocol's default). */
export const CURSOR_INTERVAL_S = 20
/** Where intervals are counted from (the protocol's default epoch); epoch milliseconds. */
export const CURSOR_EPOCH_MS = Date.UTC(2024, 9, 9)
/** The jitter added past a client's cursor; seconds, 1 to 3600 as the protocol says. */
const MIN_JITTER_S = 1
const MAX_JITTER_S = 3600

/** The current interval's number at `now` (epoch milliseconds). */
export function currentCursor(now: number): number {
  return Math.floor((now - CURSOR_EPOCH_MS) / (CURSOR_INTERVAL_S * 1000))
}

/**
 * The cursor to answer with, given the client's `cursor` query parameter (null when absent) at `now`. A cursor that is
 * no strict decimal, or too large to add to, is ignored (it only keys the client's own cache). `random` is in [0, 1).
 */
export function responseCursor(clientCursor: string | null, now: number, random: () => number = Math.random): string {
  const current = currentCursor(now)
  const client = clientCursor === null ? undefined : strictDecimal(clientCursor, Number.MAX_SAFE_INTEGER - MAX_JITTER_S)
  if (client === undefined || client < current) return String(current)
  const jitterSeconds = MIN_JITTER_S + Math.floor(random() * (MAX_JITTER_S - MIN_JITTER_S + 1))
  return String(client + Math.max(1, Math.ceil(jitterSeconds / CURSOR_INTERVAL_S)))
}
