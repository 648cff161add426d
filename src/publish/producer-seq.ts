import { AppError, type ErrorCode } from '../errors.ts'
import { MAX_PRODUCERS_PER_SESSION } from '../limits.ts'
import type { EventStore } from '../log/event-store.ts'
import type { KeepsProducers, ProducerFailure, ProducerState } from '../log/producer-state.ts'
import { decideProducer, type ProducerDecision } from '../streams/producer-rules.ts'
import { H, StreamRefusal } from '../streams/stream-answer.ts'
import { ProducerRequest } from './producer-request.ts'
import type { ProducerNumber } from './publish-headers.ts'
import type { AppendResult } from './published-run.ts'

/**
 * What a producer's request got: `applied`, the result of storing it (or, for a request without Producer-Epoch that
 * repeats the last one, that request's result again); or `duplicate`, a Durable Streams producer's retry of what is
 * stored, with the producer's epoch and last seq (answered 204).
 */
export type ProducerOutcome = { applied: AppendResult } | { duplicate: { epoch: number; seq: number; closed: boolean } }

/** How often a request is decided again when its producer's state changed between the read and the write (STALE). */
const STALE_RETRIES = 3

/** A request refused STALE before any of it was stored: decided again (the store's refusal is its cause). */
class DecidedFromStale extends Error {
  constructor(override readonly cause: AppError) {
    super(cause.message)
  }
}

/** The run a producer request is for. */
export interface ProducerTarget {
  sessionId: string
  runId: string
  /**
   * Throws unless the run takes events here; asked of a producer with no state, before it is admitted (admitting one
   * may forget the producers of the session's other runs, which must then be closed).
   */
  assertOpen: () => Promise<unknown>
}

/**
 * Idempotent producers, with the header names and rules of the Durable Streams protocol (streams/producer-rules.ts,
 * the same decision the /v1/stream layer takes): a producer numbers its append requests `Producer-Seq` 0, 1, 2… under
 * its `Producer-Id` and `Producer-Epoch`, per run. A request whose number was already applied appends nothing (a retry
 * after a lost answer); a number past the next one is a gap, refused with the number expected; an epoch older than
 * the producer's is fenced (a zombie's request), and a newer one, starting again at seq 0, fences the older.
 *
 * The state is the store's (log/producer-state.ts), kept per (session, run, producer) and committed with the
 * events it counts, compared as read (a STALE refusal: decided again), so it survives a restart and is shared by
 * instances. Here, in memory, are only the requests in flight: a producer's requests are applied one at a time, so a
 * retry sent while its request is still being applied waits for it and is then answered from the store.
 */
export class ProducerSeqs {
  /** The last request in flight per producer (a JSON [run, producer] key), per session. */
  readonly #inflight = new Map<string, Map<string, Promise<unknown>>>()
  /** New producers being admitted per session, counted against the bound until they settle. */
  readonly #admitting = new Map<string, Set<string>>()

  /** @param maxPerSession producers a session keeps state for; default MAX_PRODUCERS_PER_SESSION. */
  constructor(
    private readonly store: EventStore & KeepsProducers,
    private readonly maxPerSession = MAX_PRODUCERS_PER_SESSION,
  ) {}

  /**
   * Runs `apply` unless the producer's request was already applied (then answers as `duplicate` in producer-seq.ts
   * says). Throws PRODUCER_SEQ_GAP (409) for a number past the next, PRODUCER_FENCED (403) for a stale epoch, 400 for a
   * new epoch not at seq 0, TOO_MANY_PRODUCERS (409) for a producer past the session's bound. A request that fails
   * before storing anything is not applied: its number may be sent again.
   */
  run(
    target: ProducerTarget,
    producer: ProducerNumber,
    apply: (request: ProducerRequest) => Promise<AppendResult>,
  ): Promise<ProducerOutcome> {
    const key = JSON.stringify([target.runId, producer.id])
    const queue = this.#inflight.get(target.sessionId) ?? new Map<string, Promise<unknown>>()
    this.#inflight.set(target.sessionId, queue)
    const previous = queue.get(key)
    const current = (previous ?? Promise.resolve()).catch(() => {}).then(() => this.#run(target, key, producer, apply))
    queue.set(key, current)
    const settled = () => {
      if (queue.get(key) !== current) return
      queue.delete(key)
      if (queue.size === 0) this.#inflight.delete(target.sessionId)
    }
    current.then(settled, settled)
    return current
  }

  /**
   * Decides and applies the request. The store compares each mark with the state it was decided from: should another
   * writer have changed that state meanwhile (a path round this queue; another instance), the first write is refused
   * PRODUCER_STALE with nothing of the request stored, and the request is decided again from the state as it is now.
   */
  async #run(
    target: ProducerTarget,
    key: string,
    producer: ProducerNumber,
    apply: (request: ProducerRequest) => Promise<AppendResult>,
  ): Promise<ProducerOutcome> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.#decide(target, key, producer, apply)
      } catch (error) {
        if (!(error instanceof DecidedFromStale) || attempt === STALE_RETRIES) throw error instanceof DecidedFromStale ? error.cause : error
      }
    }
  }

  async #decide(
    target: ProducerTarget,
    key: string,
    producer: ProducerNumber,
    apply: (request: ProducerRequest) => Promise<AppendResult>,
  ): Promise<ProducerOutcome> {
    const { sessionId, runId } = target
    const { id, seq } = producer
    const state = await this.store.producerState(sessionId, runId, id)
    // A producer unknown here is new, or was forgotten with its closed run: the run says which first.
    if (!state) await target.assertOpen()
    // The Durable Streams rules, decided once for both: a request without Producer-Epoch is of epoch 0.
    const decided = decideProducer(state && { epoch: state.epoch, seq: state.seq }, { epoch: producer.epoch ?? 0, seq })
    if (decided.kind === 'duplicate') return duplicate(runId, producer, state!)
    if (decided.kind !== 'append') throw refusal(decided, producer)
    const admitted = state ? undefined : await this.#admit(target, key)
    const request = new ProducerRequest(runId, id, seq, decided.mark.epoch, state ?? null)
    try {
      const result = await apply(request)
      // No event carried the answer in (none was stored, or the body was streamed): it is written alone. Should that
      // fail, a request that stored nothing may be applied again, and one that did is refused as unfinished.
      if (!request.answered) await this.store.markProducer(sessionId, request.markNow())
      return { applied: result }
    } catch (error) {
      if (request.appended === 0 && error instanceof AppError && error.code === 'PRODUCER_STALE') throw new DecidedFromStale(error)
      // Partly applied: its retry must get the same refusal and store nothing again. Should this write fail, the
      // state committed with its last event still answers the retry, with what was stored.
      if (request.appended > 0) await this.store.markProducer(sessionId, request.markNow(failureOf(error))).catch(() => {})
      throw error
    } finally {
      admitted?.()
    }
  }

  /**
   * Counts a new producer against the session's bound; returns what ends its admission. Past the bound it refuses
   * rather than forget a producer of the open run: that producer's retry would be applied twice, the very thing
   * producer state is for. Forgetting the producers of closed runs is safe, since their runs take no more events.
   */
  async #admit(target: ProducerTarget, key: string): Promise<() => void> {
    const { sessionId } = target
    const admitting = this.#admitting.get(sessionId) ?? new Set<string>()
    this.#admitting.set(sessionId, admitting)
    admitting.add(key)
    const done = () => {
      admitting.delete(key)
      if (admitting.size === 0 && this.#admitting.get(sessionId) === admitting) this.#admitting.delete(sessionId)
    }
    try {
      // Conservative: a producer admitted a moment ago may be counted both here and in the store.
      if ((await this.store.producerCount(sessionId)) + admitting.size > this.maxPerSession) {
        await this.store.forgetProducers(sessionId, target.runId)
        if ((await this.store.producerCount(sessionId)) + admitting.size > this.maxPerSession) {
          throw new AppError(
            'TOO_MANY_PRODUCERS',
            `This run already has ${this.maxPerSession} producers, the most a session keeps: send this request under the Producer-Id of one of them, or without Producer-Id and Producer-Seq.`,
          )
        }
      }
    } catch (error) {
      done()
      throw error
    }
    return done
  }
}

/**
 * What a request already applied (its seq at most the last) gets. The last request's refusal, if it was refused after
 * storing part of its events, is given again: answering "applied" would hide what was not stored. Otherwise a
 * Durable Streams producer (Producer-Epoch sent) gets the protocol's duplicate; a request without it gets the result
 * of the last request again, as the publish API always answered, and only that one (its state keeps no other).
 */
function duplicate(runId: string, producer: ProducerNumber, state: ProducerState): ProducerOutcome {
  if (producer.seq === state.seq && state.failure) {
    const { code, message, fields } = state.failure
    throw new AppError(code as ErrorCode, message, undefined, fields)
  }
  if (producer.epoch !== undefined) return { duplicate: { epoch: state.epoch, seq: state.seq, closed: state.closed } }
  if (producer.seq === state.seq) return { applied: { run_id: runId, appended: state.appended, closed: state.closed } }
  throw new AppError(
    'PRODUCER_SEQ_GAP',
    `Producer-Seq ${producer.seq} was applied before the last one, whose result alone is kept; the next is ${state.seq + 1}.`,
  )
}

/** The refusals of the Durable Streams rules, with the protocol's headers beside the sentence. */
function refusal(decided: Exclude<ProducerDecision, { kind: 'append' | 'duplicate' }>, producer: ProducerNumber): AppError {
  switch (decided.kind) {
    case 'stale-epoch':
      return new StreamRefusal(
        'PRODUCER_FENCED',
        `Producer-Epoch ${producer.epoch ?? 0} is older than this producer’s current epoch, ${decided.currentEpoch}: a newer instance of it took over. Stop, or claim epoch ${decided.currentEpoch + 1} from Producer-Seq 0.`,
        { [H.producerEpoch]: String(decided.currentEpoch) },
      )
    case 'epoch-needs-seq-0':
      return new AppError('BAD_REQUEST', `A new Producer-Epoch starts at Producer-Seq 0, not ${producer.seq}.`, undefined, {
        field: 'producer-seq',
      })
    case 'gap':
      return new StreamRefusal(
        'PRODUCER_SEQ_GAP',
        `Producer-Seq ${decided.receivedSeq} skips ahead: the next expected is ${decided.expectedSeq}.`,
        { [H.expectedSeq]: String(decided.expectedSeq), [H.receivedSeq]: String(decided.receivedSeq) },
      )
  }
}

function failureOf(error: unknown): ProducerFailure {
  if (!(error instanceof AppError)) return { code: 'INTERNAL', message: 'The server failed to store the rest of this request.' }
  const failure: ProducerFailure = { code: error.code, message: error.message }
  if (error.fields) failure.fields = error.fields
  return failure
}
