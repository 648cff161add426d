import type { StopSignal } from '../../src/bus/session-signal.ts'
import type { NewEvent, StoredEvent } from '../../src/events.ts'
import type { EventStore, SessionRecord } from '../../src/store/event-store.ts'
import { MemoryStore } from '../../src/store/memory-store.ts'

/** A memory store whose `read` throws while `failReads` is set: a store that breaks under an open stream. */
export class FailingStore implements EventStore {
  failReads = false
  readonly #inner = new MemoryStore()

  createSession(id: string): Promise<SessionRecord> {
    return this.#inner.createSession(id)
  }
  getSession(id: string): Promise<SessionRecord | undefined> {
    return this.#inner.getSession(id)
  }
  append(sessionId: string, event: NewEvent): Promise<StoredEvent> {
    return this.#inner.append(sessionId, event)
  }
  read(sessionId: string, after: number, limit?: number): Promise<StoredEvent[]> {
    if (this.failReads) return Promise.reject(new Error('disk I/O error (a test store that fails on demand)'))
    return this.#inner.read(sessionId, after, limit)
  }
  waitFor(sessionId: string, after: number, signal: StopSignal, timeoutMs?: number): Promise<boolean> {
    return this.#inner.waitFor(sessionId, after, signal, timeoutMs)
  }
  ping(): Promise<void> {
    return this.#inner.ping()
  }
  close(): Promise<void> {
    return this.#inner.close()
  }
}
