import { MemoryBackend } from '../log/backends/memory-backend.ts'
import { EventLog, type EventLogOptions, createEventLog } from '../log/event-log.ts'
import { DEFAULT_MAX_EVENTS, DEFAULT_MAX_SESSIONS, DEFAULT_MAX_STORE_BYTES } from '../defaults.ts'
import { MemorySignIns } from './memory-sign-ins.ts'
import type { KeepsSignIns } from './sign-ins.ts'

/** The memory store's settings: the event log's, with the store-wide bounds a process's memory needs by default. */
export type MemoryStoreOptions = EventLogOptions

/**
 * A bounded in-process log per session, for tests and ephemeral demos; gone when the process exits. The event log
 * over the memory backend, bounded as every store is (events per session, the session's bytes) and also store-wide by
 * default, so that a public demo on `--store memory` cannot be grown without limit: sessions (DEFAULT_MAX_SESSIONS),
 * events in all (DEFAULT_MAX_EVENTS) and their bytes (DEFAULT_MAX_STORE_BYTES).
 */
export class MemoryStore extends EventLog implements KeepsSignIns {
  /** The browser sign-ins, in this process like the chats. */
  readonly signIns = new MemorySignIns()

  constructor(options: MemoryStoreOptions = {}) {
    const log = createEventLog(new MemoryBackend(), {
      maxSessions: DEFAULT_MAX_SESSIONS,
      maxEvents: DEFAULT_MAX_EVENTS,
      maxStoreBytes: DEFAULT_MAX_STORE_BYTES,
      ...withoutUndefined(options),
    })
    super(log.core, options.metrics)
  }
}

/** The options given, without those set to undefined (which would hide the defaults above). */
function withoutUndefined(options: MemoryStoreOptions): MemoryStoreOptions {
  return Object.fromEntries(Object.entries(options).filter(([, value]) => value !== undefined)) as MemoryStoreOptions
}
