/**
 * The stores the crash contract (crash-recovery.ts) opens, in the test and in its child: one export per store, called
 * with JSON arguments, answering the store alone or the store with the run coordinator that goes with it.
 */
import type { EventStore } from '../../src/log/event-store.ts'
import { createEventLog } from '../../src/log/event-log.ts'
import { silentLogger } from '../../src/log.ts'
import type { OpenedStore } from '../../src/open-store.ts'
import { openRedis } from '../../src/redis/redis-open.ts'
import { SqliteStore } from '../../src/store/sqlite-store.ts'
import { openJournalBackend } from '../helpers/journal-backend.ts'

/** How a store is opened, in the test and in a child process: a module's export called with JSON arguments. */
export interface StoreSpec {
  /** Absolute path of the module. */
  module: string
  /** The export that opens the store: `(...args) => EventStore | OpenedStore`, or a promise of one. */
  export: string
  /** Its arguments, made fresh for each test (a new database file); JSON. */
  args: () => unknown[]
}

/** The store `spec` names, opened with `args`, and its coordinator if it brings one (a run then claims it first). */
export async function openSpec(spec: Omit<StoreSpec, 'args'>, args: unknown[]): Promise<OpenedStore> {
  const open = (await import(spec.module))[spec.export] as (...a: unknown[]) => Promise<EventStore | OpenedStore> | EventStore | OpenedStore
  const opened = await open(...args)
  return 'store' in opened ? opened : { store: opened }
}

/** The SQLite store at `path`. */
export const openSqlite = (path: string) => new SqliteStore(path)

/** The event log over a journaled memory backend (test/helpers/journal-backend.ts): the core's own recovery. */
export const openJournaled = async (path: string) => createEventLog(await openJournalBackend(path))

/**
 * The Redis store at `url` under `prefix`, as openStore opens it, with runs leased for `leaseMs` (milliseconds). Its
 * sweep for abandoned runs is stopped (a claim's own renewal goes on): the contract recovers runs itself, and a sweep
 * in the background would race it to the run.
 */
export const openRedisStore = async (url: string, prefix: string, leaseMs: number): Promise<OpenedStore> => {
  const { store, coordinator } = await openRedis(url, { prefix, leaseMs, log: silentLogger })
  coordinator.close()
  return { store, coordinator }
}
