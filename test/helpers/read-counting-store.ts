import type { StoredEvent } from '../../src/events.ts'
import { MemoryStore } from '../../src/store/memory-store.ts'

/** A memory store that counts its reads: how many round trips the streams made to the store. */
export class ReadCountingStore extends MemoryStore {
  reads = 0
  override read(sessionId: string, after: number, limit?: number): Promise<StoredEvent[]> {
    this.reads++
    return super.read(sessionId, after, limit)
  }
}
