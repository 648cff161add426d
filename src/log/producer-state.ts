import type { NewEvent } from '../events.ts'
import type { EventStore } from './event-store.ts'

/**
 * What a store keeps of one idempotent producer (`Producer-Id`) of one run: the last request it applied and that
 * request's answer, so a retry is answered again without storing anything — after a restart, or on another instance,
 * as well as here. Kept per (session, run, producer): no other session's producers can push it out.
 */
export interface ProducerState {
  /** `Producer-Epoch` (0 for a request without it): a later epoch restarts `seq` at 0 and fences the older one. */
  epoch: number
  /** The last `Producer-Seq` applied, whole or in part. */
  seq: number
  /** Events that request stored (its `appended`). */
  appended: number
  /** Whether the run had its closing event after that request. */
  closed: boolean
  /** Set when the request failed after storing some of its events: its retry gets the same refusal. */
  failure?: ProducerFailure
}

/** A refusal as a retry gets it again: the AppError's code, sentence and extra fields. */
export interface ProducerFailure {
  code: string
  message: string
  fields?: Record<string, unknown>
}

/** A producer's state with its key, as written. */
export interface ProducerMark extends ProducerState {
  runId: string
  producerId: string
  /**
   * Compare-and-set: the state the request was decided from, as read (null: it had none). The store refuses the event
   * carrying the mark with PRODUCER_STALE, storing nothing, unless the producer's state is still exactly that: two
   * decisions from one read never both store (the request is then decided again). Undefined: written regardless.
   */
  expect?: ProducerState | null
}

/**
 * A store that keeps producer state durably, committed together with the events that change it: an event appended
 * with a mark (`withProducerMark`) is stored with its mark in one transaction (one Redis script), or not at all.
 */
export interface KeepsProducers {
  /** The producer's state in that run of the session; undefined if it has none. */
  producerState(sessionId: string, runId: string, producerId: string): Promise<ProducerState | undefined>
  /** How many producers the session holds state for, over all its runs. */
  producerCount(sessionId: string): Promise<number>
  /** Forgets the producers of every run of the session but `keepRunId` (closed runs: they take no more events). */
  forgetProducers(sessionId: string, keepRunId: string): Promise<void>
  /** Writes a mark that has no event to ride with (a request that stored none, or failed after storing some). */
  markProducer(sessionId: string, mark: ProducerMark): Promise<void>
}

export const canKeepProducers = (store: EventStore): store is EventStore & KeepsProducers =>
  typeof (store as Partial<KeepsProducers>).producerState === 'function'

/**
 * The mark rides on the event itself, under a symbol: a published run's events reach the store through the runner
 * and its step API, which know nothing of producers (and must not offer marks to every step). A symbol is copied by
 * the runner's spread, and never reaches JSON, the schema check or a reader: each store takes it off first.
 */
const MARK = Symbol('producer mark')

type Marked = NewEvent & { [MARK]?: ProducerMark }

/** The event, carrying `mark` to the store: committed with it, or not at all. */
export function withProducerMark<E extends object>(event: E, mark: ProducerMark): E {
  return { ...event, [MARK]: mark }
}

/** The event without its mark, and the mark (undefined for an event that carries none). */
export function splitProducerMark(event: NewEvent): [NewEvent, ProducerMark | undefined] {
  const mark = (event as Marked)[MARK]
  if (!mark) return [event, undefined]
  const { [MARK]: _mark, ...plain } = event as Marked
  return [plain as NewEvent, mark]
}

/** A producer's state as stores keep it in text: JSON of the fields, the key and the expectation left out. */
export function stateJson(mark: ProducerMark): string {
  return JSON.stringify(stateOf(mark))
}

/** The state a mark writes, without its key and expectation. */
export function stateOf(mark: ProducerMark): ProducerState {
  const { runId: _run, producerId: _producer, expect: _expect, ...state } = mark
  return state
}

/**
 * The text a state read back from the store was kept as: it was written by `stateJson` and read with `JSON.parse`, and
 * JSON.stringify gives back exactly what it wrote once parsed (same key order, canonical numbers and strings).
 */
export const storedText = (state: ProducerState): string => JSON.stringify(state)
