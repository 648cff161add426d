import type { StopSignal } from '../bus/session-signal.ts'
import type { NewEvent, StoredEvent } from '../events.ts'

/** What the store knows about a session. */
export interface SessionRecord {
  id: string
  /** ISO 8601. */
  created_at: string
  /** The `seq` of the newest event, 0 for an empty log. */
  last_seq: number
}

/**
 * The ordered, per-session event log that every connection reads with its own cursor.
 *
 * Contract (test/contract/store.contract.ts runs it against every implementation):
 * - `append` validates the event, assigns the session's next `seq` (1, 2, 3…, strictly increasing, never reused)
 *   and makes it visible to `read` and to every `waitFor` caller. Its promise resolves only once the event is
 *   stored and visible; an append that fails rejects (a write failure with STORE_UNAVAILABLE, 503), takes no `seq`
 *   and leaves nothing visible.
 * - `read` returns events with `seq > after`, ascending, at most `limit`. Consecutive `seq`s with a hole in them
 *   mean the store dropped events (retention: the per-session cap, or compaction of a finished run's `partial`s);
 *   callers treat a hole right after their cursor as a reset.
 * - `waitFor` resolves `false` once the session's log holds an event after `after` or when `signal` aborts, and
 *   `true` when `timeoutMs` passes first (the stream's heartbeat).
 */
export interface EventStore {
  createSession(id: string): Promise<SessionRecord>
  getSession(id: string): Promise<SessionRecord | undefined>
  append(sessionId: string, event: NewEvent): Promise<StoredEvent>
  read(sessionId: string, after: number, limit?: number): Promise<StoredEvent[]>
  waitFor(sessionId: string, after: number, signal: StopSignal, timeoutMs?: number): Promise<boolean>
  /** Resolves when the store can serve reads and writes (for /readyz). */
  ping(): Promise<void>
  close(): Promise<void>
}

/** The page size `read` uses when no limit is given (events). */
export const DEFAULT_READ_LIMIT = 1000
