import type { Notifier } from '../bus/notifier.ts'
import type { StopSignal } from '../bus/session-signal.ts'
import type { NewEvent, StoredEvent } from '../events.ts'
import type { StoreMetrics } from '../metrics.ts'
import type { StepSpec } from '../steps/step.ts'
import type { PruneReport, RetentionPolicy } from './retention-policy.ts'

/** What the store knows about a session. */
export interface SessionRecord {
  id: string
  /** ISO 8601. */
  created_at: string
  /** The `seq` of the newest event, 0 for an empty log. */
  last_seq: number
  /** The step that answers this session's messages, as recorded when it was created. */
  step: StepSpec
  /** The SHA-256 (hex) of the session's publisher token, for a session whose runs a program publishes. */
  publisher_hash?: string
  /**
   * The session's read-only id: as unguessable as `id` (its own 128 random bits, never derived from `id`), it lets a
   * holder watch the session but never write to it. The store assigns it when it creates the session.
   */
  viewer_id: string
  /** The chat this one was branched from (`POST /api/sessions/:id/fork`) and the seq it was branched at. */
  forked_from?: { id: string; at: number }
  /** Its title: the one a rename gave it, else its first message's (cut to TITLE_MAX_CHARS), else '' (no message yet). */
  title: string
}

/** What else a new session may record. */
export interface NewSessionOptions {
  /** The hash of its publisher token (src/publish/publisher-token.ts), for a session a program publishes into. */
  publisherHash?: string
}

/**
 * The ordered, per-session event log that every connection reads with its own cursor.
 *
 * Contract (test/contract/store.contract.ts runs it against every implementation):
 * - `append` validates the event, assigns the session's next `seq` (1, 2, 3…, strictly increasing, never reused)
 *   and makes it visible to `read` and to every `waitFor` caller. Its promise resolves only once the event is
 *   stored and visible; an append that fails rejects (a write failure with STORE_UNAVAILABLE, 503), takes no `seq`
 *   and leaves nothing visible. Appends issued without waiting get consecutive seqs in the order they were made.
 *   An unknown session rejects with SESSION_NOT_FOUND.
 * - `read` returns events with `seq > after`, ascending, at most `limit` events. Consecutive `seq`s with a hole in
 *   them mean the store dropped events (retention: the per-session cap, or compaction of a finished run's
 *   `partial`s); callers treat a hole right after their cursor as a reset. A cursor at or past the head, or an
 *   unknown session, reads nothing.
 * - `waitFor` resolves `false` once the session's log holds an event after `after` or when `signal` aborts (at once
 *   if it already has), and `true` when `timeoutMs` passes first (the stream's heartbeat). An unknown session
 *   rejects with SESSION_NOT_FOUND.
 * - `createSession` gives the session a fresh viewer id (`newId()`), distinct from every owner and viewer id;
 *   `getSessionByViewer` finds the session by it, and by nothing else (an owner id finds nothing there).
 * - The same limits on every store (src/log/log-core.ts applies them): the per-session cap drops the oldest events on
 *   append; past the store-wide limits new sessions and events get STORE_FULL (503, Retry-After) while a run's closing
 *   event still lands; after `close()` an append or a wait gets STORE_UNAVAILABLE (503), "shutting down".
 */
export interface EventStore {
  /** The caller names the step (the registry's default when a request names none: src/http/deps.ts). */
  createSession(id: string, step: StepSpec, options?: NewSessionOptions): Promise<SessionRecord>
  getSession(id: string): Promise<SessionRecord | undefined>
  /** The session whose `viewer_id` is `viewerId`; undefined for any other string, owner ids included. */
  getSessionByViewer(viewerId: string): Promise<SessionRecord | undefined>
  /**
   * Gives the session a title (chat-title.ts `checkedTitle` checked it), or with undefined takes the one it was given
   * away: its first message's is shown again. Answers the session as renamed; undefined for an unknown session.
   */
  renameSession(id: string, title: string | undefined): Promise<SessionRecord | undefined>
  /**
   * Deletes the session: its events, its meta, its viewer id, its producers, from the store (LogCore `delete`). A
   * session its branches name is kept for them, gone for everyone else, and goes with its last branch. False when it
   * was not there.
   */
  deleteSession(id: string): Promise<boolean>
  /** Stores the event; the first `user` one gives the session its automatic title (chat-title.ts `autoTitle`). */
  append(sessionId: string, event: NewEvent): Promise<StoredEvent>
  read(sessionId: string, after: number, limit?: number): Promise<StoredEvent[]>
  /**
   * The newest events with `seq < before`, ascending, as many as fit in `maxBytes` (byte-budget.ts's `storedBytes`),
   * and at least one when there is one however large it is: what a page shows of a long chat, read from the end in
   * pages so that no read holds the event loop for long, whatever the chat's size. An unknown session reads nothing.
   */
  readBefore(sessionId: string, before: number, maxBytes: number): Promise<StoredEvent[]>
  waitFor(sessionId: string, after: number, signal: StopSignal, timeoutMs?: number): Promise<boolean>
  /** Resolves when the store can serve reads and writes (for /readyz). */
  ping(): Promise<void>
  close(): Promise<void>
}

/** What every store takes besides its own settings. */
export interface StoreDeps {
  /** Wakes the streams of a session when its log grows; defaults to an in-process SessionSignal. */
  notifier?: Notifier
  /** Told of each stored event and of each commit's duration (`/metrics`); nothing is counted when absent. */
  metrics?: StoreMetrics
}

/** A run that `recoverOpenRuns` closed. */
export interface RecoveredRun {
  sessionId: string
  stepId: string
  /** The seq of the `interrupt` it was given. */
  seq: number
}

/** A store that outlives the process can find runs a crash left open and close them. */
export interface RecoversRuns {
  /** Closes every run left without a closing event; call once at start, before serving. */
  recoverOpenRuns(): Promise<RecoveredRun[]>
  /**
   * Closes the session's run left open, if no live owner holds it and it is not `unless` (the run that just claimed
   * the session, which a shared coordinator records as open at once); undefined when there was none to close.
   */
  recoverSession(sessionId: string, unless?: string): Promise<RecoveredRun | undefined>
}

/** A store that forgets: idle sessions, old events, compaction. `main` schedules it for any store that has it. */
export interface Prunable {
  prune(policy: RetentionPolicy, now?: Date): Promise<PruneReport>
}

/** A store that branches a chat: a new session holding another's events up to a point (the chat app's branches). */
export interface ForksSessions {
  /**
   * Session `id` with the events of `sourceId` up to `at`, same seqs; a run open at `at` is closed in the branch. It
   * is recorded as a version of the source's message after `at` (src/log/chat-versions.ts); TOO_MANY_BRANCHES past
   * MAX_BRANCHES_PER_CHAT.
   */
  forkSession(sourceId: string, at: number, id: string, options?: NewSessionOptions): Promise<SessionRecord>
  /** The chat and the chats it was branched from, nearest first, at most MAX_BRANCH_DEPTH: what versions are read from. */
  lineage(id: string): Promise<ChatLineage>
}

/** A chat of a lineage: where it was branched from its parent (the next one), and the branches recorded in it. */
export interface LineageChat {
  id: string
  /** Gone for everyone but its branches (deleted while they live): listed among versions no more. */
  deleted: boolean
  forkedAt?: number
  branches: readonly ChatBranch[]
}

/** A branch recorded in the chat whose message it is a version of: its id and the seq it was branched at. */
export interface ChatBranch {
  id: string
  at: number
}

/** A chat, then its parent, and so on up to the first chat or MAX_BRANCH_DEPTH. */
export type ChatLineage = readonly LineageChat[]

/** Capabilities are found by what a store can do, never by its class. */
export const canRecover = (store: EventStore): store is EventStore & RecoversRuns =>
  typeof (store as Partial<RecoversRuns>).recoverOpenRuns === 'function'
export const canFork = (store: EventStore): store is EventStore & ForksSessions =>
  typeof (store as Partial<ForksSessions>).forkSession === 'function'
export const canPrune = (store: EventStore): store is EventStore & Prunable => typeof (store as Partial<Prunable>).prune === 'function'

/** The page size `read` uses when no limit is given (events). */
export const DEFAULT_READ_LIMIT = 1000
