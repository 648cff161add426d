import type { RedisBackend } from '../log/backends/redis-backend.ts'
import { createEventLog, EventLog, type EventLogOptions } from '../log/event-log.ts'
import type { KeepsSignIns } from '../store/sign-ins.ts'
import type { RedisKeys } from './redis-keys.ts'
import type { RedisLink } from './redis-link.ts'
import { RedisSignIns } from './redis-sign-ins.ts'

/**
 * The shared store: the event log over the Redis log backend (src/log/backends/redis-backend.ts), with the sign-ins
 * every instance on the Redis sees. Runs are fenced by their lease (redis-run-coordinator.ts): the backend stores a
 * leased run's events only while it holds the lease, and recovers a run only once nobody does.
 */
export class RedisStore extends EventLog implements KeepsSignIns {
  /** The browser sign-ins, one expiring key each, shared by every instance on this Redis. */
  readonly signIns: RedisSignIns

  constructor(backend: RedisBackend, link: RedisLink, keys: RedisKeys, options: EventLogOptions = {}) {
    super(createEventLog(backend, options).core, options.metrics)
    this.signIns = new RedisSignIns(link, keys.signIn)
  }
}
