import { validateNewEvent, type NewEvent, type StoredEvent } from '../events.ts'
import { AppError, sessionNotFound } from '../errors.ts'
import { SessionSignal, type StopSignal } from '../bus/session-signal.ts'
import { DEFAULT_READ_LIMIT, type EventStore, type SessionRecord } from './event-store.ts'

interface MemorySession {
  record: SessionRecord
  /** The retained tail of the log; `events[0].seq` may be above 1 once the bound has dropped the oldest. */
  events: StoredEvent[]
}

export interface MemoryStoreOptions {
  /** Events kept per session before the oldest are dropped; defaults to 10,000 events. */
  maxEventsPerSession?: number
}

/** A bounded in-process log per session, for tests and ephemeral demos; gone when the process exits. */
export class MemoryStore implements EventStore {
  readonly #sessions = new Map<string, MemorySession>()
  readonly #signal = new SessionSignal()
  readonly #max: number

  constructor(options: MemoryStoreOptions = {}) {
    this.#max = options.maxEventsPerSession ?? 10_000
  }

  async createSession(id: string): Promise<SessionRecord> {
    if (this.#sessions.has(id)) throw new AppError('BAD_REQUEST', 'A session with that id already exists.')
    const record = { id, created_at: new Date().toISOString(), last_seq: 0 }
    this.#sessions.set(id, { record, events: [] })
    return { ...record }
  }

  async getSession(id: string): Promise<SessionRecord | undefined> {
    const session = this.#sessions.get(id)
    return session && { ...session.record }
  }

  async append(sessionId: string, event: NewEvent): Promise<StoredEvent> {
    const problem = validateNewEvent(event)
    if (problem) throw new AppError('INVALID_EVENT', problem)
    const session = this.#sessions.get(sessionId)
    if (!session) throw sessionNotFound()
    const stored = { ...event, seq: session.record.last_seq + 1, session_id: sessionId } as StoredEvent
    session.events.push(stored)
    session.record.last_seq = stored.seq
    // Drop in chunks so a full log costs one splice per tenth of the bound, not one shift per append.
    if (session.events.length > this.#max) session.events.splice(0, Math.ceil(this.#max / 10))
    this.#signal.notify(sessionId)
    return stored
  }

  async read(sessionId: string, after: number, limit = DEFAULT_READ_LIMIT): Promise<StoredEvent[]> {
    const events = this.#sessions.get(sessionId)?.events
    if (!events || events.length === 0) return []
    const first = events[0]!.seq
    const start = Math.max(0, after - first + 1)
    return events.slice(start, start + limit)
  }

  // Not async: a stream parks here between events, and an async wrapper would hold a frame and a promise more.
  waitFor(sessionId: string, after: number, signal: StopSignal, timeoutMs?: number): Promise<boolean> {
    // No await between this check and registering the waiter, so an append cannot slip in between.
    if ((this.#sessions.get(sessionId)?.record.last_seq ?? 0) > after) return Promise.resolve(false)
    return this.#signal.wait(sessionId, signal, timeoutMs)
  }

  async ping(): Promise<void> {}

  async close(): Promise<void> {
    this.#sessions.clear()
  }
}
