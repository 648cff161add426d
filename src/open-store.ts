import type { Notifier } from './bus/notifier.ts'
import type { Logger } from './log.ts'
import type { Metrics } from './metrics.ts'
import { type OpenRedisOptions, openRedis } from './redis/redis-open.ts'
import type { RunCoordinator } from './runs/run-coordinator.ts'
import type { EventStore } from './log/event-store.ts'
import type { EventLogOptions } from './log/event-log.ts'
import { MemoryStore } from './store/memory-store.ts'
import { SqliteStore } from './store/sqlite-store.ts'
import { redacted, type StoreSpec } from './store-spec.ts'

/** Why a server could not be built (a store it cannot open, a token file it cannot read): one sentence. */
export class StartError extends Error {}

/**
 * The bounds of a store createServer opens from a StoreSpec, in the words of the event log (createEventLog) that every
 * store is built on; a store given as an object brings its own.
 */
export type StoreLimits = Pick<EventLogOptions, 'maxSessions' | 'maxEvents' | 'maxSessionBytes' | 'maxStoreBytes' | 'maxEventsPerSession'>

export interface OpenStoreOptions {
  /** The bounds of the store opened, whichever it is; each left out is that store's default. */
  storeLimits: StoreLimits
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

/**
 * Opens the store a spec names, with the one `storeLimits` whichever it is; throws StartError with a one-line reason
 * when it cannot. The store-wide bounds (--max-events, --max-store-bytes) are the memory store's, sized for a demo's
 * RAM: a SQLite file or a Redis shared by several instances takes the per-chat ones, and --max-sessions only when the
 * operator set it (it caps chats and Durable Streams together: a PUT at any path must not fill the disk), so a
 * deployment is not capped at a demo's 10,000 chats by a default it never set.
 */
export async function openStore(spec: StoreSpec, options: OpenStoreOptions): Promise<OpenedStore> {
  const { storeLimits, notifier, coordinator, metrics, log } = options
  const { maxEventsPerSession, maxSessionBytes, maxSessions } = storeLimits
  // The cap's trims run beside the appends (log-core.ts): one that fails is told here, and tried again at the next event.
  const core = {
    onCapFailure: (session_id: string, error: Error) =>
      log.warn('trimming a session to its cap failed; the next event past it tries again', { session_id, error: error.message }),
  }
  if (spec.kind === 'redis') {
    try {
      const redis = await openRedis(spec.url, {
        ...options.redis,
        maxEventsPerSession,
        maxSessionBytes,
        maxSessions,
        notifier,
        log,
        metrics,
        core,
      })
      return { store: redis.store, notifier: redis.notifier, coordinator: coordinator ?? redis.coordinator }
    } catch (error) {
      throw new StartError(`cannot reach the Redis store at ${redacted(spec.url)}: ${messageOf(error)}`)
    }
  }
  if (spec.kind === 'memory') return { store: new MemoryStore({ ...storeLimits, notifier, metrics, core }), notifier, coordinator }
  try {
    const store = new SqliteStore(spec.path, { maxEventsPerSession, maxSessionBytes, maxSessions, notifier, metrics, core })
    return { store, notifier, coordinator }
  } catch (error) {
    throw new StartError(`cannot open the SQLite store at ${spec.path}: ${messageOf(error)}`)
  }
}
