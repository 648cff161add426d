import { AppError, type ErrorCode } from '../errors.ts'
import { MAX_PRODUCERS_PER_SESSION } from '../limits.ts'
import type { EventStore } from '../log/event-store.ts'
import type { KeepsProducers, ProducerFailure, ProducerState } from '../log/producer-state.ts'
import { ProducerRequest } from './producer-request.ts'
import type { AppendResult } from './published-run.ts'

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
 * Idempotent producers, with the header names and rules of the Durable Streams protocol: a producer numbers its
 * append requests `Producer-Seq` 0, 1, 2… under its `Producer-Id`, per run. A request whose number was already
 * applied gets the result it got then, and appends nothing (a retry after a lost answer); a number past the next one
 * is a gap, refused with the number expected.
 *
 * The state is the store's (store/producer-state.ts), kept per (session, run, producer) and committed with the
 * events it counts, so it survives a restart and is shared by instances. Here, in memory, are only the requests in
 * flight: a producer's requests are applied one at a time, so a retry sent while its request is still being applied
 * waits for it and is then answered from the store.
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
   * Runs `apply` unless request `seq` of `producerId` was already applied (then answers its result again). Throws
   * PRODUCER_SEQ_GAP (409) for a number past the next, TOO_MANY_PRODUCERS (409) for a producer past the session's
   * bound. A request that fails before storing anything is not applied: its number may be sent again.
   */
  run(
    target: ProducerTarget,
    producerId: string,
    seq: number,
    apply: (request: ProducerRequest) => Promise<AppendResult>,
  ): Promise<AppendResult> {
    const key = JSON.stringify([target.runId, producerId])
    const queue = this.#inflight.get(target.sessionId) ?? new Map<string, Promise<unknown>>()
    this.#inflight.set(target.sessionId, queue)
    const previous = queue.get(key)
    const current = (previous ?? Promise.resolve()).catch(() => {}).then(() => this.#run(target, key, producerId, seq, apply))
    queue.set(key, current)
    const settled = () => {
      if (queue.get(key) !== current) return
      queue.delete(key)
      if (queue.size === 0) this.#inflight.delete(target.sessionId)
    }
    current.then(settled, settled)
    return current
  }

  async #run(
    target: ProducerTarget,
    key: string,
    producerId: string,
    seq: number,
    apply: (request: ProducerRequest) => Promise<AppendResult>,
  ): Promise<AppendResult> {
    const { sessionId, runId } = target
    const state = await this.store.producerState(sessionId, runId, producerId)
    if (state?.seq === seq) return replay(runId, state)
    // A producer unknown here is new, or was forgotten with its closed run: the run says which first.
    if (!state) await target.assertOpen()
    const next = state ? state.seq + 1 : 0
    if (seq < next) {
      throw new AppError(
        'PRODUCER_SEQ_GAP',
        `Producer-Seq ${seq} was applied before the last one, whose result alone is kept; the next is ${next}.`,
      )
    }
    if (seq > next) throw new AppError('PRODUCER_SEQ_GAP', `Producer-Seq ${seq} skips ahead: the next expected is ${next}.`)
    const admitted = state ? undefined : await this.#admit(target, key)
    const request = new ProducerRequest(runId, producerId, seq)
    try {
      const result = await apply(request)
      // No event carried the answer in (none was stored, or the body was streamed): it is written alone. Should that
      // fail, a request that stored nothing may be applied again, and one that did is refused as unfinished.
      if (!request.answered) await this.store.markProducer(sessionId, request.markNow())
      return result
    } catch (error) {
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

/** The answer a retry of an applied request gets: the result, or the refusal, of the request it repeats. */
function replay(runId: string, state: ProducerState): AppendResult {
  if (state.failure) {
    const { code, message, fields } = state.failure
    throw new AppError(code as ErrorCode, message, undefined, fields)
  }
  return { run_id: runId, appended: state.appended, closed: state.closed }
}

function failureOf(error: unknown): ProducerFailure {
  if (!(error instanceof AppError)) return { code: 'INTERNAL', message: 'The server failed to store the rest of this request.' }
  const failure: ProducerFailure = { code: error.code, message: error.message }
  if (error.fields) failure.fields = error.fields
  return failure
}

/** Reads the `Producer-Id` and `Producer-Seq` headers: both or neither; a seq is a whole number. 400 otherwise. */
export function producerOf(headers: Headers): { id: string; seq: number } | undefined {
  const id = headers.get('producer-id')
  const seq = headers.get('producer-seq')
  if (id === null && seq === null) return undefined
  if (!id || id.length > 200 || seq === null || !/^\d{1,15}$/.test(seq)) {
    throw new AppError('BAD_REQUEST', 'Send Producer-Id (up to 200 characters) and Producer-Seq (a whole number: 0, 1, 2…) together.')
  }
  return { id, seq: Number(seq) }
}
