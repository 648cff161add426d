import { DEFAULT_MAX_EVENTS_PER_SESSION } from '../defaults.ts'
import { ACTIVITY_RESOLUTION_MS, CLOSING_RESERVE_BYTES, DEFAULT_MAX_SESSION_BYTES, LOG_LEDGER_LOGS } from '../limits.ts'
import type { AppendEntry, LogEntry, LogId } from './log-backend.ts'
import type { Slot, StoreTotals } from './store-totals.ts'
import { describeLimit, logEntriesFull, type LogRefusals, storeFull } from './log-refusals.ts'

/** One entry as the layer above hands it to the core: the core measures it, touches the log and fits it. */
export interface CoreEntry extends Omit<AppendEntry, 'bytes' | 'touch'> {
  /**
   * For an exempt entry whose data does not fit what is left of its log's (or the store's) budget: the data cut to fit
   * `room` bytes (a closing event with its text cut). Without it an exempt entry is stored whole.
   */
  fit?: (room: number) => string
  /** The sentences its refusals are told with; default a stream's (LOG_REFUSALS). */
  words?: LogRefusals
}

/** What an append stored: its seq (for an entry without data, the log's head) and its data as stored (cut to fit). */
export type Appended = LogEntry | { seq: number; data: null }

/** The limits the core applies, the same on every backend. */
export interface LogLimits {
  /** Bytes one log's retained entries may take; default DEFAULT_MAX_SESSION_BYTES (64 MiB). */
  maxLogBytes: number
  /** What an entry that is not exempt must leave free of each byte budget; bytes, default CLOSING_RESERVE_BYTES. */
  reserveBytes: number
  /** Entries kept per log: past it the oldest tenth is dropped; entries, default DEFAULT_MAX_EVENTS_PER_SESSION. */
  maxEntriesPerLog: number
  /** Logs in the whole store; past it a new one is refused with 503 STORE_FULL; default unbounded. */
  maxLogs: number
  /** Entries in the whole store; past it entries that are not exempt are refused with 503 STORE_FULL; default unbounded. */
  maxEntries: number
  /** Bytes of entries in the whole store, kept as each log's are; default unbounded. */
  maxBytes: number
}

/** The limits given, with the defaults for the rest. */
export function withDefaults(limits: Partial<LogLimits>): LogLimits {
  return {
    maxLogBytes: limits.maxLogBytes ?? DEFAULT_MAX_SESSION_BYTES,
    reserveBytes: limits.reserveBytes ?? CLOSING_RESERVE_BYTES,
    maxEntriesPerLog: limits.maxEntriesPerLog ?? DEFAULT_MAX_EVENTS_PER_SESSION,
    maxLogs: limits.maxLogs ?? Number.POSITIVE_INFINITY,
    maxEntries: limits.maxEntries ?? Number.POSITIVE_INFINITY,
    maxBytes: limits.maxBytes ?? Number.POSITIVE_INFINITY,
  }
}

/** A batch as the backend gets it, and where each of its entries came from; refused entries are answered already. */
export interface Admitted {
  entries: AppendEntry[]
  /** The index in the batch of each of `entries`. */
  indexes: number[]
  answers: (Appended | Error | undefined)[]
}

interface Known {
  /**
   * Retained entries as last counted, plus those appended here since (a lower bound with other writers); undefined
   * until the backend has said.
   */
  count: number | undefined
  /** When this process last recorded the log's `activeAt`. */
  touchedAt: number
}

/**
 * What the core lets into a batch, and what it counts of each log: the store-wide limits over the store's totals
 * (store-totals.ts), each log's entry count and last touch, and the room a closing entry is cut to. The per-log byte
 * budget is the backend's to check, atomically with each entry.
 */
export class LogLedger {
  readonly #known = new Map<LogId, Known>()

  constructor(
    readonly limits: LogLimits,
    readonly totals: StoreTotals,
  ) {}

  /**
   * Refuses a new log (holding `entries` and their `bytes` already: a fork's, its first entries) past the store-wide limits, or holds its slot: pass the
   * slot to `totals.change` with the creation, which releases it. No await between the check and the hold, so
   * concurrent creates never pass `maxLogs` together.
   */
  async admitLog(bytes = 0, entries = 0): Promise<Slot> {
    const totals = await this.totals.loaded()
    const held = this.totals.held
    if (totals.logs + held.logs >= this.limits.maxLogs) throw storeFull(describeLimit('logs', this.limits.maxLogs))
    if (bytes > 0 && totals.bytes + held.bytes + bytes > this.limits.maxBytes - this.limits.reserveBytes) throw this.#bytesFull()
    if (entries > 0 && totals.entries + entries > this.limits.maxEntries) throw storeFull(describeLimit('entries', this.limits.maxEntries))
    return this.totals.hold({ logs: 1, bytes })
  }

  /**
   * Measures the entries a new log starts with (NewLog `entries`), refusing them as an append to the log would be past
   * its byte budget (with its reserve) or its entry cap.
   */
  firstEntries(entries: readonly string[] = [], words: LogRefusals): { entries: number; bytes: number } {
    const bytes = entries.reduce((sum, data) => sum + Buffer.byteLength(data), 0)
    if (bytes > this.limits.maxLogBytes - this.limits.reserveBytes) throw words.full(this.limits.maxLogBytes)
    if (entries.length > this.limits.maxEntriesPerLog) throw logEntriesFull(this.limits.maxEntriesPerLog)
    return { entries: entries.length, bytes }
  }

  /**
   * Measures a batch, refuses what would pass the store-wide limits, cuts closing entries to the room left (asking
   * `bytesOf` what a log holds), and marks which entries record `activeAt`.
   */
  async admit(batch: readonly CoreEntry[], now: number, bytesOf: (log: LogId) => Promise<number>): Promise<Admitted> {
    const totals = await this.totals.loaded()
    const admitted: Admitted = { entries: [], indexes: [], answers: new Array(batch.length) }
    // What this batch adds, entry by entry, to what each log and the store held before it.
    const added = new Map<LogId, number>()
    const held = new Map<LogId, number>()
    let entries = totals.entries
    let bytesInAll = totals.bytes + this.totals.held.bytes
    for (const [i, entry] of batch.entries()) {
      let data = entry.data
      let bytes = data === null ? 0 : Buffer.byteLength(data)
      if (data !== null && !entry.exempt) {
        const full =
          entries + 1 > this.limits.maxEntries
            ? storeFull(describeLimit('entries', this.limits.maxEntries))
            : bytesInAll + bytes > this.limits.maxBytes - this.limits.reserveBytes
              ? this.#bytesFull()
              : undefined
        if (full) {
          admitted.answers[i] = full
          continue
        }
      }
      if (data !== null && entry.exempt && entry.fit) {
        if (!held.has(entry.log)) held.set(entry.log, await bytesOf(entry.log))
        const used = held.get(entry.log)! + (added.get(entry.log) ?? 0)
        const room = Math.min(this.limits.maxLogBytes - used, this.limits.maxBytes - bytesInAll)
        if (bytes > room) {
          data = entry.fit(room)
          bytes = Buffer.byteLength(data)
        }
      }
      if (data !== null) {
        added.set(entry.log, (added.get(entry.log) ?? 0) + bytes)
        entries++
        bytesInAll += bytes
      }
      admitted.entries.push(appendEntry(entry, data, bytes, this.#touches(entry, now)))
      admitted.indexes.push(i)
    }
    return admitted
  }

  /** Counts an entry the backend stored (or a state-only change it made) at `now`, in its log's count. */
  stored(entry: AppendEntry, now: number): void {
    if (entry.touch) this.#remember(entry.log).touchedAt = now
    if (entry.data === null) return
    const known = this.#known.get(entry.log)
    if (known?.count !== undefined) known.count++
  }

  /** Whether the log may hold more than the cap: its count is not known, or past it. */
  mayBeOverCap(log: LogId): boolean {
    const count = this.#known.get(log)?.count
    return count === undefined || count > this.limits.maxEntriesPerLog
  }

  /** The log holds `count` entries, as the backend just said. */
  counted(log: LogId, count: number): void {
    this.#remember(log).count = count
  }

  /** `entries` of the log were deleted. */
  removed(log: LogId, entries: number): void {
    const known = this.#known.get(log)
    if (known?.count !== undefined) known.count = Math.max(0, known.count - entries)
  }

  forget(log: LogId): void {
    this.#known.delete(log)
  }

  /** Forgets every log's count and touch (their logs may have changed unseen); the totals stay. */
  clear(): void {
    this.#known.clear()
  }

  /** Whether this entry records the log's `activeAt`: run and log boundaries always, others once per resolution. */
  #touches(entry: CoreEntry, now: number): boolean {
    if (entry.opensRun || entry.closesRun || entry.closesLog) return true
    const touchedAt = this.#known.get(entry.log)?.touchedAt
    return touchedAt === undefined || now - touchedAt >= ACTIVITY_RESOLUTION_MS
  }

  #remember(log: LogId): Known {
    let known = this.#known.get(log)
    if (known) return known
    known = { count: undefined, touchedAt: Number.NEGATIVE_INFINITY }
    this.#known.set(log, known)
    if (this.#known.size > LOG_LEDGER_LOGS) this.#known.delete(this.#known.keys().next().value!)
    return known
  }

  #bytesFull() {
    return storeFull(describeLimit('bytes', this.limits.maxBytes))
  }
}

/**
 * The entry as the backend takes it: the core's fields (not `fit` and `words`) with its data as admitted. One literal
 * with every field, absent ones undefined, so every entry has one shape: the rest-and-spread copy it replaces showed in
 * the many-runs profile, once per event.
 */
function appendEntry(entry: CoreEntry, data: string | null, bytes: number, touch: boolean): AppendEntry {
  const admitted: EveryField = {
    log: entry.log,
    data,
    bytes,
    exempt: entry.exempt,
    touch,
    run: entry.run,
    opensRun: entry.opensRun,
    closesRun: entry.closesRun,
    fenced: entry.fenced,
    closesLog: entry.closesLog,
    producers: entry.producers,
    recovers: entry.recovers,
  }
  return admitted as AppendEntry
}

/** Every field of AppendEntry, present (undefined where absent): a field added to it fails to compile until copied. */
type EveryField = { [K in keyof Required<AppendEntry>]: AppendEntry[K] }
