import type { StopSignal } from '../bus/session-signal.ts'
import { AppError, sessionNotFound, tooManyBranches } from '../errors.ts'
import { checkNewEvent, isClosing, type NewEvent, type StoredEvent } from '../events.ts'
import type { StoreMetrics } from '../metrics.ts'
import { newId } from '../session-id.ts'
import type { StepSpec } from '../steps/step.ts'
import {
  type ChatBranch,
  type ChatLineage,
  DEFAULT_READ_LIMIT,
  type EventStore,
  type LineageChat,
  type ForksSessions,
  type NewSessionOptions,
  type Prunable,
  type RecoveredRun,
  type RecoversRuns,
  type SessionRecord,
  type StoreDeps,
} from './event-store.ts'
import { type KeepsProducers, type ProducerMark, type ProducerState, splitProducerMark } from './producer-state.ts'
import type { PruneReport, RetentionPolicy } from './retention-policy.ts'
import {
  CHAT_WORDS,
  closingEntry,
  eventEntry,
  producerEntry,
  producerKey,
  recordOf,
  type SessionMeta,
  SHARED,
  sessionTaken,
} from './chat-entries.ts'
import { Compaction, StreamedText, streamedText } from './folds.ts'
import { versionRoot } from './chat-versions.ts'
import { MAX_BRANCH_DEPTH, MAX_BRANCHES_PER_CHAT } from '../limits.ts'
import type { LogBackend, LogEntry, LogId } from './log-backend.ts'
import { LogCore, type LogCoreOptions } from './log-core.ts'
import type { Appended, CoreEntry } from './log-ledger.ts'
import { Retention } from './retention.ts'
import { readableEvent } from '../writable-value.ts'
import { autoTitle } from '../chat-title.ts'

/** The events a compaction or recovery reads from a log at a time. */
const FOLD_PAGE = 1000

/** The bytes of events a branch reads back at a time, looking for its last run's start. */
const FOLD_PAGE_BYTES = 256 * 1024

/** What an event log takes besides its backend: the limits of chats, in the words of the flags. */
export interface EventLogOptions extends StoreDeps {
  /** Events kept per session before the oldest tenth is dropped; default DEFAULT_MAX_EVENTS_PER_SESSION (100,000). */
  maxEventsPerSession?: number
  /** Sessions held at once; a new one beyond it is refused with 503 STORE_FULL; default unbounded. */
  maxSessions?: number
  /** Events held across all sessions; beyond it everything but a run's closing event gets 503; default unbounded. */
  maxEvents?: number
  /** Bytes one session's events may take (their JSON); default DEFAULT_MAX_SESSION_BYTES (64 MiB). */
  maxSessionBytes?: number
  /** Bytes all sessions' events may take together (their JSON); default unbounded. */
  maxStoreBytes?: number
  /** The rest of the core's settings (the clock, the cache, the batch size). */
  core?: Omit<LogCoreOptions, 'maxLogBytes' | 'maxEntriesPerLog' | 'maxLogs' | 'maxEntries' | 'maxBytes' | 'notifier'>
}

/** The event log over `backend`, with the core built from the chat options: how every store is made. */
export function createEventLog(backend: LogBackend, options: EventLogOptions = {}): EventLog {
  const core = new LogCore(backend, {
    ...options.core,
    notifier: options.notifier,
    maxLogBytes: options.maxSessionBytes,
    maxEntriesPerLog: options.maxEventsPerSession,
    maxLogs: options.maxSessions,
    maxEntries: options.maxEvents,
    maxBytes: options.maxStoreBytes,
    onCommit: options.core?.onCommit ?? (options.metrics && ((seconds) => options.metrics!.storeCommit(seconds))),
  })
  return new EventLog(core, options.metrics)
}

/**
 * A chat's events as a log of the core: each event is one entry (its JSON), checked once by the event gate; a
 * session is a log whose meta holds its record and whose alias is its viewer id; producer marks ride with their
 * event; runs open and close with their events, so that recovery finds the ones a crash left open on any backend.
 */
/** How many of an older chat's first events are looked through for its first message, to title it; events. */
const OLDER_TITLE_SCAN = 16

export class EventLog implements EventStore, ForksSessions, KeepsProducers, Prunable, RecoversRuns {
  /** Events parsed from entries the core keeps: readers of a live chat share one object per event. */
  readonly #parsed = new WeakMap<LogEntry, StoredEvent>()
  readonly #retention: Retention
  /** Per chat, the last meta change queued in this process: `#oneAtATime`. */
  readonly #metaTurns = new Map<LogId, Promise<void>>()

  constructor(
    readonly core: LogCore,
    private readonly metrics?: StoreMetrics,
  ) {
    this.#retention = new Retention(core, (log) => this.#compact(log))
  }

  async createSession(id: string, step: StepSpec, options: NewSessionOptions = {}): Promise<SessionRecord> {
    const meta: SessionMeta = { created_at: new Date(this.core.now()).toISOString(), step, viewer_id: newId() }
    if (options.publisherHash) meta.publisher_hash = options.publisherHash
    const json = JSON.stringify(meta)
    if (!(await this.core.create({ log: id, meta: json, aliases: [meta.viewer_id] }, CHAT_WORDS))) throw sessionTaken()
    return { id, last_seq: 0, title: '', ...meta }
  }

  /**
   * A new session `id` holding the events of `sourceId` up to `at`, with the same seqs, and its own from then on: the
   * chat app's "branch from here". It answers with the source's step and a viewer id of its own; producer state stays
   * with the source, and a publisher token is the caller's to give (`options`). A run still going at `at` is closed in
   * the branch with an `interrupt` holding what it had streamed by then, as recovery closes one: nothing will ever
   * stream into it there. The branch is recorded, in the same process's turn as the fork, as a version of the message
   * after `at` in the chat that message was first written in (chat-versions.ts).
   */
  async forkSession(sourceId: string, at: number, id: string, options: NewSessionOptions = {}): Promise<SessionRecord> {
    const source = await this.getSession(sourceId)
    if (!source) throw sessionNotFound()
    const meta: SessionMeta = { created_at: new Date(this.core.now()).toISOString(), step: source.step, viewer_id: newId() }
    if (options.publisherHash) meta.publisher_hash = options.publisherHash
    // A branch that holds the first message is titled as its source is (a rename included); one before it, by its own.
    if (at >= 1 && source.title !== '') meta.auto_title = source.title
    const root = versionRoot(await this.lineage(sourceId), at)?.root.id
    const fork = async () => {
      if (!(await this.core.fork(sourceId, at, { log: id, meta: JSON.stringify(meta), aliases: [meta.viewer_id] }, CHAT_WORDS))) {
        throw sessionTaken()
      }
    }
    if (root === undefined) await fork()
    else await this.#recordBranch(root, { id, at }, fork)
    const open = await this.#lastRunIfOpen(id, at)
    const { created_at, step, viewer_id, publisher_hash } = meta
    const record: SessionRecord = {
      id,
      created_at,
      step,
      viewer_id,
      last_seq: at,
      title: meta.auto_title ?? '',
      forked_from: { id: sourceId, at },
    }
    if (publisher_hash) record.publisher_hash = publisher_hash
    if (!open) return record
    const interrupt: NewEvent = { type: 'interrupt', step_id: open.run, ts: meta.created_at, text: open.text }
    const closed = await this.core.append(closingEntry(id, interrupt))
    return { ...record, last_seq: closed.seq }
  }

  async lineage(id: string): Promise<ChatLineage> {
    const lineage: LineageChat[] = []
    for (let log: LogId | undefined = id; log !== undefined && lineage.length < MAX_BRANCH_DEPTH; ) {
      const state = await this.core.state(log)
      if (!state) break
      const meta = JSON.parse(state.meta) as SessionMeta
      const chat: LineageChat = { id: log, deleted: state.deletedAt !== undefined, branches: meta.branches ?? [] }
      if (state.forkedFrom) chat.forkedAt = state.forkedFrom.at
      lineage.push(chat)
      log = state.forkedFrom?.log
    }
    return lineage
  }

  /**
   * Runs `fork` and records its branch in `root`'s meta, one at a time per root in this process (a read, then a write
   * of the whole meta: two at once would lose one). Past MAX_BRANCHES_PER_CHAT, branches deleted since are forgotten
   * first; if none were, the fork is refused before it is made.
   */
  #recordBranch(root: LogId, branch: ChatBranch, fork: () => Promise<void>): Promise<void> {
    return this.#oneAtATime(root, async () => {
      const before = await this.core.state(root)
      if (!before) return fork()
      const meta = JSON.parse(before.meta) as SessionMeta
      let branches = meta.branches ?? []
      if (branches.length >= MAX_BRANCHES_PER_CHAT) {
        const live = await Promise.all(branches.map(async (known) => (await this.core.state(known.id)) !== undefined))
        branches = branches.filter((_, index) => live[index])
        if (branches.length >= MAX_BRANCHES_PER_CHAT) throw tooManyBranches()
      }
      await fork()
      await this.core.setMeta(root, JSON.stringify({ ...meta, branches: [...branches, branch] }), CHAT_WORDS)
    })
  }

  /** Runs `work` after every earlier work of the same log has settled (this process only). */
  async #oneAtATime<T>(log: LogId, work: () => Promise<T>): Promise<T> {
    const earlier = this.#metaTurns.get(log) ?? Promise.resolve()
    const turn = earlier.then(work)
    const settled = turn.then(
      () => undefined,
      () => undefined,
    )
    this.#metaTurns.set(log, settled)
    try {
      return await turn
    } finally {
      if (this.#metaTurns.get(log) === settled) this.#metaTurns.delete(log)
    }
  }

  async getSession(id: string): Promise<SessionRecord | undefined> {
    const state = await this.core.state(id)
    // A chat deleted while branches of it live is kept for them (LogCore `delete`), and is gone for everyone else.
    if (!state || state.deletedAt !== undefined) return undefined
    const record = recordOf(id, state)
    return record.title === '' && state.head > 0 && (JSON.parse(state.meta) as SessionMeta).auto_title === undefined
      ? this.#titleOfOlder(record)
      : record
  }

  /**
   * A chat from before titles (its messages stored, no title recorded): titled once from its first message still kept,
   * and recorded, so that a store upgraded in place lists its chats by name.
   */
  async #titleOfOlder(record: SessionRecord): Promise<SessionRecord> {
    const first = (await this.core.read(record.id, 0, OLDER_TITLE_SCAN)).map((entry) => this.#event(record.id, entry))
    const user = first.find((event) => event.type === 'user')
    if (user?.type !== 'user') {
      // None kept (a program's chat, or a cap trimmed it): recorded as looked at, so no later request looks again.
      await this.#changeMeta(record.id, (meta) => {
        if (meta.auto_title !== undefined) return false
        meta.auto_title = ''
        return true
      }).catch(() => undefined)
      return record
    }
    await this.#titleFrom(record.id, user.text)
    return { ...record, title: autoTitle(user.text) }
  }

  async getSessionByViewer(viewerId: string): Promise<SessionRecord | undefined> {
    const id = await this.core.resolveAlias(viewerId)
    return id === undefined ? undefined : this.getSession(id)
  }

  async append(sessionId: string, marked: NewEvent): Promise<StoredEvent> {
    const [event, mark] = splitProducerMark(marked)
    const entry = eventEntry(sessionId, event, checkNewEvent(event))
    if (mark) entry.producers = [producerEntry(mark)]
    const stored = await this.core.append(entry)
    this.metrics?.eventPublished(event.type)
    if (event.type === 'user') await this.#titleFrom(sessionId, event.text)
    return this.#event(sessionId, stored as LogEntry, stored.data === entry.data ? event : undefined)
  }

  renameSession(id: string, title: string | undefined): Promise<SessionRecord | undefined> {
    return this.#changeMeta(id, (meta) => {
      if (title === undefined) delete meta.title
      else meta.title = title
      return true
    })
  }

  async deleteSession(id: string): Promise<boolean> {
    return (await this.core.delete(id)) !== undefined
  }

  /**
   * Gives the session its first message's title, once: a user message costs one read of the meta, a list of chats
   * none. A failure is let go (the message is stored, and answering it as failed would have it sent twice): the next
   * message tries again.
   */
  async #titleFrom(sessionId: string, text: string): Promise<void> {
    const title = autoTitle(text)
    await this.#changeMeta(sessionId, (meta) => {
      // '' is an older chat looked at with no message kept: its next message titles it.
      if ((meta.auto_title ?? '') !== '' || title === '') return false
      meta.auto_title = title
      return true
    }).catch(() => undefined)
  }

  /** Reads the session's meta, lets `change` change it (true when it did) and writes it: one at a time per session. */
  #changeMeta(id: string, change: (meta: SessionMeta) => boolean): Promise<SessionRecord | undefined> {
    // The same turns as a branch's record: a rename, a first message's title and a fork's record each write the whole meta.
    return this.#oneAtATime(id, async () => {
      const state = await this.core.state(id)
      if (!state || state.deletedAt !== undefined) return undefined
      const meta = JSON.parse(state.meta) as SessionMeta
      if (!change(meta)) return recordOf(id, state)
      const json = JSON.stringify(meta)
      return (await this.core.setMeta(id, json, CHAT_WORDS)) ? recordOf(id, { ...state, meta: json }) : undefined
    })
  }

  async read(sessionId: string, after: number, limit = DEFAULT_READ_LIMIT): Promise<StoredEvent[]> {
    return (await this.core.read(sessionId, after, limit)).map((entry) => this.#event(sessionId, entry))
  }

  async readBefore(sessionId: string, before: number, maxBytes: number): Promise<StoredEvent[]> {
    return (await this.core.readBefore(sessionId, before, maxBytes)).map((entry) => this.#event(sessionId, entry))
  }

  async waitFor(sessionId: string, after: number, signal: StopSignal, timeoutMs?: number): Promise<boolean> {
    // A chat's log is never closed (only a Durable Streams stream is): 'closed' cannot come here.
    return (await this.core.waitFor(sessionId, after, signal, timeoutMs, CHAT_WORDS)) === true
  }

  async producerState(sessionId: string, runId: string, producerId: string): Promise<ProducerState | undefined> {
    const value = await this.core.medium(() => this.core.backend.producer(sessionId, producerKey(runId, producerId)))
    return value === undefined ? undefined : (JSON.parse(value) as ProducerState)
  }

  async producerCount(sessionId: string): Promise<number> {
    return (await this.core.medium(() => this.core.backend.producerKeys(sessionId))).length
  }

  async forgetProducers(sessionId: string, keepRunId: string): Promise<void> {
    const keys = await this.core.medium(() => this.core.backend.producerKeys(sessionId))
    const others = keys.filter((key) => (JSON.parse(key) as [string, string])[0] !== keepRunId)
    if (others.length > 0) await this.core.medium(() => this.core.backend.deleteProducers(sessionId, others))
  }

  async markProducer(sessionId: string, mark: ProducerMark): Promise<void> {
    await this.core.append({ log: sessionId, data: null, exempt: false, producers: [producerEntry(mark)], words: CHAT_WORDS })
  }

  /**
   * Closes every run a crash (or a lost owner) left open with an `interrupt` holding the text it had streamed. The
   * backend stores it only while the run is still open and no live owner holds it, so this is safe on every instance
   * of a shared store at once; a single-process store closes every open run (nothing from before the restart owns one).
   */
  async recoverOpenRuns(): Promise<RecoveredRun[]> {
    const recovered: RecoveredRun[] = []
    for (const open of await this.core.medium(() => this.core.backend.openRuns())) {
      const closed = await this.#recoverRun(open)
      if (closed) recovered.push(closed)
    }
    return recovered
  }

  /**
   * Closes the session's open run as `recoverOpenRuns` does, if it is recoverable (a shared store's run coordinator
   * asks this of one session whose last owner let its lease expire; the runner, of a session it just claimed, `unless`
   * the run it claimed it for); undefined when there was nothing to close.
   */
  async recoverSession(sessionId: string, unless?: string): Promise<RecoveredRun | undefined> {
    const open = (await this.core.medium(() => this.core.backend.state(sessionId)))?.openRun
    return open && open.id !== unless ? this.#recoverRun({ log: sessionId, run: open.id, from: open.from }) : undefined
  }

  async #recoverRun({ log, run, from }: { log: LogId; run: string; from: number }): Promise<RecoveredRun | undefined> {
    // A state-only probe first, stored (as nothing) only if the run is recoverable: a shared store swept often
    // does not read the events of every live run only to be refused.
    if (!(await this.#recover({ log, data: null, exempt: false, run, recovers: true, words: CHAT_WORDS }))) return undefined
    const unclosed = await this.#unclosedRuns(log, from)
    const ts = new Date(this.core.now()).toISOString()
    // Older runs first, each fenced by the open run, which their interrupts leave open: a crash among them leaves
    // the rest to the next recovery. Only a log migrated from schema 8 holds any (sqlite-schema.ts, version 9).
    for (const [older, fold] of unclosed) {
      if (older === run) continue
      const interrupt: NewEvent = { type: 'interrupt', step_id: older, ts, text: fold.text }
      if (!(await this.#recover({ ...closingEntry(log, interrupt), run, closesRun: false, recovers: true }))) return undefined
      this.metrics?.eventPublished('interrupt')
    }
    const interrupt: NewEvent = { type: 'interrupt', step_id: run, ts, text: unclosed.get(run)?.text ?? '' }
    const appended = await this.#recover({ ...closingEntry(log, interrupt), recovers: true })
    if (!appended) return undefined
    this.metrics?.eventPublished('interrupt')
    return { sessionId: log, stepId: run, seq: appended.seq }
  }

  /** The runs begun after `from` without a closing event, in the order they began, each with the text it streamed. */
  async #unclosedRuns(log: LogId, from: number): Promise<Map<string, StreamedText>> {
    const unclosed = new Map<string, StreamedText>()
    await this.#eachEvent(log, from, (event) => {
      if (isClosing(event)) unclosed.delete(event.step_id)
      else if ((event.type === 'user' || event.type === 'start') && !unclosed.has(event.step_id)) {
        unclosed.set(event.step_id, new StreamedText(event.step_id))
      }
      unclosed.get(event.step_id)?.add(event)
    })
    return unclosed
  }

  /** A recovery's entry; undefined when the run is not recoverable (its owner is alive, or another closed it). */
  #recover(entry: CoreEntry): Promise<Appended | undefined> {
    return this.core.append(entry).catch((error: unknown) => {
      if (error instanceof AppError && (error.code === 'RUN_ENDED' || error.code === 'SESSION_NOT_FOUND')) return undefined
      throw error
    })
  }

  /** Deletes idle and expired sessions, compacts finished runs of quiet ones, caps each session's events. */
  prune(policy: RetentionPolicy, now?: Date): Promise<PruneReport> {
    return this.#retention.prune(policy, now?.getTime())
  }

  ping(): Promise<void> {
    return this.core.ping()
  }

  close(): Promise<void> {
    return this.core.close()
  }

  /**
   * The last run among the log's entries up to `through`, if it has no closing event there, and the text it streamed:
   * read back from `through`, page by page, to where the run began (runs of a chat never interleave).
   */
  async #lastRunIfOpen(log: LogId, through: number): Promise<{ run: string; text: string } | undefined> {
    const newestFirst: StoredEvent[] = []
    for (let before = through + 1; before > 1; ) {
      const page = await this.core.readBefore(log, before, FOLD_PAGE_BYTES)
      if (page.length === 0) return undefined
      for (const entry of page.reverse()) {
        const event = this.#event(log, entry)
        if (isClosing(event)) return undefined
        newestFirst.push(event)
        if (event.type === 'user' || event.type === 'start') {
          // Read backwards, the run's `start` (or its `user`, before the step began) is where its events begin.
          return { run: event.step_id, text: streamedText(newestFirst.reverse(), event.step_id) }
        }
      }
      before = page.at(-1)!.seq
    }
    return undefined
  }

  /** Drops the `partial`s of the log's runs that ended with `final` or `interrupt` (folds.ts `Compaction`). */
  async #compact(log: LogId): Promise<number> {
    const compaction = new Compaction()
    await this.#eachEvent(log, 0, (event) => compaction.add(event))
    const seqs = compaction.seqs
    return seqs.length === 0 ? 0 : this.core.deleteEntries(log, seqs)
  }

  async #eachEvent(log: LogId, after: number, visit: (event: StoredEvent) => void): Promise<void> {
    for (let page = await this.core.read(log, after, FOLD_PAGE); page.length > 0; ) {
      for (const entry of page) visit(this.#event(log, entry))
      page = page.length < FOLD_PAGE ? [] : await this.core.read(log, page.at(-1)!.seq, FOLD_PAGE)
    }
  }

  /** The stored event an entry holds: parsed once per entry object the core keeps, for the SHARED types. */
  #event(sessionId: string, entry: LogEntry, event?: NewEvent): StoredEvent {
    const known = this.#parsed.get(entry)
    if (known) return known
    const parsed = { ...(event ?? (JSON.parse(entry.data) as NewEvent)), seq: entry.seq, session_id: sessionId } as StoredEvent
    // Data stored before the event gate may nest deeper than anything can serialize (writable-value.ts).
    const stored = event ? parsed : readableEvent(parsed, entry.data)
    if (SHARED[stored.type]) this.#parsed.set(entry, stored)
    return stored
  }
}
