import { AppError, sessionNotFound } from '../errors.ts'
import { type EventType, isClosing, type NewEvent } from '../events.ts'
import type { SessionRecord } from './event-store.ts'
import type { ProducerWrite } from './log-backend.ts'
import { type ProducerMark, stateJson, storedText } from './producer-state.ts'
import type { StepSpec } from '../steps/step.ts'
import { fitClosing, sessionFull } from './byte-budget.ts'
import type { LogId, LogState } from './log-backend.ts'
import type { ChatBranch } from './event-store.ts'
import type { CoreEntry } from './log-ledger.ts'
import type { LogRefusals } from './log-refusals.ts'

/*
 * How a chat is written into a log (src/log/event-log.ts): its refusals' words, its record in the log's meta, its
 * events as entries, its producers' keys.
 */

/** A chat's refusals, in a chat's words. */
export const CHAT_WORDS: LogRefusals = {
  noLog: () => sessionNotFound(),
  // A chat deleted while branches of it live is kept for them, and is gone for everyone else.
  gone: () => sessionNotFound(),
  closed: () => new AppError('RUN_CLOSED', 'This chat is closed and takes no more messages.'),
  full: (maxBytes) => sessionFull(maxBytes),
  fenced: () =>
    new AppError('RUN_ENDED', 'This run lost its hold on the chat (its server stopped renewing it), so its events are no longer stored.'),
  metaTooLarge: (maxBytes) =>
    new AppError('BAD_REQUEST', `The step's options are too large to keep: at most ${maxBytes / 1024} KiB. Send fewer or shorter options.`),
}

/** What a session's log keeps in its meta: the SessionRecord's fields that are not its id and head. */
export interface SessionMeta {
  created_at: string
  step: StepSpec
  viewer_id: string
  publisher_hash?: string
  /**
   * The branches whose first own message is a version of one of this chat's (src/log/chat-versions.ts), oldest first,
   * at most MAX_BRANCHES_PER_CHAT. Never part of the SessionRecord: they are owner ids, and a record reaches viewers.
   */
  branches?: ChatBranch[]
  /** The title a rename gave it (chat-title.ts `checkedTitle`); absent until renamed, and after a rename to "". */
  title?: string
  /**
   * Its first message's title (chat-title.ts `autoTitle`), written once when that message is stored: a list of chats
   * reads each title from the meta, never from the log.
   */
  auto_title?: string
}

/**
 * Which events readers share one parsed copy of, while the core keeps their entry (a live chat's newest): those whose
 * shape is bounded text. Events holding outside JSON (a tool's input or result, an agent's state) are parsed per
 * read instead: parsed, `[{},{},…]` costs ~25 times its JSON, and the cache is bounded by its JSON (issue 20).
 */
export const SHARED = {
  user: true,
  start: true,
  partial: true,
  reasoning: true,
  'tool-call': false,
  'tool-result': false,
  final: true,
  interrupt: true,
  error: true,
  'agent-step': true,
  'agent-state': false,
} satisfies Record<EventType, boolean>

export const sessionTaken = () => new AppError('BAD_REQUEST', 'A session with that id already exists.')

/**
 * An event as its entry: its JSON (`json`, when the gate made it already: events.ts `checkNewEvent`). A run's `user` or `start` opens the run, its closing event closes it
 * and is stored however full the chat, its text cut to the room left; every event of a run is fenced by its lease.
 */
export function eventEntry(log: LogId, event: NewEvent, json = JSON.stringify(event)): CoreEntry {
  const closing = isClosing(event)
  const entry: CoreEntry = {
    log,
    data: json,
    exempt: closing,
    run: event.step_id,
    opensRun: event.type === 'user' || event.type === 'start',
    closesRun: closing,
    fenced: true,
    words: CHAT_WORDS,
  }
  if (closing) entry.fit = (room) => JSON.stringify(fitClosing(event, room))
  return entry
}

/** A run's closing event written by the server itself (recovery, a branch): not fenced, since it has no lease. */
export const closingEntry = (log: LogId, event: NewEvent): CoreEntry => ({ ...eventEntry(log, event), fenced: false })

/** A producer's key in its log: its run and its id, as JSON (both are data, never a key of an object). */
export const producerKey = (runId: string, producerId: string) => JSON.stringify([runId, producerId])

export const producerEntry = (mark: ProducerMark): ProducerWrite => {
  const entry: ProducerWrite = { key: producerKey(mark.runId, mark.producerId), value: stateJson(mark) }
  if (mark.expect !== undefined) entry.expect = mark.expect === null ? null : storedText(mark.expect)
  return entry
}

export function recordOf(id: string, state: LogState): SessionRecord {
  const meta = JSON.parse(state.meta) as SessionMeta
  const record: SessionRecord = {
    id,
    created_at: meta.created_at,
    last_seq: state.head,
    step: meta.step,
    viewer_id: meta.viewer_id,
    title: meta.title ?? meta.auto_title ?? '',
  }
  if (meta.publisher_hash) record.publisher_hash = meta.publisher_hash
  if (state.forkedFrom) record.forked_from = { id: state.forkedFrom.log, at: state.forkedFrom.at }
  return record
}
