import type { StoredEvent } from '../../src/events.ts'
import type { StopSignal } from '../../src/bus/session-signal.ts'
import { redisUnavailable } from '../../src/redis/redis-errors.ts'
import { MemoryStore } from '../../src/store/memory-store.ts'

/** A memory store whose `read` throws while `failReads` is set: a store that breaks under an open stream. */
export class FailingStore extends MemoryStore {
  failReads = false
  /** While set, reads and waits fail as a store that cannot be reached for now does (Redis lost): 503. */
  unreachable = false

  override read(sessionId: string, after: number, limit?: number): Promise<StoredEvent[]> {
    if (this.failReads) return Promise.reject(new Error('disk I/O error (a test store that fails on demand)'))
    if (this.unreachable) return Promise.reject(redisUnavailable())
    return super.read(sessionId, after, limit)
  }

  override waitFor(sessionId: string, after: number, signal: StopSignal, timeoutMs?: number): Promise<boolean> {
    if (this.unreachable) return Promise.reject(redisUnavailable())
    return super.waitFor(sessionId, after, signal, timeoutMs)
  }
}
