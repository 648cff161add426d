import type { Notifier } from '../bus/notifier.ts'
import { SessionSignal, type StopSignal } from '../bus/session-signal.ts'
import { AppError } from '../errors.ts'
import { MAX_APPEND_BATCH, MAX_APPEND_BATCH_BYTES, MAX_MARKS_PER_ENTRY } from '../limits.ts'
import { GroupCommit } from './group-commit.ts'
import {
  type AppendEntry,
  type AppendOutcome,
  type BackendTotals,
  type DeletedCounts,
  type EntryCounts,
  type LogBackend,
  type LogEntry,
  type LogId,
  type LogState,
  MAX_LOG_META_BYTES,
  type NewLog,
  type OnPurged,
  type Refusal,
  refusalAt,
  StoreFailure,
} from './log-backend.ts'
import { type Appended, type CoreEntry, type LogLimits, LogLedger, withDefaults } from './log-ledger.ts'
import { LOG_REFUSALS, logEntriesFull, type LogRefusals, producerStale, storeClosed, storeUnavailable } from './log-refusals.ts'
import { LogTails, type LogTailsOptions, type Ticket } from './log-tails.ts'
import { LogWaits, type WaitOutcome } from './log-waits.ts'
import { StoreTotals, type TotalsChange } from './store-totals.ts'

export interface LogCoreOptions extends Partial<LogLimits> {
  /** Wakes the readers of a log when it changes; defaults to an in-process SessionSignal. */
  notifier?: Notifier
  /** The cache of each log's newest entries. */
  tails?: LogTailsOptions
  /** The most entries one commit takes; default MAX_APPEND_BATCH (256). */
  maxBatch?: number
  /** The most data one commit takes, however few its entries (one always goes); characters, default MAX_APPEND_BATCH_BYTES. */
  maxBatchBytes?: number
  /** The clock, epoch milliseconds; default Date.now. Tests pass their own. */
  now?: () => number
  /** Told how long each commit took; seconds. */
  onCommit?: (seconds: number) => void
  /**
   * Told when trimming a log to its cap failed (the next append past the cap tries again; `capFailures` counts them);
   * default: only counted.
   */
  onCapFailure?: (log: LogId, error: AppError) => void
}

/** Nothing, as the store's totals count it. */
const NOTHING: TotalsChange = { logs: 0, entries: 0, bytes: 0 }

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
  readonly #ledger: LogLedger
  readonly #totals: StoreTotals
  readonly #onCapFailure: LogCoreOptions['onCapFailure']
  readonly #waits: LogWaits
  /** The cap's trims under way, one per log at most: close() waits for them. */
  readonly #caps = new Map<LogId, Promise<void>>()
  #capFailures = 0
  #closed = false

  constructor(backend: LogBackend, options: LogCoreOptions = {}) {
    this.#backend = backend
    this.limits = withDefaults(options)
    this.#totals = new StoreTotals(() => backend.totals())
    this.#ledger = new LogLedger(this.limits, this.#totals)
    this.#onCapFailure = options.onCapFailure
    this.#notifier = options.notifier ?? new SessionSignal()
    this.#tails = new LogTails(options.tails)
    this.#commits = new GroupCommit(
      (batch) => this.#commit(batch),
      options.maxBatch ?? MAX_APPEND_BATCH,
      options.maxBatchBytes ?? MAX_APPEND_BATCH_BYTES,
      (entry) => entry.data?.length ?? 0,
    )
    this.#now = options.now ?? Date.now
    this.#onCommit = options.onCommit
    this.#waits = new LogWaits({
      tails: this.#tails,
      notifier: this.#notifier,
      now: this.#now,
      state: (log) => this.#medium(() => this.#backend.state(log)),
      closed: () => this.#closed,
    })
    backend.onRemoteChange?.((log, head, closed) => this.#remoteChange(log, head, closed === true))
    backend.onRemoteReset?.(() => this.#remoteReset())
  }

  /** The clock the core records times with; epoch milliseconds. */
  now(): number {
    return this.#now()
  }

  /**
   * Creates the log, with its first entries if given (atomically: no reader sees it without them); false when its id
   * or an alias is taken by a live log (an expired one is deleted for it). Refused with STORE_FULL past `maxLogs` (or
   * the store's entries or bytes), with `words.metaTooLarge` past MAX_LOG_META_BYTES, and as an append would be when
   * its entries pass the log's byte budget or entry cap.
   */
  async create(log: NewLog, words = LOG_REFUSALS): Promise<boolean> {
    this.#open()
    this.#checkMeta(log.meta, words)
    const first = this.#ledger.firstEntries(log.entries, words)
    const slot = await this.#medium(() => this.#ledger.admitLog(first.bytes, first.entries))
    const purges = this.#purges()
    return this.#medium(() =>
      this.#totals.change(
        () => this.#backend.create(log, this.#now(), purges.purged),
        (created) => plus(created ? { ...first, logs: 1 } : NOTHING, purges.counted),
        slot,
      ),
    )
  }

  /**
   * The log's state; undefined for no such log, or one that has expired. A soft-deleted log answers with `deletedAt`
   * set (Durable Streams' 410 Gone), and so does one that has expired while forks name it (from its expiry: the next
   * retention pass soft-deletes it).
   */
  async state(log: LogId): Promise<LogState | undefined> {
    const ticket = this.#tails.peek(log)
    const state = await this.#medium(() => this.#backend.state(log))
    const refused = refusalAt(state, this.#now())
    if (refused) this.#tails.forget(log)
    if (refused === 'NO_LOG') return undefined
    if (refused === 'GONE') return { ...state!, deletedAt: state!.deletedAt ?? state!.expiresAt }
    if (ticket) this.#tails.heard(log, ticket, state!.head, state)
    return state
  }

  resolveAlias(alias: string): Promise<LogId | undefined> {
    return this.#medium(() => this.#backend.resolveAlias(alias))
  }

  /** Replaces the log's meta; false for no such log. Refused with `words.metaTooLarge` past MAX_LOG_META_BYTES. */
  async setMeta(log: LogId, meta: string, words = LOG_REFUSALS): Promise<boolean> {
    this.#checkMeta(meta, words)
    return this.#medium(() => this.#backend.setMeta(log, meta))
  }

  /** Sets the log's expiry (null: never) and records it active now; false for no such log. */
  async touch(log: LogId, expiresAt?: number | null): Promise<boolean> {
    const touched = await this.#medium(() => this.#backend.touch(log, this.#now(), expiresAt))
    if (!touched || expiresAt === undefined) return touched
    this.#tails.expires(log, expiresAt)
    // Waiters are parked until the old expiry at most: they look again, and park until the new one.
    this.#notifier.notify(log)
    return touched
  }

  /**
   * Appends one entry. It goes to the backend with the other appends of this turn of the event loop (or of the time the
   * previous batch was on its way), in the order they were made, and resolves once it is stored and visible. Refusals
   * reject with their sentence; a failure of the medium rejects every append of the batch with STORE_UNAVAILABLE.
   */
  append(entry: CoreEntry): Promise<Appended> {
    if (this.#closed) return Promise.reject(storeClosed())
    if ((entry.producers?.length ?? 0) > MAX_MARKS_PER_ENTRY) {
      return Promise.reject(new AppError('BAD_REQUEST', `An entry carries at most ${MAX_MARKS_PER_ENTRY} producer marks.`))
    }
    return this.#commits.add(entry)
  }

  /**
   * Entries with `seq > after`, ascending, at most `limit`: from memory when they are the newest of the log. An
   * unknown or expired log: [].
   */
  async read(log: LogId, after: number, limit: number): Promise<LogEntry[]> {
    const now = this.#now()
    const kept = await this.#kept(log, after, limit, now)
    if (kept) return kept
    // Only a log followed already (by a wait or an append here) is cached: a read alone must not push others out.
    const ticket = this.#tails.peek(log)
    const entries = await this.#medium(() => this.#backend.read(log, after, limit, now))
    // A page that ends before `limit` holds the newest entries: keep them for the readers behind this one.
    if (ticket && entries.length < limit) this.#tails.add(log, ticket, entries)
    return entries
  }

  /**
   * The entries from memory, answered only for a log known to be live at `now` (the backend judges the others by the
   * same clock). A log met by an append has no known expiry yet: its state is looked up once, when memory could answer.
   */
  async #kept(log: LogId, after: number, limit: number, now: number): Promise<LogEntry[] | undefined> {
    if (this.#tails.liveUntil(log, now) === undefined) {
      const ticket = this.#tails.peek(log)
      if (!ticket || this.#tails.knowsExpiry(log) || this.#tails.read(log, after, limit) === undefined) return undefined
      const state = await this.#medium(() => this.#backend.state(log))
      // A soft-deleted log must never be known as live: the backend answers its reads.
      if (!state || state.deletedAt !== undefined) return undefined
      if (!this.#tails.heard(log, ticket, state.head, state) || this.#tails.liveUntil(log, now) === undefined) return undefined
    }
    return this.#tails.read(log, after, limit)
  }

  /** The newest entries with `seq < before` within `maxBytes` bytes of data (at least one); ascending. Unknown or expired log: []. */
  readBefore(log: LogId, before: number, maxBytes: number): Promise<LogEntry[]> {
    return this.#medium(() => this.#backend.readBefore(log, before, maxBytes, this.#now()))
  }

  /**
   * Resolves `false` once the log's head passes `after`, it is deleted or expires, or a signal aborts; `true` when
   * `timeoutMs` passes first; `'closed'` at once when the log is closed and `after` is its head (a waiter parked before
   * the close is woken by it, and its next wait answers so). An unknown or expired log rejects with its refusal. The
   * head is checked and the wait registered with no await between.
   */
  waitFor(log: LogId, after: number, signal: StopSignal, timeoutMs?: number, words = LOG_REFUSALS): Promise<WaitOutcome> {
    return this.#waits.waitFor(log, after, signal, timeoutMs, words)
  }

  /**
   * Deletes the log and everything of it; its readers wake and find it gone. Answers what went (with the soft-deleted
   * sources it left without forks), 'SOFT' when forks name it (it is marked deleted and kept: LogBackend `delete`), or
   * undefined when it was not there.
   */
  async delete(log: LogId): Promise<DeletedCounts | 'SOFT' | undefined> {
    const removed = await this.#medium(() =>
      this.#totals.change(
        () => this.#backend.delete(log, this.#now()),
        (gone) => (typeof gone === 'object' ? less(gone, gone.logs) : undefined),
      ),
    )
    this.#forget(log)
    if (!removed) return undefined
    this.#notifier.notify(log)
    return removed
  }

  /** Deletes the given entries (compaction); readers meet the holes. Answers how many were deleted. */
  deleteEntries(log: LogId, seqs: readonly number[]): Promise<number> {
    return this.#shrink(log, () => this.#backend.deleteEntries(log, seqs))
  }

  /** Deletes the log's oldest entries until at most `count` remain (a cap); answers how many were deleted. */
  keepNewest(log: LogId, count: number): Promise<number> {
    return this.#shrink(log, () => this.#backend.keepNewest(log, count))
  }

  /**
   * Creates `target` as a copy of `source` up to `at` (which must be within the source's head), then its own first
   * entries from `at + 1` (`target.entries`: a sub-offset fork's cut of the source's next entry), in one atomic step;
   * refused like a new log past the store's limits. False when the target's id or an alias is taken; the source's
   * refusal when it is gone.
   */
  async fork(source: LogId, at: number, target: NewLog, words = LOG_REFUSALS): Promise<boolean> {
    this.#open()
    this.#checkMeta(target.meta, words)
    const from = await this.state(source)
    if (!from) throw words.noLog(source)
    if (!Number.isSafeInteger(at) || at < 0 || at > from.head) {
      throw new AppError('BAD_REQUEST', `It can be branched only at a position it has reached: 0 to ${from.head}.`)
    }
    const own = this.#ledger.firstEntries(target.entries, words)
    // The source's retained entries and bytes bound what the copy takes (all of them when it forks at the head).
    const slot = await this.#medium(() => this.#ledger.admitLog(from.bytes + own.bytes, from.count + own.entries))
    const purges = this.#purges()
    const fork = () => this.#backend.fork(source, at, target, this.#now(), purges.purged)
    const forked = await this.#medium(() =>
      this.#totals.change(fork, (copied) => plus(typeof copied === 'object' ? { ...copied, logs: 1 } : NOTHING, purges.counted), slot),
    )
    if (forked === 'NO_LOG') throw words.noLog(source)
    if (forked === 'GONE') throw words.gone(source)
    return forked !== false
  }

  /** The backend, for what the core adds nothing to (producers, listings): reads and state-only housekeeping. */
  get backend(): LogBackend {
    return this.#backend
  }

  /** Wraps a backend call: a failure of the medium becomes STORE_UNAVAILABLE with the backend's sentence. */
  async medium<T>(call: () => Promise<T>): Promise<T> {
    return this.#medium(call)
  }

  /** The store's totals as the core counts them: the backend's when last asked, plus what this process did since. */
  async totals(): Promise<BackendTotals> {
    return { ...(await this.#medium(() => this.#totals.loaded())) }
  }

  /** Asks the backend for the store's totals again: what other instances did is counted from then on (each retention pass). */
  recount(): Promise<void> {
    return this.#medium(() => this.#totals.recount())
  }

  /** Trims to the cap that failed since the core opened (`onCapFailure` is told of each). */
  get capFailures(): number {
    return this.#capFailures
  }

  /** Resolves when the backend can serve; rejects with STORE_UNAVAILABLE otherwise. */
  ping(): Promise<void> {
    return this.#medium(() => this.#backend.ping())
  }

  /** Resolves once every append taken so far is answered and the trims to the cap they started are done. */
  async settled(): Promise<void> {
    await this.#commits.drain()
    await Promise.all(this.#caps.values())
  }

  /**
   * Stops taking appends (each one after this is refused as the server shutting down), answers those already taken,
   * and closes the backend. Safe to call twice.
   */
  async close(): Promise<void> {
    this.#closed = true
    await this.settled()
    await this.#backend.close()
  }

  async #commit(batch: CoreEntry[]): Promise<(Appended | Error)[]> {
    const answers: (Appended | Error)[] = []
    for (let from = 0; from < batch.length; ) {
      const part = await this.#commitPart(from === 0 ? batch : batch.slice(from))
      answers.push(...part)
      from += part.length
    }
    return answers
  }

  /**
   * Commits the batch, or its first part when a closing entry had to be cut behind other entries of its log
   * (#cutBehind): answers the entries it committed, from the first.
   */
  async #commitPart(batch: CoreEntry[]): Promise<(Appended | Error)[]> {
    const now = this.#now()
    const bytesOf = async (log: LogId) => (await this.#backend.state(log))?.bytes ?? 0
    const admitted = await this.#medium(() => this.#ledger.admit(batch, now, bytesOf))
    const cut = this.#cutBehind(batch, admitted.entries, admitted.indexes)
    const entries = admitted.entries.slice(0, cut)
    const indexes = admitted.indexes.slice(0, cut)
    const answers = admitted.answers.slice(0, cut < admitted.entries.length ? admitted.indexes[cut] : batch.length)
    const tickets = new Map<LogId, Ticket>()
    for (const entry of entries) if (!tickets.has(entry.log)) tickets.set(entry.log, this.#tails.track(entry.log))
    const started = performance.now()
    let outcomes: Awaited<ReturnType<LogBackend['append']>>
    try {
      const append = () => this.#backend.append(entries, this.#batchLimits(), now)
      outcomes = entries.length === 0 ? [] : await this.#totals.change(append, (outcomes) => added(entries, outcomes))
    } catch (error) {
      // Nothing of the batch is visible: what the cache and the counts were told of it is dropped.
      for (const log of tickets.keys()) this.#forget(log)
      throw this.#failure(error)
    }
    if (entries.length > 0) this.#onCommit?.((performance.now() - started) / 1000)
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
      if (entry.closesLog) this.#tails.closed(entry.log)
      this.#ledger.stored(entry, now)
      changed.add(entry.log)
      if (entry.data === null) {
        answers[i] = { seq: outcome, data: null }
        return
      }
      const stored: LogEntry = { seq: outcome, data: entry.data }
      this.#tails.add(entry.log, ticket, [stored])
      grown.add(entry.log)
      answers[i] = stored
    })
    for (const log of changed) this.#notifier.notify(log)
    // The cap runs once the batch is answered, beside the next batch: a trim never holds appends back (M2).
    for (const log of grown) this.#cap(log)
    return answers as (Appended | Error)[]
  }

  /**
   * Where to end a part: before the first closing entry that was cut to fit while other entries of its log come
   * before it in the batch. The room it was cut to counts them as stored, and the backend may refuse them (a log too
   * full for a partial still takes its run's closing event): committed in the next part, it is cut to the room the
   * log really has. Only a log near its budget pays the second commit.
   */
  #cutBehind(batch: readonly CoreEntry[], entries: readonly AppendEntry[], indexes: readonly number[]): number {
    const before = new Set<LogId>()
    for (const [k, entry] of entries.entries()) {
      const given = batch[indexes[k]!]!
      if (given.fit && entry.data !== given.data && before.has(entry.log)) return k
      if (entry.data !== null) before.add(entry.log)
    }
    return entries.length
  }

  /** Starts trimming the log to nine tenths of its cap once it holds more, unless a trim of it is under way. */
  #cap(log: LogId): void {
    if (this.#caps.has(log) || !this.#ledger.mayBeOverCap(log)) return
    const capping = this.#trimToCap(log)
      .catch((error: unknown) => {
        // Tried again at the log's next append: its count is still over the cap.
        this.#capFailures++
        this.#onCapFailure?.(log, this.#failure(error))
      })
      .finally(() => this.#caps.delete(log))
    this.#caps.set(log, capping)
  }

  async #trimToCap(log: LogId): Promise<void> {
    const max = this.limits.maxEntriesPerLog
    const state = await this.#backend.state(log)
    if (!state) return
    this.#ledger.counted(log, state.count)
    // Never trimmed: past the cap its appends are refused instead (TOO_MANY).
    if (state.capped === false) return
    // Down by a tenth of the cap at a time, so a full log costs one trim per tenth, not one per append; by count, so
    // the holes of compaction never make it keep fewer. The newest entry always stays.
    if (state.count > max) await this.#shrink(log, () => this.#backend.keepNewest(log, Math.max(1, max - Math.ceil(max / 10))))
  }

  /** Runs a deletion of entries, keeping the totals, the cache and the counts right; answers how many went. */
  async #shrink(log: LogId, change: () => Promise<EntryCounts>): Promise<number> {
    // Forgotten before and after: no reader is answered from the cache while the change is under way.
    this.#tails.forget(log)
    const gone = await this.#medium(() => this.#totals.change(change, (counts) => less(counts, 0)))
    // Readers must meet the holes, so that a cursor inside one gets its reset.
    this.#tails.forget(log)
    this.#ledger.removed(log, gone.entries)
    return gone.entries
  }

  #remoteChange(log: LogId, head: number | undefined, closed: boolean): void {
    if (head === undefined) this.#forget(log)
    else this.#tails.raised(log, head)
    if (closed) this.#tails.closed(log)
    this.#notifier.notify(log)
  }

  /** Changes may have been missed: nothing cached can be trusted, and every waiter must look again. */
  #remoteReset(): void {
    this.#tails.clear()
    this.#ledger.clear()
    // A notifier that can wake everyone does (the in-process SessionSignal); a shared one reconnects on its own.
    ;(this.#notifier as Partial<Pick<SessionSignal, 'notifyAll'>>).notifyAll?.()
  }

  #forget(log: LogId): void {
    this.#tails.forget(log)
    this.#ledger.forget(log)
  }

  /**
   * What a create or fork is told of the expired logs it deleted for its names: each forgotten and its readers woken
   * to find it gone, and `counted` what they took from the totals, which the change counts with its own.
   */
  #purges(): { purged: OnPurged; readonly counted: TotalsChange } {
    const counted = { ...NOTHING }
    const purged: OnPurged = (log, state) => {
      counted.logs -= 1
      counted.entries -= state.count
      counted.bytes -= state.bytes
      this.#forget(log)
      this.#notifier.notify(log)
    }
    return { purged, counted }
  }

  #checkMeta(meta: string, words: LogRefusals): void {
    if (Buffer.byteLength(meta) > MAX_LOG_META_BYTES) throw words.metaTooLarge(MAX_LOG_META_BYTES)
  }

  #batchLimits() {
    const { maxLogBytes, reserveBytes, maxEntriesPerLog } = this.limits
    return { maxLogBytes, reserveBytes, maxLogEntries: maxEntriesPerLog }
  }

  #refusal(refusal: Refusal, log: LogId, words: LogRefusals): AppError {
    if (refusal === 'NO_LOG') return words.noLog(log)
    if (refusal === 'GONE') return words.gone(log)
    if (refusal === 'STALE') return producerStale()
    if (refusal === 'CLOSED') return words.closed(log)
    if (refusal === 'FULL') return words.full(this.limits.maxLogBytes)
    if (refusal === 'TOO_MANY') return logEntriesFull(this.limits.maxEntriesPerLog)
    return words.fenced()
  }

  #failure(error: unknown): AppError {
    if (error instanceof AppError) return error
    if (error instanceof StoreFailure) return storeUnavailable(error.reason, error, error.retryAfterSeconds)
    return storeUnavailable('its store refused the write', error)
  }

  #open(): void {
    if (this.#closed) throw storeClosed()
  }

  async #medium<T>(call: () => Promise<T>): Promise<T> {
    try {
      return await call()
    } catch (error) {
      throw this.#failure(error)
    }
  }
}

/** Two changes as one. */
const plus = (a: TotalsChange, b: TotalsChange): TotalsChange => ({
  logs: a.logs + b.logs,
  entries: a.entries + b.entries,
  bytes: a.bytes + b.bytes,
})

/** What deleting `gone` (and `logs` logs with it) takes from the store's totals. */
const less = (gone: EntryCounts, logs: number): TotalsChange => ({ logs: -logs, entries: -gone.entries, bytes: -gone.bytes })

/** What the stored entries of a batch add to the store's totals. */
function added(entries: readonly AppendEntry[], outcomes: readonly AppendOutcome[]): TotalsChange {
  const change = { logs: 0, entries: 0, bytes: 0 }
  outcomes.forEach((outcome, k) => {
    if (typeof outcome !== 'number' || entries[k]!.data === null) return
    change.entries++
    change.bytes += entries[k]!.bytes
  })
  return change
}
