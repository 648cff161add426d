import type { Notifier } from './bus/notifier.ts'
import type { Logger } from './log.ts'
import type { Metrics } from './metrics.ts'
import { type OpenRedisOptions, openRedis } from './redis/redis-open.ts'
import type { RunCoordinator } from './runs/run-coordinator.ts'
import type { EventStore } from './log/event-store.ts'
import { MemoryStore, type MemoryStoreOptions } from './store/memory-store.ts'
import { SqliteStore } from './store/sqlite-store.ts'
import { redacted, type StoreSpec } from './store-spec.ts'

/** Why a server could not be built (a store it cannot open, a token file it cannot read): one sentence. */
export class StartError extends Error {}

/** The bounds of a store createServer opens from a StoreSpec; a store given as an object brings its own. */
export type StoreLimits = Pick<
  MemoryStoreOptions,
  'maxSessions' | 'maxEvents' | 'maxSessionBytes' | 'maxStoreBytes' | 'maxEventsPerSession'
>

export interface OpenStoreOptions {
  limits: StoreLimits
  /** `redis://` only: the run lease and the key prefix (redis-open.ts). */
  redis: Pick<OpenRedisOptions, 'leaseMs' | 'prefix'>
  /** Injected wake-ups and run ownership, which win over the ones a Redis store brings. */
  notifier?: Notifier
  coordinator?: RunCoordinator
  metrics: Metrics
  log: Logger
}

/** A store with the wake-ups and run ownership that go with it (a Redis store brings both). */
export interface OpenedStore {
  store: EventStore
  notifier?: Notifier
  coordinator?: RunCoordinator
}

const messageOf = (error: unknown) => (error instanceof Error ? error.message : String(error))

/** Opens the store a spec names; throws StartError with a one-line reason when it cannot. */
export async function openStore(spec: StoreSpec, options: OpenStoreOptions): Promise<OpenedStore> {
  const { limits, notifier, coordinator, metrics, log } = options
  // The cap's trims run beside the appends (log-core.ts): one that fails is told here, and tried again at the next event.
  const core = {
    onCapFailure: (session_id: string, error: Error) =>
      log.warn('trimming a session to its cap failed; the next event past it tries again', { session_id, error: error.message }),
  }
  if (spec.kind === 'redis') {
    try {
      const redis = await openRedis(spec.url, { ...options.redis, ...limits, notifier, log, metrics, core })
      return { store: redis.store, notifier: redis.notifier, coordinator: coordinator ?? redis.coordinator }
    } catch (error) {
      throw new StartError(`cannot reach the Redis store at ${redacted(spec.url)}: ${messageOf(error)}`)
    }
  }
  if (spec.kind === 'memory') return { store: new MemoryStore({ ...limits, notifier, metrics, core }), notifier, coordinator }
  try {
    // The store-wide bounds (--max-sessions, --max-events, --max-store-bytes) are the memory store's: a file holds more.
    const { maxEventsPerSession, maxSessionBytes } = limits
    const store = new SqliteStore(spec.path, { maxEventsPerSession, maxSessionBytes, notifier, metrics, core })
    return { store, notifier, coordinator }
  } catch (error) {
    throw new StartError(`cannot open the SQLite store at ${spec.path}: ${messageOf(error)}`)
  }
}
