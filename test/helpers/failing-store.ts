import type { StoredEvent } from '../../src/events.ts'
import { MemoryStore } from '../../src/store/memory-store.ts'

/** A memory store whose `read` throws while `failReads` is set: a store that breaks under an open stream. */
export class FailingStore extends MemoryStore {
  failReads = false

  override read(sessionId: string, after: number, limit?: number): Promise<StoredEvent[]> {
    if (this.failReads) return Promise.reject(new Error('disk I/O error (a test store that fails on demand)'))
    return super.read(sessionId, after, limit)
  }
}
