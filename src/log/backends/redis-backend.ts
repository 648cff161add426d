import type { RedisLogKeys } from '../../redis/redis-keys.ts'
import type { RedisLink } from '../../redis/redis-link.ts'
import type { RedisSubscriber } from '../../redis/redis-subscriber.ts'
import { MAX_APPEND_BATCH, REDIS_PAGE_BYTES, REDIS_PAGE_ENTRIES } from '../../limits.ts'
import { newId } from '../../session-id.ts'
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
  StoreFailure,
} from '../log-backend.ts'
import { APPEND, CREATE, DELETE, SET_META, TOUCH } from './redis-backend-scripts.ts'
import { DELETE_ENTRIES, FORK_COPY, FORK_FINISH, KEEP_NEWEST } from './redis-paged-scripts.ts'
import { entriesOf, flagsOf, marksOf, padded, type StreamEntry, stateOf } from './redis-rows.ts'
import { parseWake, senderTag, sentBy } from './redis-wake.ts'

/** How long a client should wait before trying again while Redis cannot be reached; seconds. */
export const REDIS_RETRY_AFTER_S = 5
/** Entries per APPEND call at most (the core's batch): one call holds Redis's one thread for about a millisecond at most. */
const MAX_APPEND_ENTRIES = MAX_APPEND_BATCH
/** How long a fork's copy outlives its last page if the fork never finishes (its instance died); milliseconds. */
const FORK_COPY_TTL_MS = 10 * 60_000
/** Entries the first XREVRANGE of `readBefore` asks for; each next one asks for twice as many, up to the most. */
const FIRST_REVERSE_PAGE = 8
const MAX_REVERSE_PAGE = 256

export interface RedisBackendOptions {
  /** The instance's command connection. */
  link: RedisLink
  keys: RedisLogKeys
  /** The instance's one subscribed connection: other instances' changes are heard on it (`onRemoteChange`). */
  subscriber: RedisSubscriber
  /** Called by `close()` once the last append is answered, before the command connection closes. */
  onClose?: () => Promise<void> | void
}

/**
 * The log backend on a Redis shared by several instances: a Stream per log (entry ids `<seq>-0`), a hash of its
 * state, and one Lua script per change of several keys (redis-backend-scripts.ts), so seqs are assigned atomically
 * with the append whoever appends. Other instances' changes arrive as wake messages on the subscriber.
 */
export class RedisBackend implements LogBackend {
  readonly #link: RedisLink
  readonly #keys: RedisLogKeys
  readonly #options: RedisBackendOptions
  #changed: ((log: LogId, head: number | undefined, closed: boolean) => void) | undefined
  #reset: (() => void) | undefined
  /**
   * The append calls, one after another: a call refused with NOSCRIPT (Redis restarted) is sent again with the
   * script's text, and a later call pipelined behind it would have run first, storing a log's later entries first.
   */
  #appending: Promise<unknown> = Promise.resolve()
  /**
   * Reads and state look-ups in flight, by what they ask: a thousand readers on this instance woken by one remote
   * append ask Redis once, not a thousand times (bench/scenarios/fan-out.ts on Redis).
   */
  readonly #inflight = new Map<string, Promise<unknown>>()
  /**
   * Raised by every change this instance sends and every wake message it hears: a request asked after a change never
   * joins one asked before it, which may not see it (a writer reading its own write, a reader woken by a message).
   */
  #epoch = 0
  #closed = false
  /**
   * The first line of the wake messages this instance's appends publish. It hears them back, and skips them: its core
   * applied each append from the script's answer (heads, cached entries, wake-ups) already, and a message that
   * arrived before that answer raised the head above the cached entries, sending its own readers to Redis for what
   * this instance had just written (bench/redis-scale.ts, 2 instances routed by session).
   */
  readonly #tag = senderTag(newId())

  constructor(options: RedisBackendOptions) {
    this.#link = options.link
    this.#keys = options.keys
    this.#options = options
    options.subscriber.onResubscribed(() => this.#reset?.())
  }

  /** Subscribes to the wake channel; resolves once subscribed (call before serving). */
  listen(): Promise<void> {
    return this.#options.subscriber.listen(this.#keys.wakeChannel, (message) => {
      if (sentBy(message, this.#tag)) return
      this.#epoch++
      for (const { log, head, closed } of parseWake(message)) this.#changed?.(log, head, closed === true)
    })
  }

  onRemoteChange(listener: (log: LogId, head: number | undefined, closed: boolean) => void): void {
    this.#changed = listener
  }

  onRemoteReset(listener: () => void): void {
    this.#reset = listener
  }

  async create(log: NewLog, now: number, purged?: OnPurged): Promise<boolean> {
    const create = () => {
      const [keys, args] = this.#creation(log, now)
      return this.#script(CREATE, [this.#keys.entries(log.log), ...keys], args)
    }
    if ((await create()) === 1) return true
    // A taken name may be held by an expired log: only then is it looked at, and the create tried once more.
    return (await this.#purgeExpired(log, now, purged)) && (await create()) === 1
  }

  /** Deletes each expired log holding the new log's id or an alias (each only if still expired then); true if any. */
  async #purgeExpired(log: NewLog, now: number, purged: OnPurged | undefined): Promise<boolean> {
    let any = false
    for (const name of [log.log, ...(log.aliases ?? [])]) {
      const holder = (await this.#send('EXISTS', [this.#keys.state(name)])) === 1 ? name : ((await this.resolveAlias(name)) ?? undefined)
      const state = holder === undefined ? undefined : await this.state(holder)
      if (holder === undefined || !state || !expiredAt(state, now) || state.forks > 0) continue
      // No entry lands in an expired or soft-deleted log (APPEND), so the states read are what is deleted.
      if (await this.#delete(holder, String(now), now, purged)) any = true
    }
    return any
  }

  async state(log: LogId): Promise<LogState | undefined> {
    const fields = (await this.#shared(`s\0${log}`, () => this.#send('HGETALL', [this.#keys.state(log)]))) as Record<string, string> | null
    return fields?.head === undefined ? undefined : stateOf(fields)
  }

  async resolveAlias(alias: string): Promise<LogId | undefined> {
    return ((await this.#send('GET', [this.#keys.alias(alias)])) as string | null) ?? undefined
  }

  async setMeta(log: LogId, meta: string): Promise<boolean> {
    return (await this.#script(SET_META, [this.#keys.state(log)], [meta])) === 1
  }

  async touch(log: LogId, activeAt: number, expiresAt?: number | null): Promise<boolean> {
    const k = this.#keys
    const expiry = expiresAt === undefined ? '' : expiresAt === null ? '-' : String(expiresAt)
    return (await this.#script(TOUCH, [k.state(log), k.activity, k.expiry], [log, padded(activeAt), expiry])) === 1
  }

  append(entries: readonly AppendEntry[], limits: BatchLimits, now: number): Promise<AppendOutcome[]> {
    if (this.#closed) return Promise.reject(new StoreFailure('the server is shutting down'))
    const appended = this.#appending.then(async () => {
      const outcomes: AppendOutcome[] = []
      try {
        for (let i = 0; i < entries.length; i += MAX_APPEND_ENTRIES) {
          outcomes.push(...(await this.#appendPart(entries.slice(i, i + MAX_APPEND_ENTRIES), limits, now)))
        }
      } catch (error) {
        // A call whose answer was lost may still have run, and its own message, which would have woken this
        // instance's readers, is skipped: they look again instead (a reader that finds Redis out of reach waits).
        for (const log of new Set(entries.map((entry) => entry.log))) this.#changed?.(log, undefined, false)
        throw error
      }
      return outcomes
    })
    this.#appending = appended.catch(() => {})
    return appended
  }

  async read(log: LogId, after: number, limit: number, now?: number): Promise<LogEntry[]> {
    // The expiry is asked beside the range, pipelined: one round trip still, and each caller judges it by its own now.
    const [entries, live] = (await this.#shared(`r\0${log}\0${after}\0${limit}`, () =>
      Promise.all([
        this.#send('XRANGE', [this.#keys.entries(log), `(${after}-0`, '+', 'COUNT', String(limit)]),
        this.#send('HMGET', [this.#keys.state(log), 'expires_at', 'deleted_at']),
      ]),
    )) as [StreamEntry[] | null, Liveness]
    if (now !== undefined && !liveAt(live, now)) return []
    return entriesOf(entries)
  }

  async readBefore(log: LogId, before: number, maxBytes: number, now?: number): Promise<LogEntry[]> {
    // No seq is below 1, and Redis refuses `(0-0` as the end of a range.
    if (before <= 1) return []
    if (now !== undefined && !liveAt((await this.#send('HMGET', [this.#keys.state(log), 'expires_at', 'deleted_at'])) as Liveness, now)) {
      return []
    }
    const found: LogEntry[] = []
    let bytes = 0
    // Small pages from the end, doubling: an entry may be a megabyte, and a page is read whole.
    for (let below = before, page = FIRST_REVERSE_PAGE; ; page = Math.min(page * 2, MAX_REVERSE_PAGE)) {
      const entries = (await this.#send('XREVRANGE', [this.#keys.entries(log), `(${below}-0`, '-', 'COUNT', String(page)])) as
        | StreamEntry[]
        | null
      for (const entry of entriesOf(entries)) {
        bytes += Buffer.byteLength(entry.data)
        if (found.length > 0 && bytes > maxBytes) return found.reverse()
        found.push(entry)
      }
      if (!entries || entries.length < page) return found.reverse()
      below = found.at(-1)!.seq
    }
  }

  async delete(log: LogId, now: number): Promise<DeletedCounts | 'SOFT' | undefined> {
    return this.#delete(log, '', now)
  }

  /**
   * Deletes the log (DELETE), or with `expiredBy` ('' for none: epoch ms) only if it has expired by then and no fork
   * names it; the chain of soft-deleted sources its going leaves without forks is read first, and DELETE checks it is
   * still so. `purged` is told of each log deleted, with its state as read.
   */
  async #delete(log: LogId, expiredBy: string, now: number, purged?: OnPurged): Promise<DeletedCounts | 'SOFT' | undefined> {
    const k = this.#keys
    for (;;) {
      const state = await this.state(log)
      if (!state) return undefined
      const chain: [LogId, LogState][] = [[log, state]]
      for (let at = state; at.forkedFrom && state.forks === 0; ) {
        const source = await this.state(at.forkedFrom.log)
        if (!source || source.deletedAt === undefined || source.forks > 1) break
        chain.push([at.forkedFrom.log, source])
        at = source
      }
      const lowered = chain.at(-1)![1].forkedFrom?.log ?? ''
      const keys = [k.activity, k.expiry, k.openRuns, k.totals, ...(lowered === '' ? [] : [k.state(lowered)])]
      const args = [k.wakeChannel, expiredBy, String(now), lowered, String(chain.length)]
      for (const [id] of chain) {
        const aliases = (await this.#send('SMEMBERS', [k.aliases(id)])) as string[]
        keys.push(k.state(id), k.entries(id), k.producers(id), k.aliases(id), k.runs(id), k.lease(id), ...aliases.map((a) => k.alias(a)))
        args.push(id, String(aliases.length), ...aliases)
      }
      const deleted = (await this.#script(DELETE, keys, args)) as [number, number, number] | 'SOFT' | 0 | -1
      if (deleted === 0) return undefined
      if (deleted === 'SOFT') return 'SOFT'
      if (deleted === -1) continue
      for (const [id, held] of chain) purged?.(id, held)
      return { logs: deleted[0], entries: deleted[1], bytes: deleted[2] }
    }
  }

  async deleteEntries(log: LogId, seqs: readonly number[]): Promise<EntryCounts> {
    const k = this.#keys
    const gone = { entries: 0, bytes: 0 }
    for (let i = 0; i < seqs.length; ) {
      const part = seqs.slice(i, i + REDIS_PAGE_ENTRIES).map(String)
      const args = [log, k.wakeChannel, String(REDIS_PAGE_BYTES), ...part]
      const [seen, entries, bytes] = (await this.#script(DELETE_ENTRIES, [k.state(log), k.entries(log), k.totals], args)) as number[]
      i += seen!
      gone.entries += entries!
      gone.bytes += bytes!
    }
    return gone
  }

  async keepNewest(log: LogId, count: number): Promise<EntryCounts> {
    const k = this.#keys
    const gone = { entries: 0, bytes: 0 }
    // The first call learns how many the log holds over `count`; the calls after it delete no more than that.
    for (let budget = Number.MAX_SAFE_INTEGER; budget > 0; ) {
      const args = [log, String(count), String(budget), k.wakeChannel, String(REDIS_PAGE_ENTRIES), String(REDIS_PAGE_BYTES)]
      const [entries, bytes, over] = (await this.#script(KEEP_NEWEST, [k.state(log), k.entries(log), k.totals], args)) as number[]
      gone.entries += entries!
      gone.bytes += bytes!
      budget = entries === 0 ? 0 : Math.min(budget - entries!, over!)
    }
    return gone
  }

  /**
   * Copies the source's entries in bounded parts into a stream of the fork's own, which the last call renames into
   * place as it creates the fork: the fork does not exist until then, so no append can land among its entries.
   */
  async fork(source: LogId, at: number, target: NewLog, now: number, purged?: OnPurged): Promise<EntryCounts | false | 'NO_LOG' | 'GONE'> {
    const k = this.#keys
    const refused = refusalAt(await this.state(source), now)
    if (refused) return refused
    // A fork is rare and copies a log: freeing its names first costs little beside that (FORK_FINISH checks again).
    await this.#purgeExpired(target, now, purged)
    if ((await this.#send('EXISTS', [k.state(target.log)])) === 1) return false
    const copy = k.forkCopy(target.log, newId())
    let [count, bytes, after, done] = [0, 0, 0, false]
    while (!done) {
      const args = [String(after), String(at), String(REDIS_PAGE_ENTRIES), String(REDIS_PAGE_BYTES), String(FORK_COPY_TTL_MS)]
      const part = (await this.#script(FORK_COPY, [k.entries(source), copy], args)) as [number, number, number, number]
      done = part[0] === 1
      count += part[1]
      bytes += part[2]
      after = part[3]
    }
    const [keys, args] = this.#creation(target, now)
    const finished = await this.#script(
      FORK_FINISH,
      [k.state(source), copy, k.entries(target.log), ...keys],
      [source, String(at), String(count), String(bytes), ...args],
    )
    if (finished === 'NO_LOG' || finished === 'GONE') return finished
    if (finished !== 1) return false
    const own = target.entries ?? []
    return { entries: count + own.length, bytes: own.reduce((sum, data) => sum + Buffer.byteLength(data), bytes) }
  }

  async producer(log: LogId, key: string): Promise<string | undefined> {
    return ((await this.#send('HGET', [this.#keys.producers(log), key])) as string | null) ?? undefined
  }

  async producerKeys(log: LogId): Promise<string[]> {
    return (await this.#send('HKEYS', [this.#keys.producers(log)])) as string[]
  }

  async deleteProducers(log: LogId, keys: readonly string[]): Promise<void> {
    this.#epoch++
    if (keys.length > 0) await this.#send('HDEL', [this.#keys.producers(log), ...keys])
  }

  async activeBetween(from: number, to: number, limit: number, cursor?: ActivityCursor): Promise<ActivityCursor[]> {
    // Members `<activeAt, 16 digits> <log>` at one score sort by (activeAt, log): a lex range is the page.
    const start = cursor && cursor.activeAt >= from ? `(${padded(cursor.activeAt)} ${cursor.log}` : `[${padded(from)}`
    const members = (await this.#send('ZRANGE', [
      this.#keys.activity,
      start,
      `(${padded(to)}`,
      'BYLEX',
      'LIMIT',
      '0',
      String(limit),
    ])) as string[]
    return members.map((member) => ({ activeAt: Number(member.slice(0, 16)), log: member.slice(17) }))
  }

  async expiredLogs(now: number, limit: number): Promise<LogId[]> {
    return (await this.#send('ZRANGE', [this.#keys.expiry, '-inf', String(now), 'BYSCORE', 'LIMIT', '0', String(limit)])) as string[]
  }

  async openRuns(): Promise<{ log: LogId; run: string; from: number }[]> {
    const logs = (await this.#send('SMEMBERS', [this.#keys.openRuns])) as string[]
    const runs = await Promise.all(logs.map((log) => this.#send('HMGET', [this.#keys.state(log), 'open_run', 'run_from'])))
    return logs.flatMap((log, i) => {
      const [run, from] = runs[i] as [string | null, string | null]
      return run === null ? [] : [{ log, run, from: Number(from ?? 0) }]
    })
  }

  async totals(): Promise<BackendTotals> {
    const [logs, entries, bytes] = (await this.#send('HMGET', [this.#keys.totals, 'logs', 'entries', 'bytes'])) as (string | null)[]
    return { logs: Number(logs ?? 0), entries: Number(entries ?? 0), bytes: Number(bytes ?? 0) }
  }

  async ping(): Promise<void> {
    // Without the subscriber, this instance would serve stale entries and never wake its readers.
    if (!this.#options.subscriber.ready) throw new StoreFailure('the server lost its subscription to Redis')
    await this.#send('PING', [])
  }

  async close(): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    await this.#appending
    await this.#options.onClose?.()
    this.#link.close()
  }

  async #appendPart(entries: readonly AppendEntry[], limits: BatchLimits, now: number): Promise<AppendOutcome[]> {
    const k = this.#keys
    const logs = new Map<LogId, number>()
    for (const { log } of entries) if (!logs.has(log)) logs.set(log, logs.size + 1)
    const keys = [k.activity, k.openRuns, k.totals]
    for (const log of logs.keys()) keys.push(k.state(log), k.entries(log), k.producers(log), k.runs(log), k.lease(log))
    const args = [
      String(now),
      padded(now),
      k.wakeChannel,
      this.#tag,
      String(limits.maxLogBytes),
      String(limits.reserveBytes),
      String(limits.maxLogEntries ?? ''),
    ]
    args.push(String(logs.size), ...logs.keys())
    for (const entry of entries) {
      args.push(String(logs.get(entry.log)), entry.data ?? '', String(entry.bytes), flagsOf(entry), entry.run ?? '')
      args.push(...marksOf(entry))
    }
    return (await this.#script(APPEND, keys, args)) as AppendOutcome[]
  }

  /** CREATE_LOG's keys and args (redis-backend-scripts.ts). */
  #creation(log: NewLog, now: number): [string[], string[]] {
    const k = this.#keys
    const aliases = log.aliases ?? []
    const keys = [k.state(log.log), k.aliases(log.log), k.activity, k.expiry, k.totals, k.alias(log.log)]
    for (const alias of aliases) keys.push(k.alias(alias), k.state(alias))
    const args = [log.log, log.meta, String(now), padded(now), log.expiresAt === undefined ? '' : String(log.expiresAt)]
    args.push(log.closed ? '1' : '0', log.capped === false ? '0' : '1', ...aliases, ...(log.entries ?? []))
    return [keys, args]
  }

  /** One request for all who ask the same while it is in flight; each caller parses its own copy of the answer. */
  #shared(what: string, load: () => Promise<unknown>): Promise<unknown> {
    const key = `${this.#epoch}\0${what}`
    const pending = this.#inflight.get(key)
    if (pending) return pending
    const loading = load().finally(() => this.#inflight.delete(key))
    this.#inflight.set(key, loading)
    return loading
  }

  #send(command: string, args: string[]): Promise<unknown> {
    return failing(() => this.#link.send(command, args))
  }

  /** Every script changes something. */
  #script(script: string, keys: string[], args: string[]): Promise<unknown> {
    this.#epoch++
    return failing(() => this.#link.script(script, keys, args))
  }
}

/** A log's `expires_at` and `deleted_at`, as HMGET answers them. */
type Liveness = [string | null, string | null]

/** Whether a log is readable at `now`: neither expired nor soft-deleted. */
const liveAt = ([expires, deleted]: Liveness, now: number) => deleted === null && (expires === null || Number(expires) > now)

/** Runs a command, turning its failure into a StoreFailure: the scripts answer codes, so any error is the medium's. */
async function failing<T>(command: () => Promise<T>): Promise<T> {
  try {
    return await command()
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error)
    if (message.startsWith('OOM')) throw new StoreFailure('its Redis store is out of memory', { cause: error })
    // The link reconnects by itself (redis-link.ts): a client may try again soon.
    throw new StoreFailure('its Redis store cannot be reached right now', { cause: error, retryAfterSeconds: REDIS_RETRY_AFTER_S })
  }
}
