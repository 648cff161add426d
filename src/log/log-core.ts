import type { Notifier } from '../bus/notifier.ts'
import { SessionSignal, type StopSignal } from '../bus/session-signal.ts'
import { AppError } from '../errors.ts'
import {
  ACTIVITY_RESOLUTION_MS,
  CLOSING_RESERVE_BYTES,
  DEFAULT_MAX_ENTRIES_PER_LOG,
  DEFAULT_MAX_SESSION_BYTES,
  MAX_APPEND_BATCH,
} from '../limits.ts'
import { GroupCommit } from './group-commit.ts'
import {
  type AppendEntry,
  type BackendTotals,
  type LogBackend,
  type LogEntry,
  type LogId,
  type LogState,
  type NewLog,
  type Refusal,
  StoreFailure,
} from './log-backend.ts'
import { describeLimit, LOG_REFUSALS, type LogRefusals, storeClosed, storeFull, storeUnavailable } from './log-refusals.ts'
import { LogTails, type LogTailsOptions, type Ticket } from './log-tails.ts'

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
  /** Entries kept per log: past it the oldest tenth is dropped; entries, default DEFAULT_MAX_ENTRIES_PER_LOG. */
  maxEntriesPerLog: number
  /** Logs in the whole store; past it a new one is refused with 503 STORE_FULL; default unbounded. */
  maxLogs: number
  /** Entries in the whole store; past it entries that are not exempt are refused with 503 STORE_FULL; default unbounded. */
  maxEntries: number
  /** Bytes of entries in the whole store, kept as each log's are; default unbounded. */
  maxBytes: number
}

export interface LogCoreOptions extends Partial<LogLimits> {
  /** Wakes the readers of a log when it changes; defaults to an in-process SessionSignal. */
  notifier?: Notifier
  /** The cache of each log's newest entries. */
  tails?: LogTailsOptions
  /** The most entries one commit takes; default MAX_APPEND_BATCH (256). */
  maxBatch?: number
  /** The clock, epoch milliseconds; default Date.now. Tests pass their own. */
  now?: () => number
  /** Told how long each commit took; seconds. */
  onCommit?: (seconds: number) => void
}

/** Logs whose entry count and last touch the core remembers; beyond it the least recent are asked again. */
const REMEMBERED_LOGS = 65_536

interface Known {
  /** Retained entries as last counted, plus those appended here since (a lower bound with other writers). */
  count: number
  /** When this process last recorded the log's `activeAt`. */
  touchedAt: number
}

/**
 * Every rule of a log, once, over any LogBackend (memory, SQLite, Redis): group commit, the cache of each log's
 * newest entries, head tracking and wake-ups, byte budgets with the closing reserve and exemption, the per-log entry
 * cap, the store-wide limits, refusals and their sentences, close. A chat's events (src/log/event-log.ts) and a
 * Durable Streams stream are each a log of it.
 */
export class LogCore {
  readonly limits: LogLimits
  readonly #backend: LogBackend
  readonly #notifier: Notifier
  readonly #tails: LogTails
  readonly #commits: GroupCommit<CoreEntry, Appended>
  readonly #now: () => number
  readonly #onCommit: ((seconds: number) => void) | undefined
  readonly #known = new Map<LogId, Known>()
  /** The store's totals: the backend's at open, plus what this process did since. */
  #totals: BackendTotals | undefined
  readonly #ready: Promise<void>
  #closed = false

  constructor(backend: LogBackend, options: LogCoreOptions = {}) {
    this.#backend = backend
    this.limits = {
      maxLogBytes: options.maxLogBytes ?? DEFAULT_MAX_SESSION_BYTES,
      reserveBytes: options.reserveBytes ?? CLOSING_RESERVE_BYTES,
      maxEntriesPerLog: options.maxEntriesPerLog ?? DEFAULT_MAX_ENTRIES_PER_LOG,
      maxLogs: options.maxLogs ?? Number.POSITIVE_INFINITY,
      maxEntries: options.maxEntries ?? Number.POSITIVE_INFINITY,
      maxBytes: options.maxBytes ?? Number.POSITIVE_INFINITY,
    }
    this.#notifier = options.notifier ?? new SessionSignal()
    this.#tails = new LogTails(options.tails)
    this.#commits = new GroupCommit((batch) => this.#commit(batch), options.maxBatch ?? MAX_APPEND_BATCH)
    this.#now = options.now ?? Date.now
    this.#onCommit = options.onCommit
    this.#ready = backend.totals().then((totals) => {
      this.#totals = totals
    })
    // An unhandled failure here would crash the process; each caller meets it when it awaits #ready.
    this.#ready.catch(() => {})
    backend.onRemoteChange?.((log, head) => this.#remoteChange(log, head))
    backend.onRemoteReset?.(() => this.#remoteReset())
  }

  /** The clock the core records times with; epoch milliseconds. */
  now(): number {
    return this.#now()
  }

  /** Creates the log; false when its id or an alias is taken. Refused with STORE_FULL past `maxLogs`. */
  async create(log: NewLog): Promise<boolean> {
    this.#open()
    const totals = await this.#loaded()
    if (totals.logs >= this.limits.maxLogs) throw storeFull(describeLimit('logs', this.limits.maxLogs))
    const created = await this.#medium(() => this.#backend.create(log, this.#now()))
    if (created) totals.logs++
    return created
  }

  /** The log's state; undefined for no such log, or one that has expired. */
  async state(log: LogId): Promise<LogState | undefined> {
    const ticket = this.#tails.peek(log)
    const state = await this.#medium(() => this.#backend.state(log))
    if (!state || this.#expired(state)) {
      this.#tails.forget(log)
      return undefined
    }
    if (ticket) this.#tails.heard(log, ticket, state.head)
    return state
  }

  resolveAlias(alias: string): Promise<LogId | undefined> {
    return this.#medium(() => this.#backend.resolveAlias(alias))
  }

  setMeta(log: LogId, meta: string): Promise<boolean> {
    return this.#medium(() => this.#backend.setMeta(log, meta))
  }

  /** Sets the log's expiry (null: never) and records it active now; false for no such log. */
  touch(log: LogId, expiresAt?: number | null): Promise<boolean> {
    return this.#medium(() => this.#backend.touch(log, this.#now(), expiresAt))
  }

  /**
   * Appends one entry. It goes to the backend with the other appends of this turn of the event loop (or of the time the
   * previous batch was on its way), in the order they were made, and resolves once it is stored and visible. Refusals
   * reject with their sentence; a failure of the medium rejects every append of the batch with STORE_UNAVAILABLE.
   */
  append(entry: CoreEntry): Promise<Appended> {
    if (this.#closed) return Promise.reject(storeClosed())
    return this.#commits.add(entry)
  }

  /** Entries with `seq > after`, ascending, at most `limit`: from memory when they are the newest of the log. */
  async read(log: LogId, after: number, limit: number): Promise<LogEntry[]> {
    const kept = this.#tails.read(log, after, limit)
    if (kept) return kept
    // Only a log followed already (by a wait or an append here) is cached: a read alone must not push others out.
    const ticket = this.#tails.peek(log)
    const entries = await this.#medium(() => this.#backend.read(log, after, limit))
    // A page that ends before `limit` holds the newest entries: keep them for the readers behind this one.
    if (ticket && entries.length < limit) this.#tails.add(log, ticket, entries)
    return entries
  }

  /** The newest entries with `seq < before` within `maxBytes` bytes of data (at least one); ascending. */
  readBefore(log: LogId, before: number, maxBytes: number): Promise<LogEntry[]> {
    return this.#medium(() => this.#backend.readBefore(log, before, maxBytes))
  }

  /**
   * Resolves `false` once the log's head passes `after` or a signal aborts, `true` when `timeoutMs` passes first.
   * An unknown log rejects with its refusal. The head is checked and the wait registered with no await between.
   */
  waitFor(log: LogId, after: number, signal: StopSignal, timeoutMs?: number, words = LOG_REFUSALS): Promise<boolean> {
    if (this.#closed) return Promise.reject(storeClosed())
    const head = this.#tails.head(log)
    if (head === undefined) return this.#waitUnknown(log, after, signal, timeoutMs, words)
    return head > after ? Promise.resolve(false) : this.#notifier.wait(log, signal, timeoutMs)
  }

  /** Deletes the log and everything of it; its readers wake and find it gone. Answers what it held, if it was there. */
  async delete(log: LogId): Promise<LogState | undefined> {
    const state = await this.#medium(() => this.#backend.state(log))
    const deleted = await this.#medium(() => this.#backend.delete(log))
    this.#forget(log)
    if (!deleted) return undefined
    if (state && this.#totals) {
      this.#totals.logs--
      this.#totals.entries -= state.count
      this.#totals.bytes -= state.bytes
    }
    this.#notifier.notify(log)
    return state
  }

  /** Deletes the given entries (compaction); readers meet the holes. Answers how many were deleted. */
  deleteEntries(log: LogId, seqs: readonly number[]): Promise<number> {
    return this.#shrink(log, () => this.#backend.deleteEntries(log, seqs))
  }

  /** Deletes every entry with `seq <= through`; answers how many were deleted. */
  trim(log: LogId, through: number): Promise<number> {
    return this.#shrink(log, () => this.#backend.trim(log, through))
  }

  /**
   * Creates `target` as a copy of `source` up to `at` (which must be within the source's head), refused like a new
   * log past the store's limits. False when the target's id or an alias is taken; the source's refusal when it is gone.
   */
  async fork(source: LogId, at: number, target: NewLog, words = LOG_REFUSALS): Promise<boolean> {
    this.#open()
    const totals = await this.#loaded()
    const from = await this.state(source)
    if (!from) throw words.noLog(source)
    if (!Number.isSafeInteger(at) || at < 0 || at > from.head) {
      throw new AppError('BAD_REQUEST', `It can be branched only at a position it has reached: 0 to ${from.head}.`)
    }
    if (totals.logs >= this.limits.maxLogs) throw storeFull(describeLimit('logs', this.limits.maxLogs))
    if (totals.bytes + from.bytes > this.limits.maxBytes - this.limits.reserveBytes) throw this.#storeBytesFull()
    const forked = await this.#medium(() => this.#backend.fork(source, at, target, this.#now()))
    if (forked === 'NO_LOG') throw words.noLog(source)
    if (!forked) return false
    const state = await this.#medium(() => this.#backend.state(target.log))
    totals.logs++
    totals.entries += state?.count ?? 0
    totals.bytes += state?.bytes ?? 0
    return true
  }

  /** The backend, for what the core adds nothing to (producers, listings): reads and state-only housekeeping. */
  get backend(): LogBackend {
    return this.#backend
  }

  /** Wraps a backend call: a failure of the medium becomes STORE_UNAVAILABLE with the backend's sentence. */
  async medium<T>(call: () => Promise<T>): Promise<T> {
    return this.#medium(call)
  }

  /** The store's totals as the core counts them: the backend's at open plus what this process did since. */
  async totals(): Promise<BackendTotals> {
    return { ...(await this.#loaded()) }
  }

  /** Resolves when the backend can serve; rejects with STORE_UNAVAILABLE otherwise. */
  ping(): Promise<void> {
    return this.#medium(() => this.#backend.ping())
  }

  /**
   * Stops taking appends (each one after this is refused as the server shutting down), answers those already taken,
   * and closes the backend. Safe to call twice.
   */
  async close(): Promise<void> {
    this.#closed = true
    await this.#commits.drain()
    await this.#backend.close()
  }

  async #commit(batch: CoreEntry[]): Promise<(Appended | Error)[]> {
    const totals = await this.#loaded()
    const now = this.#now()
    const answers: (Appended | Error | undefined)[] = new Array(batch.length)
    const entries: AppendEntry[] = []
    const indexes: number[] = []
    // What this batch adds, entry by entry, to what each log and the store held before it.
    const added = new Map<LogId, number>()
    const before = new Map<LogId, number>()
    let storeEntries = totals.entries
    let storeBytes = totals.bytes
    for (const [i, entry] of batch.entries()) {
      let data = entry.data
      let bytes = data === null ? 0 : Buffer.byteLength(data)
      if (data !== null && !entry.exempt) {
        if (storeEntries + 1 > this.limits.maxEntries) {
          answers[i] = storeFull(describeLimit('entries', this.limits.maxEntries))
          continue
        }
        if (storeBytes + bytes > this.limits.maxBytes - this.limits.reserveBytes) {
          answers[i] = this.#storeBytesFull()
          continue
        }
      }
      if (data !== null && entry.exempt && entry.fit) {
        if (!before.has(entry.log)) before.set(entry.log, (await this.#medium(() => this.#backend.state(entry.log)))?.bytes ?? 0)
        const used = before.get(entry.log)! + (added.get(entry.log) ?? 0)
        const room = Math.min(this.limits.maxLogBytes - used, this.limits.maxBytes - storeBytes)
        if (bytes > room) {
          data = entry.fit(room)
          bytes = Buffer.byteLength(data)
        }
      }
      if (data !== null) {
        added.set(entry.log, (added.get(entry.log) ?? 0) + bytes)
        storeEntries++
        storeBytes += bytes
      }
      const { fit: _fit, words: _words, ...plain } = entry
      entries.push({ ...plain, data, bytes, touch: this.#touches(entry, now) })
      indexes.push(i)
    }
    const tickets = new Map<LogId, Ticket>()
    for (const entry of entries) if (!tickets.has(entry.log)) tickets.set(entry.log, this.#tails.track(entry.log))
    const started = performance.now()
    let outcomes: Awaited<ReturnType<LogBackend['append']>>
    try {
      outcomes = entries.length === 0 ? [] : await this.#backend.append(entries, this.#batchLimits(), now)
    } catch (error) {
      // Nothing of the batch is visible: what the cache and the counts were told of it is dropped.
      for (const log of tickets.keys()) this.#forget(log)
      throw this.#failure(error)
    }
    this.#onCommit?.((performance.now() - started) / 1000)
    const changed = new Set<LogId>()
    const grown = new Set<LogId>()
    outcomes.forEach((outcome, k) => {
      const entry = entries[k]!
      const i = indexes[k]!
      if (typeof outcome !== 'number') {
        answers[i] = this.#refusal(outcome, entry.log, batch[i]!.words ?? LOG_REFUSALS)
        return
      }
      const ticket = tickets.get(entry.log)!
      this.#tails.heard(entry.log, ticket, outcome)
      changed.add(entry.log)
      if (entry.touch) this.#remember(entry.log).touchedAt = now
      if (entry.data === null) {
        answers[i] = { seq: outcome, data: null }
        return
      }
      const stored: LogEntry = { seq: outcome, data: entry.data }
      this.#tails.add(entry.log, ticket, [stored])
      totals.entries++
      totals.bytes += entry.bytes
      const known = this.#known.get(entry.log)
      if (known) known.count++
      grown.add(entry.log)
      answers[i] = stored
    })
    for (const log of changed) this.#notifier.notify(log)
    // The cap is applied after the batch is answered stored: a cap that fails is tried again at the next append.
    for (const log of grown) await this.#cap(log).catch(() => {})
    return answers as (Appended | Error)[]
  }

  /** Drops the oldest tenth of the cap once a log holds more than `maxEntriesPerLog` entries. */
  async #cap(log: LogId): Promise<void> {
    const max = this.limits.maxEntriesPerLog
    let known = this.#known.get(log)
    if (!known || known.count > max) {
      const state = await this.#backend.state(log)
      if (!state) return
      known = this.#remember(log)
      known.count = state.count
      // Drop in chunks so a full log costs one trim per tenth of the cap, not one delete per append.
      if (state.count > max) await this.#shrink(log, () => this.#backend.trim(log, state.tail + state.count - max + Math.ceil(max / 10)))
    }
  }

  /** Runs a deletion of entries, keeping the totals, the cache and the counts right; answers how many went. */
  async #shrink(log: LogId, change: () => Promise<void>): Promise<number> {
    const before = await this.#medium(() => this.#backend.state(log))
    // Forgotten before and after: no reader is answered from the cache while the change is under way.
    this.#tails.forget(log)
    await this.#medium(change)
    const after = await this.#medium(() => this.#backend.state(log))
    // Readers must meet the holes, so that a cursor inside one gets its reset.
    this.#tails.forget(log)
    if (!before || !after) return 0
    this.#remember(log).count = after.count
    if (this.#totals) {
      this.#totals.entries -= before.count - after.count
      this.#totals.bytes -= before.bytes - after.bytes
    }
    return before.count - after.count
  }

  async #waitUnknown(log: LogId, after: number, signal: StopSignal, timeoutMs: number | undefined, words: LogRefusals): Promise<boolean> {
    for (;;) {
      const ticket = this.#tails.track(log)
      const state = await this.#medium(() => this.#backend.state(log))
      if (!state || this.#expired(state)) {
        this.#tails.forget(log)
        throw words.noLog(log)
      }
      // Had the log been evicted meanwhile, a change could have passed unseen: ask again.
      if (!this.#tails.heard(log, ticket, state.head)) continue
      if (this.#closed) throw storeClosed()
      // No await from here to registering the wait, so no append can slip in between.
      return this.#tails.head(log)! > after ? false : this.#notifier.wait(log, signal, timeoutMs)
    }
  }

  #remoteChange(log: LogId, head: number | undefined): void {
    if (head === undefined) this.#forget(log)
    else this.#tails.raised(log, head)
    this.#notifier.notify(log)
  }

  /** Changes may have been missed: nothing cached can be trusted, and every waiter must look again. */
  #remoteReset(): void {
    this.#tails.clear()
    this.#known.clear()
    // A notifier that can wake everyone does (the in-process SessionSignal); a shared one reconnects on its own.
    ;(this.#notifier as Partial<Pick<SessionSignal, 'notifyAll'>>).notifyAll?.()
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
    known = { count: 0, touchedAt: Number.NEGATIVE_INFINITY }
    this.#known.set(log, known)
    if (this.#known.size > REMEMBERED_LOGS) this.#known.delete(this.#known.keys().next().value!)
    return known
  }

  #forget(log: LogId): void {
    this.#tails.forget(log)
    this.#known.delete(log)
  }

  #expired(state: LogState): boolean {
    return state.expiresAt !== undefined && state.expiresAt <= this.#now()
  }

  #batchLimits() {
    return { maxLogBytes: this.limits.maxLogBytes, reserveBytes: this.limits.reserveBytes }
  }

  #storeBytesFull(): AppError {
    return storeFull(describeLimit('bytes', this.limits.maxBytes))
  }

  #refusal(refusal: Refusal, log: LogId, words: LogRefusals): AppError {
    if (refusal === 'NO_LOG') return words.noLog(log)
    if (refusal === 'CLOSED') return words.closed(log)
    if (refusal === 'FULL') return words.full(this.limits.maxLogBytes)
    return words.fenced()
  }

  #failure(error: unknown): AppError {
    if (error instanceof AppError) return error
    if (error instanceof StoreFailure) return storeUnavailable(error.reason, error)
    return storeUnavailable('its store refused the write', error)
  }

  #open(): void {
    if (this.#closed) throw storeClosed()
  }

  async #loaded(): Promise<BackendTotals> {
    try {
      await this.#ready
    } catch (error) {
      throw this.#failure(error)
    }
    return this.#totals!
  }

  async #medium<T>(call: () => Promise<T>): Promise<T> {
    try {
      return await call()
    } catch (error) {
      throw this.#failure(error)
    }
  }
}
