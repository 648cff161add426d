import {
  type ActivityCursor,
  type AppendEntry,
  type AppendOutcome,
  type BackendTotals,
  type BatchLimits,
  type DeletedCounts,
  type EntryCounts,
  expiredAt,
  type LogBackend,
  type LogEntry,
  type LogId,
  type LogState,
  type NewLog,
  type OnPurged,
  refusalAt,
} from '../log-backend.ts'
import { ActivityIndex } from './memory-activity.ts'
import { firstEntries, newLogState } from './new-log-state.ts'

/** An entry as held: its data string and its bytes as the core counted them (a chat's events stay unparsed). */
interface Held {
  seq: number
  data: string
  bytes: number
}

interface MemoryLog {
  state: LogState
  /** The retained entries; seqs ascend, with holes where compaction dropped some. */
  entries: Held[]
  aliases: readonly string[]
  producers: Map<string, string>
}

/**
 * A log backend in this process's memory, for tests and ephemeral demos: gone when the process exits. Every rule is
 * the core's (src/log/log-core.ts); this only keeps the entries, as strings, and answers in the contract's terms.
 */
export class MemoryBackend implements LogBackend {
  readonly #logs = new Map<LogId, MemoryLog>()
  readonly #aliases = new Map<string, LogId>()
  #activity = new ActivityIndex()

  async create(log: NewLog, now: number, purged?: OnPurged): Promise<boolean> {
    if (!this.#create(log, now, purged)) return false
    const created = this.#logs.get(log.log)!
    created.entries.push(...firstEntries(created.state, log.entries))
    return true
  }

  /** Not async: a fork creates its target and copies into it in one turn, so no append can land in between. */
  #create(log: NewLog, now: number, purged: OnPurged | undefined): boolean {
    const aliases = log.aliases ?? []
    this.#purgeExpired([log.log, ...aliases], now, purged)
    if (
      this.#logs.has(log.log) ||
      this.#aliases.has(log.log) ||
      aliases.some((a) => this.#aliases.has(a) || this.#logs.has(a) || a === log.log)
    )
      return false
    const state = newLogState(log, now)
    this.#logs.set(log.log, { state, entries: [], aliases, producers: new Map() })
    this.#activity.add(log.log, state.activeAt)
    for (const alias of aliases) this.#aliases.set(alias, log.log)
    return true
  }

  /** Deletes each expired log that holds one of `names`, as its id or an alias: an expired log takes no name. */
  #purgeExpired(names: readonly string[], now: number, purged: OnPurged | undefined): void {
    for (const name of names) {
      const holder = this.#logs.has(name) ? name : this.#aliases.get(name)
      const found = holder === undefined ? undefined : this.#logs.get(holder)
      if (holder === undefined || !found || !expiredAt(found.state, now) || found.state.forks > 0) continue
      this.#removeChain(holder, found, purged)
    }
  }

  /** The log unless it is missing, or expired or soft-deleted at `now` when given. */
  #live(log: LogId, now: number | undefined): MemoryLog | undefined {
    const found = this.#logs.get(log)
    return found && (now === undefined || refusalAt(found.state, now) === undefined) ? found : undefined
  }

  async state(log: LogId): Promise<LogState | undefined> {
    const found = this.#logs.get(log)
    return found && copyState(found.state)
  }

  async resolveAlias(alias: string): Promise<LogId | undefined> {
    return this.#aliases.get(alias)
  }

  async setMeta(log: LogId, meta: string): Promise<boolean> {
    const found = this.#logs.get(log)
    if (found) found.state.meta = meta
    return found !== undefined
  }

  async touch(log: LogId, activeAt: number, expiresAt?: number | null): Promise<boolean> {
    const found = this.#logs.get(log)
    if (!found) return false
    this.#activity.move(log, found.state.activeAt, activeAt)
    found.state.activeAt = activeAt
    if (expiresAt === null) delete found.state.expiresAt
    else if (expiresAt !== undefined) found.state.expiresAt = expiresAt
    return true
  }

  async append(entries: readonly AppendEntry[], limits: BatchLimits, now: number): Promise<AppendOutcome[]> {
    return entries.map((entry) => this.#appendOne(entry, limits, now))
  }

  #appendOne(entry: AppendEntry, limits: BatchLimits, now: number): AppendOutcome {
    const log = this.#logs.get(entry.log)
    const gone = refusalAt(log?.state, now)
    if (!log || gone) return gone ?? 'NO_LOG'
    const state = log.state
    if (entry.producers?.some((mark) => mark.expect !== undefined && (log.producers.get(mark.key) ?? null) !== mark.expect)) {
      return 'STALE'
    }
    if (state.closed) return 'CLOSED'
    // One process, no leases: a run open here has no owner from before a restart, so only its being open counts.
    if (entry.recovers && (entry.run === undefined || state.openRun?.id !== entry.run)) return 'FENCED'
    if (entry.data !== null && !entry.exempt && state.bytes + entry.bytes > limits.maxLogBytes - limits.reserveBytes) return 'FULL'
    if (entry.data !== null && !entry.exempt && state.capped === false && state.count >= (limits.maxLogEntries ?? Number.POSITIVE_INFINITY))
      return 'TOO_MANY'
    const from = state.head
    if (entry.data !== null) {
      state.head++
      log.entries.push({ seq: state.head, data: entry.data, bytes: entry.bytes })
      state.count++
      state.bytes += entry.bytes
    }
    if (entry.run !== undefined && entry.opensRun) state.openRun = { id: entry.run, from }
    if (entry.run !== undefined && entry.closesRun && state.openRun?.id === entry.run) delete state.openRun
    if (entry.closesLog) state.closed = true
    for (const mark of entry.producers ?? []) log.producers.set(mark.key, mark.value)
    if (entry.touch) {
      this.#activity.move(entry.log, state.activeAt, now)
      state.activeAt = now
    }
    return state.head
  }

  async read(log: LogId, after: number, limit: number, now?: number): Promise<LogEntry[]> {
    const entries = this.#live(log, now)?.entries
    if (!entries) return []
    const start = indexAfter(entries, after)
    return entries.slice(start, start + limit).map(copyEntry)
  }

  async readBefore(log: LogId, before: number, maxBytes: number, now?: number): Promise<LogEntry[]> {
    const entries = this.#live(log, now)?.entries
    if (!entries) return []
    const end = indexAfter(entries, before - 1)
    let start = end
    for (let bytes = 0; start > 0; start--) {
      bytes += entries[start - 1]!.bytes
      if (start < end && bytes > maxBytes) break
    }
    return entries.slice(start, end).map(copyEntry)
  }

  async delete(log: LogId, now: number): Promise<DeletedCounts | 'SOFT' | undefined> {
    const found = this.#logs.get(log)
    if (!found) return undefined
    if (found.state.forks === 0) return this.#removeChain(log, found)
    found.state.deletedAt ??= now
    delete found.state.expiresAt
    return 'SOFT'
  }

  /**
   * Removes the log, lowers its source's forks, and removes that source too if it was soft-deleted and this was its
   * last fork, and so on down the chain; `purged` is told of each log removed. Answers what went.
   */
  #removeChain(log: LogId, found: MemoryLog, purged?: OnPurged): DeletedCounts {
    const gone = { logs: 0, entries: 0, bytes: 0 }
    let id: LogId | undefined = log
    let at: MemoryLog | undefined = found
    while (id !== undefined && at) {
      this.#remove(id, at)
      gone.logs += 1
      gone.entries += at.state.count
      gone.bytes += at.state.bytes
      purged?.(id, copyState(at.state))
      const origin: LogId | undefined = at.state.forkedFrom?.log
      const source: MemoryLog | undefined = origin === undefined ? undefined : this.#logs.get(origin)
      // Never below 0, as on every backend (a Redis log forked before forks were kept names a source that did not count it).
      if (source) source.state.forks = Math.max(0, source.state.forks - 1)
      id = origin
      at = source && source.state.forks === 0 && source.state.deletedAt !== undefined ? source : undefined
    }
    return gone
  }

  #remove(log: LogId, found: MemoryLog): void {
    this.#logs.delete(log)
    this.#activity.remove(log, found.state.activeAt)
    for (const alias of found.aliases) this.#aliases.delete(alias)
  }

  async deleteEntries(log: LogId, seqs: readonly number[]): Promise<EntryCounts> {
    const found = this.#logs.get(log)
    if (!found) return { entries: 0, bytes: 0 }
    const doomed = new Set(seqs)
    const kept = found.entries.filter((entry) => !doomed.has(entry.seq))
    const gone = lower(
      found.state,
      found.entries.filter((entry) => doomed.has(entry.seq)),
    )
    found.entries = kept
    return gone
  }

  async keepNewest(log: LogId, count: number): Promise<EntryCounts> {
    const found = this.#logs.get(log)
    if (!found || found.entries.length <= count) return { entries: 0, bytes: 0 }
    const dropped = found.entries.splice(0, found.entries.length - count)
    found.state.tail = Math.max(found.state.tail, dropped.at(-1)!.seq)
    return lower(found.state, dropped)
  }

  async fork(source: LogId, at: number, target: NewLog, now: number, purged?: OnPurged): Promise<EntryCounts | false | 'NO_LOG' | 'GONE'> {
    const from = this.#logs.get(source)
    const refused = refusalAt(from?.state, now)
    if (!from || refused) return refused ?? 'NO_LOG'
    if (!this.#create(target, now, purged)) return false
    from.state.forks += 1
    const copy = this.#logs.get(target.log)!
    copy.entries = from.entries.slice(0, indexAfter(from.entries, at)).map((e) => ({ ...e }))
    copy.state.head = at
    copy.state.tail = Math.min(from.state.tail, at)
    copy.state.count = copy.entries.length
    copy.state.bytes = copy.entries.reduce((sum, e) => sum + e.bytes, 0)
    copy.state.forkedFrom = { log: source, at }
    copy.entries.push(...firstEntries(copy.state, target.entries))
    return { entries: copy.state.count, bytes: copy.state.bytes }
  }

  async producer(log: LogId, key: string): Promise<string | undefined> {
    return this.#logs.get(log)?.producers.get(key)
  }

  async producerKeys(log: LogId): Promise<string[]> {
    return [...(this.#logs.get(log)?.producers.keys() ?? [])]
  }

  async deleteProducers(log: LogId, keys: readonly string[]): Promise<void> {
    const producers = this.#logs.get(log)?.producers
    for (const key of keys) producers?.delete(key)
  }

  async activeBetween(from: number, to: number, limit: number, cursor?: ActivityCursor): Promise<ActivityCursor[]> {
    return this.#activity.page(from, to, limit, cursor)
  }

  async expiredLogs(now: number, limit: number): Promise<LogId[]> {
    const found: LogId[] = []
    for (const [log, { state }] of this.#logs) {
      if (found.length >= limit) break
      if (state.expiresAt !== undefined && state.expiresAt <= now) found.push(log)
    }
    return found
  }

  async openRuns(): Promise<{ log: LogId; run: string; from: number }[]> {
    const runs: { log: LogId; run: string; from: number }[] = []
    for (const [log, { state }] of this.#logs) if (state.openRun) runs.push({ log, run: state.openRun.id, from: state.openRun.from })
    return runs
  }

  async totals(): Promise<BackendTotals> {
    const totals = { logs: this.#logs.size, entries: 0, bytes: 0 }
    for (const { state } of this.#logs.values()) {
      totals.entries += state.count
      totals.bytes += state.bytes
    }
    return totals
  }

  async ping(): Promise<void> {}

  async close(): Promise<void> {
    this.#logs.clear()
    this.#aliases.clear()
    this.#activity = new ActivityIndex()
  }
}

/** Lowers the state's count and bytes by the entries deleted from its log, and answers what they were. */
function lower(state: LogState, gone: readonly Held[]): EntryCounts {
  const counts = { entries: gone.length, bytes: gone.reduce((sum, e) => sum + e.bytes, 0) }
  state.count -= counts.entries
  state.bytes -= counts.bytes
  return counts
}

/** A copy for a caller: what the core caches (and what is parsed of it) must not live as long as the log does. */
const copyEntry = (entry: Held): LogEntry => ({ seq: entry.seq, data: entry.data })

function copyState(state: LogState): LogState {
  const copy = { ...state }
  if (state.forkedFrom) copy.forkedFrom = { ...state.forkedFrom }
  if (state.openRun) copy.openRun = { ...state.openRun }
  return copy
}

/** The index of the first entry with a seq above `seq`: compaction leaves holes, so a seq is not an index. */
function indexAfter(entries: readonly { seq: number }[], seq: number): number {
  let lo = 0
  let hi = entries.length
  while (lo < hi) {
    const mid = (lo + hi) >> 1
    if (entries[mid]!.seq <= seq) lo = mid + 1
    else hi = mid
  }
  return lo
}
