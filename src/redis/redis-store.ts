import type { Notifier } from '../bus/notifier.ts'
import { producerField, RedisAppender } from './redis-appender.ts'
import type { StopSignal } from '../bus/session-signal.ts'
import { AppError, sessionNotFound } from '../errors.ts'
import { admit, eventBytes, sessionFull, storedBytes } from '../store/byte-budget.ts'
import { checkNewEvent, fitEventText, isClosing, type NewEvent, type StoredEvent } from '../events.ts'
import type { StoreMetrics } from '../metrics.ts'
import { newId } from '../session-id.ts'
import type { StepSpec } from '../steps/step.ts'
import {
  DEFAULT_READ_LIMIT,
  type EventStore,
  type NewSessionOptions,
  type Prunable,
  type RecoveredRun,
  type RecoversRuns,
  type SessionRecord,
} from '../log/event-store.ts'
import type { PruneReport, RetentionPolicy } from '../log/retention-policy.ts'
import { type KeepsProducers, type ProducerMark, type ProducerState, splitProducerMark, stateJson } from '../log/producer-state.ts'
import { guarded, redisUnavailable } from './redis-errors.ts'
import { RedisSignIns } from './redis-sign-ins.ts'
import type { KeepsSignIns } from '../store/sign-ins.ts'
import type { RedisKeys } from './redis-keys.ts'
import { type RedisLink, runScript } from './redis-link.ts'
import { pruneRedis } from './redis-prune.ts'
import { CLOSE_ABANDONED, CREATE_SESSION, MARK_PRODUCER } from './redis-scripts.ts'
import { eventsOf, keptOf, type StreamEntry } from './redis-stream.ts'
import { RedisTails } from './redis-tails.ts'

/** Entries the first XREVRANGE of `readBefore` asks for; each next one asks for twice as many, up to the most. */
const FIRST_REVERSE_PAGE = 8
const MAX_REVERSE_PAGE = 256

export interface RedisStoreOptions {
  link: RedisLink
  keys: RedisKeys
  /** Wakes local streams; fed by the one subscriber of this instance (RedisNotifier). */
  notifier: Notifier
  metrics?: StoreMetrics
  /** Whether the instance's subscriber is connected: without it, streams would not wake (`/readyz` says so). */
  subscribed: () => boolean
  /** Called by `close()`, after the store stops: closes the subscriber and the coordinator that share its Redis. */
  onClose?: () => Promise<void> | void
  /** Bytes one session's events may take (byte-budget.ts); default DEFAULT_MAX_SESSION_BYTES (64 MiB). */
  maxSessionBytes?: number
}

/**
 * The shared store: one Redis Stream per session (entry ids `<seq>-0`), a hash of its metadata, and Lua scripts
 * (redis-scripts.ts) that assign each `seq` atomically with the append, so any number of instances appending to one
 * session never collide or reorder. Every instance renders any session; wake-ups travel by pub/sub.
 */
export class RedisStore implements EventStore, RecoversRuns, Prunable, KeepsProducers, KeepsSignIns {
  /** The browser sign-ins, one expiring key each, shared by every instance on this Redis. */
  readonly signIns: RedisSignIns
  readonly #link: RedisLink
  readonly #keys: RedisKeys
  readonly #notifier: Notifier
  readonly #metrics: StoreMetrics | undefined
  readonly #options: RedisStoreOptions
  /**
   * Reads and head look-ups in flight, by what they ask: a thousand viewers of one session woken by one event ask
   * Redis once, not a thousand times (every waiter re-reads after each wake-up; see bench/ fan-out).
   */
  readonly #inflight = new Map<string, Promise<unknown>>()
  /** Each session's newest events and head as this instance knows them: most reads never reach Redis. */
  readonly #tails = new RedisTails()
  /** The latest append in flight per session: a reader woken by its wake message waits for it rather than asking Redis. */
  readonly #appending = new Map<string, Promise<unknown>>()
  readonly #appender: RedisAppender
  #capCheckedAt = 0
  #closed = false

  constructor(options: RedisStoreOptions) {
    this.#link = options.link
    this.#keys = options.keys
    this.signIns = new RedisSignIns(options.link, options.keys.signIn)
    this.#notifier = options.notifier
    this.#metrics = options.metrics
    this.#options = options
    this.#appender = new RedisAppender(options.link, options.keys, {
      onStored: (seconds) => options.metrics?.storeCommit(seconds),
      maxSessionBytes: options.maxSessionBytes,
    })
  }

  async createSession(id: string, step: StepSpec, options: NewSessionOptions = {}): Promise<SessionRecord> {
    const now = new Date()
    const viewerId = newId()
    const keys = [this.#keys.session(id), this.#keys.viewer(viewerId), this.#keys.activity]
    const args = [id, now.toISOString(), JSON.stringify(step), viewerId, options.publisherHash ?? '', String(now.getTime())]
    const created = await guarded(() => this.#eval(CREATE_SESSION, keys, args))
    if (created === 0) throw new AppError('BAD_REQUEST', 'A session with that id already exists.')
    const record: SessionRecord = { id, created_at: now.toISOString(), last_seq: 0, step, viewer_id: viewerId }
    if (options.publisherHash) record.publisher_hash = options.publisherHash
    return record
  }

  async getSession(id: string): Promise<SessionRecord | undefined> {
    const fields = (await guarded(() => this.#link.send('HGETALL', [this.#keys.session(id)]))) as Record<string, string> | null
    if (!fields?.viewer_id) return undefined
    const record: SessionRecord = {
      id,
      created_at: fields.created_at!,
      last_seq: Number(fields.last_seq),
      step: JSON.parse(fields.step!) as StepSpec,
      viewer_id: fields.viewer_id,
    }
    if (fields.publisher_hash) record.publisher_hash = fields.publisher_hash
    return record
  }

  async getSessionByViewer(viewerId: string): Promise<SessionRecord | undefined> {
    const id = (await guarded(() => this.#link.send('GET', [this.#keys.viewer(viewerId)]))) as string | null
    return id ? this.getSession(id) : undefined
  }

  /**
   * Resolves once Redis holds the event (with its producer mark, if it carries one, in the same script call); rejects
   * with STORE_UNAVAILABLE (503) while Redis cannot be reached.
   */
  async append(sessionId: string, marked: NewEvent): Promise<StoredEvent> {
    const [checked, mark] = splitProducerMark(marked)
    checkNewEvent(checked)
    if (this.#closed) throw redisUnavailable()
    let event = checked
    if (isClosing(event)) event = await this.#fitClosing(sessionId, event)
    const ticket = this.#tails.track(sessionId)
    const json = JSON.stringify(event)
    const appending = this.#appender.append(sessionId, event, json, mark)
    this.#appending.set(sessionId, appending)
    let seq: number
    try {
      seq = await appending
    } finally {
      if (this.#appending.get(sessionId) === appending) this.#appending.delete(sessionId)
    }
    this.#metrics?.eventPublished(event.type)
    const stored = { ...event, seq, session_id: sessionId } as StoredEvent
    this.#tails.heard(sessionId, ticket, seq)
    this.#tails.add(sessionId, ticket, [{ event: stored, chars: json.length }])
    return stored
  }

  async producerState(sessionId: string, runId: string, producerId: string): Promise<ProducerState | undefined> {
    const json = (await guarded(() => this.#link.send('HGET', [this.#keys.producers(sessionId), producerField(runId, producerId)]))) as
      | string
      | null
    return json === null ? undefined : (JSON.parse(json) as ProducerState)
  }

  async producerCount(sessionId: string): Promise<number> {
    return (await guarded(() => this.#link.send('HLEN', [this.#keys.producers(sessionId)]))) as number
  }

  /** At most the per-session bound of fields to look through: the session never holds more. */
  async forgetProducers(sessionId: string, keepRunId: string): Promise<void> {
    const key = this.#keys.producers(sessionId)
    const fields = (await guarded(() => this.#link.send('HKEYS', [key]))) as string[]
    const doomed = fields.filter((field) => (JSON.parse(field) as string[])[0] !== keepRunId)
    if (doomed.length > 0) await guarded(() => this.#link.send('HDEL', [key, ...doomed]))
  }

  async markProducer(sessionId: string, mark: ProducerMark): Promise<void> {
    if (this.#closed) throw redisUnavailable()
    const keys = [this.#keys.session(sessionId), this.#keys.producers(sessionId)]
    const written = await guarded(() => this.#eval(MARK_PRODUCER, keys, [producerField(mark.runId, mark.producerId), stateJson(mark)]))
    if (written === 0) throw sessionNotFound()
  }

  async read(sessionId: string, after: number, limit = DEFAULT_READ_LIMIT): Promise<StoredEvent[]> {
    const kept = this.#tails.read(sessionId, after, limit)
    if (kept) return kept
    // Woken by the message of this instance's own append before Redis's answer to it arrived: that answer is near.
    const appending = this.#appending.get(sessionId)
    if (appending) {
      await appending.catch(() => {})
      const now = this.#tails.read(sessionId, after, limit)
      if (now) return now
    }
    return this.#shared(`r\0${sessionId}\0${after}\0${limit}`, async () => {
      const ticket = this.#tails.track(sessionId)
      const entries = (await guarded(() =>
        this.#link.send('XRANGE', [this.#keys.events(sessionId), `(${after}-0`, '+', 'COUNT', String(limit)]),
      )) as StreamEntry[] | null
      const kept = keptOf(sessionId, entries ?? [])
      this.#tails.add(sessionId, ticket, kept)
      return kept.map((k) => k.event)
    })
  }

  async readBefore(sessionId: string, before: number, maxBytes: number): Promise<StoredEvent[]> {
    const events: StoredEvent[] = []
    let bytes = 0
    // Small pages from the end, doubling: an entry may be a megabyte, and a page is read whole.
    for (let below = before, page = FIRST_REVERSE_PAGE; ; page = Math.min(page * 2, MAX_REVERSE_PAGE)) {
      const entries = (await guarded(() =>
        this.#link.send('XREVRANGE', [this.#keys.events(sessionId), `(${below}-0`, '-', 'COUNT', String(page)]),
      )) as StreamEntry[] | null
      for (const event of eventsOf(sessionId, entries ?? [])) {
        bytes += storedBytes(event)
        if (events.length > 0 && bytes > maxBytes) return events.reverse()
        events.push(event)
      }
      if (!entries || entries.length < page) return events.reverse()
      below = events.at(-1)!.seq
    }
  }

  /**
   * The wait is registered before the head is looked up: an append between the two is then either seen by the
   * look-up or wakes the wait. When the head is already past the cursor, the registered wait is left to the wake-up
   * of that very append, which is on its way.
   */
  waitFor(sessionId: string, after: number, signal: StopSignal, timeoutMs?: number): Promise<boolean> {
    const woken = this.#notifier.wait(sessionId, signal, timeoutMs)
    const known = this.#tails.head(sessionId)
    if (known !== undefined) return known > after ? Promise.resolve(false) : woken
    return this.#head(sessionId).then((head) => {
      if (head === undefined) throw sessionNotFound()
      return head > after ? false : woken
    })
  }

  /**
   * Takes in a message of the wake channel, before the local streams are woken by it: a seq raises the session's
   * known head; a bare id (pruned, trimmed, compacted) forgets what is kept of it.
   */
  wakeHeard(sessionId: string, seq: number | undefined): void {
    if (seq === undefined) this.#tails.forget(sessionId)
    else this.#tails.woken(sessionId, seq)
  }

  /** Forgets every known head: the subscription was lost, and wake messages with it. */
  wakesMissed(): void {
    this.#tails.clear()
  }

  /** Resolves when both of this instance's Redis connections work; rejects with STORE_UNAVAILABLE otherwise. */
  async ping(): Promise<void> {
    if (!this.#options.subscribed()) throw redisUnavailable()
    await guarded(() => this.#link.send('PING', []))
  }

  /**
   * Closes every leased run whose owner stopped renewing its lease (it died, or lost Redis for longer than the
   * lease) with an `interrupt` holding the text it had streamed. Safe on every instance at once: a run is closed
   * once, by whichever gets there first, and never while a live owner holds its lease.
   */
  async recoverOpenRuns(): Promise<RecoveredRun[]> {
    const sessions = (await guarded(() => this.#link.send('SMEMBERS', [this.#keys.openRuns]))) as string[]
    const closed: RecoveredRun[] = []
    for (const sessionId of sessions) {
      const run = await this.closeAbandoned(sessionId)
      if (run) closed.push(run)
    }
    return closed
  }

  /** Closes the session's open run if its lease has expired; undefined when there was nothing to close. */
  async closeAbandoned(sessionId: string): Promise<RecoveredRun | undefined> {
    const k = this.#keys
    const [leased, open, from] = (await guarded(() =>
      Promise.all([
        this.#link.send('EXISTS', [k.lease(sessionId)]),
        this.#link.send('HGET', [k.session(sessionId), 'open_run']),
        this.#link.send('HGET', [k.session(sessionId), 'run_from']),
      ]),
    )) as [number, string | null, string | null]
    if (leased === 1 || !open) {
      if (!open) await guarded(() => this.#link.send('SREM', [k.openRuns, sessionId]))
      return undefined
    }
    // Nothing of this run can be stored any more (its lease is gone, and the open run blocks a new claim), so the
    // text read here is the whole of what it streamed.
    const events = await this.#readFrom(sessionId, Number(from ?? 0))
    const text = fitEventText(events.map((e) => (e.type === 'partial' && e.step_id === open ? e.delta : '')).join(''))
    const interrupt = await this.#fitClosing(sessionId, { type: 'interrupt', step_id: open, ts: new Date().toISOString(), text })
    const keys = [k.lease(sessionId), k.session(sessionId), k.events(sessionId), k.activity, k.uncompacted, k.openRuns]
    const args = [sessionId, open, JSON.stringify(interrupt), String(Date.now()), k.wakeChannel, String(eventBytes(interrupt))]
    const seq = (await guarded(() => this.#eval(CLOSE_ABANDONED, keys, args))) as number
    return seq > 0 ? { sessionId, stepId: open, seq } : undefined
  }

  /**
   * A closing event cut to what is left of the session's byte budget (byte-budget.ts): the script stores it whatever
   * the count, since a run must be closable. Read apart from the append: only the run being closed appends to its
   * chat meanwhile, so the count read is the count the script meets.
   */
  async #fitClosing(sessionId: string, event: NewEvent): Promise<NewEvent> {
    const used = (await guarded(() => this.#link.send('HGET', [this.#keys.session(sessionId), 'bytes']))) as string | null
    const max = this.#appender.maxSessionBytes
    return admit(event, [{ used: Number(used ?? 0), max }], () => sessionFull(max))
  }

  /** Deletes idle sessions, compacts finished runs and caps each session's events (redis-prune.ts). */
  async prune(policy: RetentionPolicy, now = new Date()): Promise<PruneReport> {
    const started = Date.now()
    const report = await pruneRedis(this.#link, this.#keys, policy, now, this.#capCheckedAt, (id) => {
      // Here at once; on the other instances when the message arrives (until then they may serve what was removed).
      this.#tails.forget(id)
      this.#notifier.notify(id)
    })
    this.#capCheckedAt = started
    return report
  }

  async close(): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    // Appends already accepted are answered by Redis, not cut off by the closing link.
    await this.#appender.drain()
    await this.#options.onClose?.()
    this.#link.close()
  }

  async #readFrom(sessionId: string, after: number): Promise<StoredEvent[]> {
    const all: StoredEvent[] = []
    for (let page = await this.read(sessionId, after); page.length > 0; page = await this.read(sessionId, all.at(-1)!.seq)) {
      all.push(...page)
    }
    return all
  }

  #head(sessionId: string): Promise<number | undefined> {
    return this.#shared(`h\0${sessionId}`, async () => {
      const ticket = this.#tails.track(sessionId)
      const seq = (await guarded(() => this.#link.send('HGET', [this.#keys.session(sessionId), 'last_seq']))) as string | null
      if (seq === null) {
        this.#tails.forget(sessionId)
        return undefined
      }
      this.#tails.heard(sessionId, ticket, Number(seq))
      // A waiter that joined this look-up after a wake message for a newer seq must see that seq, not Redis's older
      // answer: it registered its wait after that message, so nothing else would wake it.
      return Math.max(Number(seq), this.#tails.head(sessionId) ?? 0)
    })
  }

  #shared<T>(key: string, load: () => Promise<T>): Promise<T> {
    const pending = this.#inflight.get(key)
    if (pending) return pending as Promise<T>
    const loading = load().finally(() => this.#inflight.delete(key))
    this.#inflight.set(key, loading)
    return loading
  }

  #eval(script: string, keys: string[], args: string[]): Promise<unknown> {
    return runScript(this.#link, script, keys, args)
  }
}
