import type { StopSignal } from '../bus/session-signal.ts'
import type { LogEntry, LogId, LogState, NewLog, ProducerWrite } from '../log/log-backend.ts'
import type { LogCore } from '../log/log-core.ts'
import type { Appended } from '../log/log-ledger.ts'
import type { WaitOutcome } from '../log/log-waits.ts'

/**
 * What the stream layer asks of a log, over the log core as it stands. Every call names a stream by its name; the log
 * it lives in is `stream:<name>`, a prefix no chat id can take (session ids are 22 characters of [A-Za-z0-9_-]).
 * Each call is one atomic step of the backend: a PUT with its body, a fork with its cut entry, an entry with its marks.
 */
export interface StreamLog {
  /** Creates the stream with `entries` (oldest first); false when the name is taken. */
  create(name: string, init: StreamInit): Promise<boolean>
  state(name: string): Promise<LogState | undefined>
  read(name: string, after: number, limit: number): Promise<LogEntry[]>
  /**
   * Appends one entry (or, with `data` null, a change of state alone) with its marks, compared as they were read;
   * rejects with the core's refusal (PRODUCER_STALE when a mark changed since).
   */
  append(name: string, change: StreamChange): Promise<Appended>
  /** A mark written with an earlier append (a producer's state, the last Stream-Seq); undefined when none. */
  mark(name: string, key: string): Promise<string | undefined>
  /** The keys of every mark the stream holds. */
  markKeys(name: string): Promise<string[]>
  /** Forgets marks (a producer's state, past the cap of producers per stream). */
  forgetMarks(name: string, keys: readonly string[]): Promise<void>
  /** Moves the stream's expiry (a sliding TTL); false when it is gone. */
  touch(name: string, expiresAt: number): Promise<boolean>
  setMeta(name: string, meta: string): Promise<boolean>
  /** Resolves false once the head passes `after` (or a signal aborts), true after `timeoutMs`. */
  waitFor(name: string, after: number, signal: StopSignal, timeoutMs: number): Promise<WaitOutcome>
  /**
   * Deletes the stream: 'deleted', or 'soft' while forks refer to it (it answers 410 and goes with its last fork);
   * undefined when there was none.
   */
  delete(name: string): Promise<'deleted' | 'soft' | undefined>
  /**
   * Creates `target` holding the source's entries up to `at`, then `tail` as its next entry, then the init's entries;
   * false when the name is taken. The source counts it among its forks until it goes.
   */
  fork(source: string, at: number, target: string, init: StreamInit, tail: string | undefined): Promise<boolean>
  /** The clock; epoch milliseconds. */
  now(): number
}

/** How a stream starts. */
export interface StreamInit {
  meta: string
  closed: boolean
  expiresAt: number | undefined
  /** Entries of the PUT's body (one, or none). */
  entries: readonly string[]
}

/** One append: data (null for a close alone), whether it closes the stream, and the marks stored with it. */
export interface StreamChange {
  data: string | null
  closes: boolean
  marks: readonly ProducerWrite[]
}

/** The log a stream lives in. */
export const streamLogId = (name: string): LogId => `stream:${name}`

/** A StreamLog over the log core of the store (every backend: memory, SQLite, Redis). */
export class CoreStreamLog implements StreamLog {
  constructor(private readonly core: LogCore) {}

  now(): number {
    return this.core.now()
  }

  create(name: string, init: StreamInit): Promise<boolean> {
    return this.core.create({ log: streamLogId(name), ...newLog(init) })
  }

  state(name: string): Promise<LogState | undefined> {
    return this.core.state(streamLogId(name))
  }

  read(name: string, after: number, limit: number): Promise<LogEntry[]> {
    return this.core.read(streamLogId(name), after, limit)
  }

  append(name: string, change: StreamChange): Promise<Appended> {
    const { data, closes, marks } = change
    return this.core.append({ log: streamLogId(name), data, exempt: false, closesLog: closes, producers: marks })
  }

  mark(name: string, key: string): Promise<string | undefined> {
    return this.core.medium(() => this.core.backend.producer(streamLogId(name), key))
  }

  markKeys(name: string): Promise<string[]> {
    return this.core.medium(() => this.core.backend.producerKeys(streamLogId(name)))
  }

  forgetMarks(name: string, keys: readonly string[]): Promise<void> {
    return this.core.medium(() => this.core.backend.deleteProducers(streamLogId(name), keys))
  }

  touch(name: string, expiresAt: number): Promise<boolean> {
    return this.core.touch(streamLogId(name), expiresAt)
  }

  setMeta(name: string, meta: string): Promise<boolean> {
    return this.core.setMeta(streamLogId(name), meta)
  }

  waitFor(name: string, after: number, signal: StopSignal, timeoutMs: number): Promise<WaitOutcome> {
    return this.core.waitFor(streamLogId(name), after, signal, timeoutMs)
  }

  async delete(name: string): Promise<'deleted' | 'soft' | undefined> {
    const deleted = await this.core.delete(streamLogId(name))
    return deleted === 'SOFT' ? 'soft' : deleted && 'deleted'
  }

  fork(source: string, at: number, target: string, init: StreamInit, tail: string | undefined): Promise<boolean> {
    const log = { log: streamLogId(target), ...newLog(init) }
    return this.core.fork(streamLogId(source), at, { ...log, entries: [...(tail === undefined ? [] : [tail]), ...init.entries] })
  }
}

/** A stream's log as the backend creates it: never trimmed (no acknowledged entry is lost), with its first entries. */
function newLog(init: StreamInit): Omit<NewLog, 'log'> {
  return { meta: init.meta, expiresAt: init.expiresAt, closed: init.closed, capped: false, entries: init.entries }
}

/** The log core a store keeps its chats in (src/log/event-log.ts exposes it as `core`), if it has one. */
export function logCoreOf(store: object): LogCore | undefined {
  const core = (store as { core?: Partial<LogCore> }).core
  return typeof core?.append === 'function' && typeof core.fork === 'function' ? (core as LogCore) : undefined
}
