import { AppError, shuttingDown } from '../errors.ts'
import { ENDED_RUNS_KEPT } from '../limits.ts'
import type { Runner } from '../runs/runner.ts'
import { newId } from '../session-id.ts'
import type { EventStore, SessionRecord } from '../log/event-store.ts'
import { canKeepProducers } from '../log/producer-state.ts'
import type { ProducerRequest } from './producer-request.ts'
import { ProducerSeqs } from './producer-seq.ts'
import type { ProducerNumber } from './publish-headers.ts'
import { type AppendResult, type PublishFormat, PublishedRun, RunEnded } from './published-run.ts'
import { type NdjsonLine, parseLine } from './ndjson-lines.ts'
import { PUBLISHED_STEP } from './published-session.ts'
import { hashPublisherToken, newPublisherToken } from './publisher-token.ts'

export interface PublishingOptions {
  /** The log the runs are written to; producer state is kept in it when it can keep it (canKeepProducers). */
  store: EventStore
  /** Runs each published run as a step, so it keeps every promise of a run (one closing event, cancel, shutdown). */
  runner: Runner
  /** A publishing program silent this long has its run closed with an error; milliseconds (`--publish-timeout`). */
  timeoutMs: number
  /** Ended runs remembered for their late appends; runs, default ENDED_RUNS_KEPT (10,000). */
  endedKept?: number
}

/** A request's body: a JSON value (an array of events, else refused) or the lines of an NDJSON body as they arrive. */
export type PublishBody = { json: unknown } | { lines: AsyncIterable<NdjsonLine> }

/**
 * What an append request gets: the result of storing it (or a producer's result again) with the chat's last seq once
 * it was stored, or a Durable Streams producer's duplicate (producer-seq.ts) with the chat's last seq now.
 */
export type PublishAnswer =
  | { result: AppendResult; head: number }
  | { duplicate: { epoch: number; seq: number; closed: boolean }; head: number }

/** What a request asks of the run beside its events. */
export interface AppendRequest {
  format: PublishFormat
  /** Its producer's numbering (`Producer-Id`, `-Seq`, `-Epoch`: see producer-seq.ts). */
  producer?: ProducerNumber
  /** `Stream-Closed: true`: the run ends after the request's events (PublishedRun's AppendOptions). */
  closes?: boolean
}

/**
 * The runs programs publish on this instance, and the ones that ended lately: one per server (createServer builds it
 * with the runner), so two apps in one process never share a run. The publish API's routes call it; it drives the
 * runner through its step API (`open`, `settled`, `running`), so the runner knows nothing of publishing.
 */
export class Publishing {
  /** Open runs by run id; a run is fed by the instance that opened it (it holds the run's timers and its cancel). */
  readonly #open = new Map<string, { sessionId: string; run: PublishedRun }>()
  /** How each ended run ended, by "<session id> <run id>", oldest first. */
  readonly #ended = new Map<string, PublishedRun['state']>()
  readonly #producers: ProducerSeqs | undefined
  readonly #store: EventStore
  readonly #runner: Runner
  /** A publishing program silent this long has its run closed with an error; milliseconds. */
  readonly timeoutMs: number
  readonly #endedKept: number

  constructor(options: PublishingOptions) {
    this.#store = options.store
    this.#runner = options.runner
    this.timeoutMs = options.timeoutMs
    this.#endedKept = options.endedKept ?? ENDED_RUNS_KEPT
    this.#producers = canKeepProducers(options.store) ? new ProducerSeqs(options.store) : undefined
  }

  /**
   * Creates a session whose runs a program publishes, and the token it publishes with: returned this once, the store
   * keeps only its hash. 503 while the server shuts down.
   */
  async createSession(): Promise<{ session: SessionRecord; token: string }> {
    if (this.#runner.draining) throw shuttingDown()
    const token = newPublisherToken()
    const session = await this.#store.createSession(newId(), { name: PUBLISHED_STEP }, { publisherHash: hashPublisherToken(token) })
    return { session, token }
  }

  /** Opens a run of the session for its publisher; resolves with the run's id. RUN_ACTIVE while another run holds it. */
  async openRun(session: SessionRecord): Promise<string> {
    const runId = newId()
    const run = new PublishedRun(runId, PUBLISHED_STEP, this.timeoutMs, () => this.#head(session.id))
    this.#open.set(runId, { sessionId: session.id, run })
    try {
      await this.#runner.open(session, runId, run.step)
    } catch (error) {
      this.#open.delete(runId)
      throw error
    }
    void this.#runner.settled(session.id).then(() => {
      run.settled()
      this.#open.delete(runId)
      this.#ended.set(`${session.id} ${runId}`, run.state)
      for (const oldest of this.#ended.keys()) {
        if (this.#ended.size <= this.#endedKept) break
        this.#ended.delete(oldest)
      }
    })
    return runId
  }

  /** `publish` for a request without Producer-Epoch or Stream-Closed: what it did. */
  async append(
    session: SessionRecord,
    runId: string,
    body: PublishBody,
    format: PublishFormat,
    producer?: { id: string; seq: number },
  ): Promise<AppendResult> {
    const answer = await this.publish(session, runId, body, { format, producer: producer && { id: producer.id, seq: producer.seq } })
    // Without Producer-Epoch a repeat gets its result again, never the protocol's duplicate (producer-seq.ts).
    return 'result' in answer ? answer.result : { run_id: runId, appended: 0, closed: answer.duplicate.closed }
  }

  /**
   * Appends a request's events to an open run of the session, and closes the run if it asks; a producer's numbered
   * request is applied once (a retry is answered again). An NDJSON body's lines are stored as they arrive, so viewers
   * see the run live.
   */
  async publish(session: SessionRecord, runId: string, body: PublishBody, request: AppendRequest): Promise<PublishAnswer> {
    const { producer } = request
    const apply = (numbered?: ProducerRequest) => this.#apply(session, runId, body, request, numbered)
    if (!producer) return this.#closeAgain(session, runId, body, request, apply)
    if (!this.#producers) {
      throw new AppError(
        'BAD_REQUEST',
        'This server’s store cannot keep producer state: send requests without Producer-Id and Producer-Seq.',
      )
    }
    // Numbered per run: a producer may start again at 0 in its next run.
    const target = { sessionId: session.id, runId, assertOpen: () => this.#runOf(session, runId) }
    let head: number | undefined
    const outcome = await this.#producers.run(target, producer, async (numbered) => {
      const applied = await apply(numbered)
      head = applied.head
      return applied.result
    })
    if ('duplicate' in outcome) return { duplicate: outcome.duplicate, head: await this.#head(session.id) }
    return { result: outcome.applied, head: head ?? (await this.#head(session.id)) }
  }

  /**
   * A close alone (no events, no producer) of a run that is closed already is answered as done, as the protocol
   * answers a close-only POST to a closed stream: closing is idempotent. Events sent to a closed run are refused.
   */
  async #closeAgain(
    session: SessionRecord,
    runId: string,
    body: PublishBody,
    request: AppendRequest,
    apply: () => Promise<PublishAnswer & { result: AppendResult }>,
  ): Promise<PublishAnswer> {
    try {
      return await apply()
    } catch (error) {
      const closeOnly = request.closes && 'json' in body && (body.json === null || (Array.isArray(body.json) && body.json.length === 0))
      if (!(closeOnly && error instanceof AppError && error.code === 'RUN_CLOSED')) throw error
      return { result: { run_id: runId, appended: 0, closed: true }, head: await this.#head(session.id) }
    }
  }

  async #apply(
    session: SessionRecord,
    runId: string,
    body: PublishBody,
    { format, closes }: AppendRequest,
    producer: ProducerRequest | undefined,
  ): Promise<{ result: AppendResult; head: number }> {
    // Inside the producer's request: a retry of the request that closed the run gets its answer again, not RUN_CLOSED.
    const run = await this.#runOf(session, runId)
    if (!('lines' in body)) {
      // A close may come without a body (IdempotentProducer's close() without a final message).
      const events = body.json === null && closes ? [] : body.json
      if (!Array.isArray(events)) {
        throw new AppError('BAD_REQUEST', 'Send the events as a JSON array, or as NDJSON (Content-Type: application/x-ndjson).')
      }
      const appended = run.append(events, { format, producer, closes })
      // Queued right behind the append, before any other request's: the seq of its last event.
      const head = run.headAfter()
      return { result: await appended, head: await head }
    }
    if (producer) producer.streamed = true
    const total: AppendResult = { run_id: run.runId, appended: 0, closed: false }
    // The number of the body's last line: a close after it names the line after.
    let line = 0
    for await (const ndjson of body.lines) {
      line = ndjson.number
      const appended = await run.append([parseLine(ndjson)], { format, firstPosition: ndjson.number, producer, numbering: 'line' })
      total.appended += appended.appended
      total.closed = appended.closed
    }
    if (closes && !total.closed) {
      const appended = await run.append([], { format, firstPosition: line + 1, producer, closes })
      total.appended += appended.appended
      total.closed = appended.closed
    }
    // Read once, not after every line (a line may be a token): another producer's request queued between this body's
    // last line and the read would be counted in, a case the run's single streaming producer does not meet.
    return { result: total, head: await run.headAfter() }
  }

  /** The chat's last seq (0 for a chat gone meanwhile: the answer then only needs a number). */
  async #head(sessionId: string): Promise<number> {
    return (await this.#store.getSession(sessionId))?.last_seq ?? 0
  }

  /** The open run `runId` of the session, or the error that says why it takes no events (ended, elsewhere, unknown). */
  async #runOf(session: SessionRecord, runId: string): Promise<PublishedRun> {
    const found = this.#open.get(runId)
    if (found?.sessionId === session.id) return found.run
    const state = found ? undefined : this.#ended.get(`${session.id} ${runId}`)
    if (state === 'cancelled') throw new RunEnded('RUN_CANCELLED', 'This run was cancelled: stop publishing it.')
    if (state) throw new RunEnded('RUN_CLOSED', 'This run is closed: it has its final event, or it timed out. Open a new run.')
    if ((await this.#runner.running(session.id)) === runId) {
      throw new AppError(
        'RUN_ELSEWHERE',
        'This run is open on another stepstream instance: send a producer’s requests to the instance that opened the run (route publishers by session).',
      )
    }
    throw new AppError('NOT_FOUND', 'This session has no run with that id.')
  }
}
