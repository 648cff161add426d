import type { Notifier } from '../bus/notifier.ts'
import { SessionSignal, type StopSignal } from '../bus/session-signal.ts'
import { AppError, sessionNotFound } from '../errors.ts'
import { CLOSING_WITH_TEXT, type EventType, isClosing, type NewEvent, type StoredEvent, checkNewEvent } from '../events.ts'
import { newId } from '../session-id.ts'
import type { StoreMetrics } from '../metrics.ts'
import type { StepSpec } from '../steps/step.ts'
import {
  DEFAULT_READ_LIMIT,
  ECHO_STEP,
  type EventStore,
  type Prunable,
  type SessionRecord,
  type StoreDeps,
  type NewSessionOptions,
} from './event-store.ts'
import { MemorySignIns } from './memory-sign-ins.ts'
import type { KeepsSignIns } from './sign-ins.ts'
import { admit, type Budget, eventBytes, sessionFull, storeBytesFull } from './byte-budget.ts'
import { MEMORY_CELL_BYTES, MEMORY_VALUE_BYTES } from '../limits.ts'
import {
  DEFAULT_MAX_EVENTS,
  DEFAULT_MAX_EVENTS_PER_SESSION,
  DEFAULT_MAX_SESSION_BYTES,
  DEFAULT_MAX_SESSIONS,
  DEFAULT_MAX_STORE_BYTES,
} from '../defaults.ts'
import type { JsonMeasure } from '../json-shape.ts'
import { emptyPruneReport, type PruneReport, type RetentionPolicy } from './retention-policy.ts'
import { type KeepsProducers, type ProducerMark, type ProducerState, splitProducerMark } from './producer-state.ts'

interface MemorySession {
  record: SessionRecord
  /** The retained tail of the log; seqs ascend, with holes where compaction or the cap dropped events. */
  events: StoredEvent[]
  /** Epoch milliseconds of the last append (or of creation): what retention measures idleness by. */
  lastActivity: number
  /** False once compaction has looked at every event of the session. */
  uncompacted: boolean
  /** Producer state by run, then by producer id (producer-state.ts): kept and deleted with the session. */
  producers: Map<string, Map<string, ProducerState>>
  /** What `events` cost to hold (`heldBytes`), kept beside them: `chargeOf` holds each event's. */
  bytes: number
}

export interface MemoryStoreOptions extends StoreDeps {
  /** Events kept per session before the oldest are dropped; default DEFAULT_MAX_EVENTS_PER_SESSION (100,000). */
  maxEventsPerSession?: number
  /** Sessions held at once; a new one beyond it is refused with 503 until retention frees room. Default 10,000. */
  maxSessions?: number
  /**
   * Events held across all sessions; beyond it new messages and everything but a run's closing event are refused
   * with 503 (a run already going can still be closed). Default 1,000,000.
   */
  maxEvents?: number
  /**
   * Bytes one session's events may take as held (`heldBytes`: their JSON and what their parsed values cost); default
   * DEFAULT_MAX_SESSION_BYTES (64 MiB).
   */
  maxSessionBytes?: number
  /** Bytes all sessions' events may take together as held (`heldBytes`); default DEFAULT_MAX_STORE_BYTES (256 MiB). */
  maxStoreBytes?: number
}

const withText: ReadonlySet<EventType> = new Set(CLOSING_WITH_TEXT)

/** How long a client of a full store should wait before trying again; seconds. */
const FULL_RETRY_AFTER_S = 60

/**
 * A bounded in-process log per session, for tests and ephemeral demos; gone when the process exits. Bounded three
 * ways, so that a public demo on `--store memory` cannot be grown without limit: events per session, sessions, and
 * events in all; retention (`--retention`) applies to it as to SQLite.
 */
export class MemoryStore implements EventStore, Prunable, KeepsProducers, KeepsSignIns {
  /** The browser sign-ins, in this process like the chats. */
  readonly signIns = new MemorySignIns()
  readonly #sessions = new Map<string, MemorySession>()
  /** The same sessions by viewer id: created together with #sessions, deleted together (prune, close). */
  readonly #byViewer = new Map<string, MemorySession>()
  readonly #notifier: Notifier
  readonly #metrics: StoreMetrics | undefined
  readonly #maxPerSession: number
  readonly #maxSessions: number
  readonly #maxEvents: number
  readonly #maxSessionBytes: number
  readonly #store: Budget
  /** Each stored event's bytes of JSON (eventBytes), for pages bounded in bytes as the other stores bound them. */
  readonly #bytesOf = new WeakMap<StoredEvent, number>()
  /** What each stored event was charged (heldBytes), so dropping one gives it back without measuring it again. */
  readonly #chargeOf = new WeakMap<StoredEvent, number>()
  #events = 0

  constructor(options: MemoryStoreOptions = {}) {
    this.#notifier = options.notifier ?? new SessionSignal()
    this.#metrics = options.metrics
    this.#maxPerSession = options.maxEventsPerSession ?? DEFAULT_MAX_EVENTS_PER_SESSION
    this.#maxSessions = options.maxSessions ?? DEFAULT_MAX_SESSIONS
    this.#maxEvents = options.maxEvents ?? DEFAULT_MAX_EVENTS
    this.#maxSessionBytes = options.maxSessionBytes ?? DEFAULT_MAX_SESSION_BYTES
    this.#store = { used: 0, max: options.maxStoreBytes ?? DEFAULT_MAX_STORE_BYTES }
  }

  async createSession(id: string, step: StepSpec = ECHO_STEP, options: NewSessionOptions = {}): Promise<SessionRecord> {
    if (this.#sessions.has(id)) throw new AppError('BAD_REQUEST', 'A session with that id already exists.')
    if (this.#sessions.size >= this.#maxSessions) throw storeFull(`${this.#maxSessions} chats`)
    const record: SessionRecord = { id, created_at: new Date().toISOString(), last_seq: 0, step, viewer_id: newId() }
    if (options.publisherHash) record.publisher_hash = options.publisherHash
    const session = { record, events: [], lastActivity: Date.now(), uncompacted: true, producers: new Map(), bytes: 0 }
    this.#sessions.set(id, session)
    this.#byViewer.set(record.viewer_id, session)
    return { ...record }
  }

  async getSession(id: string): Promise<SessionRecord | undefined> {
    const session = this.#sessions.get(id)
    return session && { ...session.record }
  }

  async getSessionByViewer(viewerId: string): Promise<SessionRecord | undefined> {
    const session = this.#byViewer.get(viewerId)
    return session && { ...session.record }
  }

  async append(sessionId: string, marked: NewEvent): Promise<StoredEvent> {
    const [event, mark] = splitProducerMark(marked)
    const measure = checkNewEvent(event)
    const session = this.#sessions.get(sessionId)
    if (!session) throw sessionNotFound()
    if (this.#events >= this.#maxEvents && !isClosing(event)) throw storeFull(`${this.#maxEvents} events`)
    const budgets = [
      { used: session.bytes, max: this.#maxSessionBytes, store: false },
      { ...this.#store, store: true },
    ]
    // The gate measured the event's JSON bytes exactly, as eventBytes counts them: no second serialization per token.
    const asked = measure.bytes
    // A closing event cut to fit keeps its values: only its text is shorter.
    const values = heldBytes(0, measure)
    const full = (b: (typeof budgets)[number]) => (b.store ? storeBytesFull(b.max) : sessionFull(b.max))
    const fitted = admit(event, budgets, full, asked + values, values)
    const stored = { ...fitted, seq: session.record.last_seq + 1, session_id: sessionId } as StoredEvent
    const bytes = fitted === event ? asked : eventBytes(fitted)
    const charge = bytes + values
    this.#bytesOf.set(stored, bytes)
    this.#chargeOf.set(stored, charge)
    session.bytes += charge
    this.#store.used += charge
    session.events.push(stored)
    session.record.last_seq = stored.seq
    session.lastActivity = Date.now()
    session.uncompacted = true
    this.#events++
    if (mark) setProducer(session, mark)
    // Drop in chunks so a full log costs one splice per tenth of the bound, not one shift per append.
    if (session.events.length > this.#maxPerSession) this.#dropOldest(session, Math.ceil(this.#maxPerSession / 10))
    this.#notifier.notify(sessionId)
    this.#metrics?.eventPublished(stored.type)
    return stored
  }

  async read(sessionId: string, after: number, limit = DEFAULT_READ_LIMIT): Promise<StoredEvent[]> {
    const events = this.#sessions.get(sessionId)?.events
    if (!events) return []
    const lo = indexAfter(events, after)
    return events.slice(lo, lo + limit)
  }

  async readBefore(sessionId: string, before: number, maxBytes: number): Promise<StoredEvent[]> {
    const events = this.#sessions.get(sessionId)?.events
    if (!events) return []
    const end = indexAfter(events, before - 1)
    let start = end
    for (let bytes = 0; start > 0; start--) {
      bytes += this.#bytesOf.get(events[start - 1]!) ?? 0
      if (start < end && bytes > maxBytes) break
    }
    return events.slice(start, end)
  }

  // Not async: a stream parks here between events, and an async wrapper would hold a frame and a promise more.
  waitFor(sessionId: string, after: number, signal: StopSignal, timeoutMs?: number): Promise<boolean> {
    const session = this.#sessions.get(sessionId)
    if (!session) return Promise.reject(sessionNotFound())
    // No await between this check and registering the waiter, so an append cannot slip in between.
    if (session.record.last_seq > after) return Promise.resolve(false)
    return this.#notifier.wait(sessionId, signal, timeoutMs)
  }

  /** Applies the retention policy: deletes idle sessions, compacts finished runs, caps each session's events. */
  async prune(policy: RetentionPolicy, now = new Date()): Promise<PruneReport> {
    const report = emptyPruneReport()
    const idleBefore = now.getTime() - policy.idleMs
    const compactBefore = now.getTime() - policy.compactAfterMs
    for (const [id, session] of this.#sessions) {
      if (session.lastActivity < idleBefore) {
        this.#sessions.delete(id)
        this.#byViewer.delete(session.record.viewer_id)
        this.#events -= session.events.length
        this.#store.used -= session.bytes
        report.sessionsDeleted++
        report.eventsDeleted += session.events.length
        // Streams waiting on it wake, find it gone and end with a sentence.
        this.#notifier.notify(id)
        continue
      }
      if (session.uncompacted && session.lastActivity < compactBefore) report.partialsCompacted += this.#compact(session)
      const over = session.events.length - policy.maxEventsPerSession
      if (over > 0) {
        this.#dropOldest(session, over)
        report.eventsCapped += over
      }
    }
    return report
  }

  async producerState(sessionId: string, runId: string, producerId: string): Promise<ProducerState | undefined> {
    const state = this.#sessions.get(sessionId)?.producers.get(runId)?.get(producerId)
    return state && { ...state }
  }

  async producerCount(sessionId: string): Promise<number> {
    let count = 0
    for (const run of this.#sessions.get(sessionId)?.producers.values() ?? []) count += run.size
    return count
  }

  async forgetProducers(sessionId: string, keepRunId: string): Promise<void> {
    const producers = this.#sessions.get(sessionId)?.producers
    for (const runId of producers?.keys() ?? []) if (runId !== keepRunId) producers!.delete(runId)
  }

  async markProducer(sessionId: string, mark: ProducerMark): Promise<void> {
    const session = this.#sessions.get(sessionId)
    if (!session) throw sessionNotFound()
    setProducer(session, mark)
  }

  async ping(): Promise<void> {}

  async close(): Promise<void> {
    this.#sessions.clear()
    this.#byViewer.clear()
    this.#events = 0
    this.#store.used = 0
  }

  #dropOldest(session: MemorySession, count: number): void {
    for (const event of session.events.splice(0, count)) this.#forgetBytes(session, event)
    this.#events -= count
  }

  #forgetBytes(session: MemorySession, event: StoredEvent): void {
    const bytes = this.#chargeOf.get(event) ?? 0
    session.bytes -= bytes
    this.#store.used -= bytes
  }

  /** Drops the `partial`s of runs that ended with `final` or `interrupt`, whose text holds the whole answer. */
  #compact(session: MemorySession): number {
    const finished = new Set(session.events.filter((e) => withText.has(e.type)).map((e) => e.step_id))
    const before = session.events.length
    session.events = session.events.filter((e) => {
      const kept = e.type !== 'partial' || !finished.has(e.step_id)
      if (!kept) this.#forgetBytes(session, e)
      return kept
    })
    session.uncompacted = false
    this.#events -= before - session.events.length
    return before - session.events.length
  }
}

function setProducer(session: MemorySession, mark: ProducerMark): void {
  const { runId, producerId, ...state } = mark
  const run = session.producers.get(runId) ?? new Map<string, ProducerState>()
  run.set(producerId, state)
  session.producers.set(runId, run)
}

/**
 * What an event costs this store to hold, which is what its budgets count: its JSON (`jsonBytes`, as the other stores
 * count) and, since it is held parsed, each value's slot and each object, array and string's own cell (limits.ts).
 * 99,000 `{}` are 297 KB of JSON and about 7 MB held: counting the JSON alone let 33 MB of budget hold 875 MB.
 * `measure` is the event gate's (checkNewEvent), so the event is walked once.
 */
export function heldBytes(jsonBytes: number, measure: Pick<JsonMeasure, 'nodes' | 'cells'>): number {
  return jsonBytes + measure.nodes * MEMORY_VALUE_BYTES + measure.cells * MEMORY_CELL_BYTES
}

/** The index of the first event with a seq above `seq`: compaction leaves holes, so a seq is not an index. */
function indexAfter(events: readonly StoredEvent[], seq: number): number {
  let lo = 0
  let hi = events.length
  while (lo < hi) {
    const mid = (lo + hi) >> 1
    if (events[mid]!.seq <= seq) lo = mid + 1
    else hi = mid
  }
  return lo
}

const storeFull = (what: string) =>
  new AppError(
    'STORE_FULL',
    `The server's memory store is full (it holds at most ${what}) and takes no new work until old chats expire. Try again later.`,
    FULL_RETRY_AFTER_S,
  )
