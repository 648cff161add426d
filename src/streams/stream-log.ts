import type { StopSignal } from '../bus/session-signal.ts'
import type { LogEntry, LogId, LogState } from '../log/log-backend.ts'
import type { LogCore, WaitOutcome } from '../log/log-core.ts'
import type { Appended } from '../log/log-ledger.ts'

/**
 * What the stream layer asks of a log, over the log core as it stands. Every call names a stream by its name; the log
 * it lives in is `stream:<name>`, a prefix no chat id can take (session ids are 22 characters of [A-Za-z0-9_-]).
 * Where the backend cannot yet do a step atomically (a PUT with a body, a fork with a cut entry, two marks with one
 * entry: docs/durable-streams.md, the last table), the adapter does it in two steps that each answer correctly.
 */
export interface StreamLog {
  /** Creates the stream with `entries` (oldest first); false when the name is taken. */
  create(name: string, init: StreamInit): Promise<boolean>
  state(name: string): Promise<LogState | undefined>
  read(name: string, after: number, limit: number): Promise<LogEntry[]>
  /** Appends one entry (or, with `data` null, a change of state alone) with its marks; rejects with the core's refusal. */
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
  /** Deletes the stream; false when there was none. */
  delete(name: string): Promise<boolean>
  /** Creates `target` holding the source's entries up to `at`, then `tail` as its next entry; false when the name is taken. */
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
  marks: readonly { key: string; value: string }[]
}

/** The log a stream lives in. */
export const streamLogId = (name: string): LogId => `stream:${name}`

/** A StreamLog over the log core of the store (every backend: memory, SQLite, Redis). */
export class CoreStreamLog implements StreamLog {
  constructor(private readonly core: LogCore) {}

  now(): number {
    return this.core.now()
  }

  async create(name: string, init: StreamInit): Promise<boolean> {
    const log = streamLogId(name)
    const closedEmpty = init.closed && init.entries.length === 0
    const created = await this.core.create({ log, meta: init.meta, expiresAt: init.expiresAt, closed: closedEmpty })
    if (!created) return false
    // The backend creates a log empty: the body follows as one append (a reader may see the empty stream first).
    await this.#appendAll(log, init.entries, init.closed && !closedEmpty)
    return true
  }

  state(name: string): Promise<LogState | undefined> {
    return this.core.state(streamLogId(name))
  }

  read(name: string, after: number, limit: number): Promise<LogEntry[]> {
    return this.core.read(streamLogId(name), after, limit)
  }

  async append(name: string, change: StreamChange): Promise<Appended> {
    const log = streamLogId(name)
    // One mark goes with the entry; a second (Stream-Seq beside a producer) follows alone, under the caller's lock.
    const [first, ...rest] = change.marks
    const appended = await this.core.append({ log, data: change.data, exempt: false, closesLog: change.closes, producer: first })
    for (const mark of rest) await this.core.append({ log, data: null, exempt: false, producer: mark })
    return appended
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

  async delete(name: string): Promise<boolean> {
    return (await this.core.delete(streamLogId(name))) !== undefined
  }

  async fork(source: string, at: number, target: string, init: StreamInit, tail: string | undefined): Promise<boolean> {
    const log = streamLogId(target)
    const forked = await this.core.fork(streamLogId(source), at, { log, meta: init.meta, expiresAt: init.expiresAt })
    if (!forked) return false
    // The cut entry and the body follow the copy as appends, as create's body does.
    await this.#appendAll(log, [...(tail === undefined ? [] : [tail]), ...init.entries], init.closed)
    return true
  }

  /**
   * The entries a create or a fork starts with, after the log. Refused (a body over the stream's budget, a store
   * shutting down), the log goes again: a retried PUT must not find an empty stream and call it created.
   */
  async #appendAll(log: LogId, entries: readonly string[], closes: boolean): Promise<void> {
    try {
      for (const [i, data] of entries.entries()) {
        await this.core.append({ log, data, exempt: false, closesLog: closes && i === entries.length - 1 })
      }
      if (closes && entries.length === 0) await this.core.append({ log, data: null, exempt: false, closesLog: true })
    } catch (error) {
      await this.core.delete(log).catch(() => undefined)
      throw error
    }
  }
}

/** The log core a store keeps its chats in (src/log/event-log.ts exposes it as `core`), if it has one. */
export function logCoreOf(store: object): LogCore | undefined {
  const core = (store as { core?: Partial<LogCore> }).core
  return typeof core?.append === 'function' && typeof core.fork === 'function' ? (core as LogCore) : undefined
}
