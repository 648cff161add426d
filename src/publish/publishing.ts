import { AppError, shuttingDown } from '../errors.ts'
import { ENDED_RUNS_KEPT } from '../limits.ts'
import type { Runner } from '../runs/runner.ts'
import { newId } from '../session-id.ts'
import type { EventStore, SessionRecord } from '../log/event-store.ts'
import { canKeepProducers } from '../log/producer-state.ts'
import type { ProducerRequest } from './producer-request.ts'
import { ProducerSeqs } from './producer-seq.ts'
import { type AppendResult, type PublishFormat, PublishedRun } from './published-run.ts'
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

/** A producer's numbering of a request (`Producer-Id`, `Producer-Seq`: see producer-seq.ts). */
export interface ProducerNumber {
  id: string
  seq: number
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
    const run = new PublishedRun(runId, PUBLISHED_STEP, this.timeoutMs)
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

  /**
   * Appends a request's events to an open run of the session, in `format`; a producer's numbered request is applied
   * once (a retry is answered again). An NDJSON body's lines are stored as they arrive, so viewers see the run live.
   */
  append(
    session: SessionRecord,
    runId: string,
    body: PublishBody,
    format: PublishFormat,
    producer?: ProducerNumber,
  ): Promise<AppendResult> {
    const apply = (request?: ProducerRequest) => this.#apply(session, runId, body, format, request)
    if (!producer) return apply()
    if (!this.#producers) {
      throw new AppError(
        'BAD_REQUEST',
        'This server’s store cannot keep producer state: send requests without Producer-Id and Producer-Seq.',
      )
    }
    // Numbered per run: a producer may start again at 0 in its next run.
    const target = { sessionId: session.id, runId, assertOpen: () => this.#runOf(session, runId) }
    return this.#producers.run(target, producer.id, producer.seq, apply)
  }

  async #apply(
    session: SessionRecord,
    runId: string,
    body: PublishBody,
    format: PublishFormat,
    request: ProducerRequest | undefined,
  ): Promise<AppendResult> {
    // Inside the producer's request: a retry of the request that closed the run gets its answer again, not RUN_CLOSED.
    const run = await this.#runOf(session, runId)
    if (!('lines' in body)) {
      if (!Array.isArray(body.json)) {
        throw new AppError('BAD_REQUEST', 'Send the events as a JSON array, or as NDJSON (Content-Type: application/x-ndjson).')
      }
      return run.append(body.json, format, 1, request)
    }
    if (request) request.streamed = true
    const total: AppendResult = { run_id: run.runId, appended: 0, closed: false }
    for await (const line of body.lines) {
      const result = await run.append([parseLine(line)], format, line.number, request, 'line')
      total.appended += result.appended
      total.closed = result.closed
    }
    return total
  }

  /** The open run `runId` of the session, or the error that says why it takes no events (ended, elsewhere, unknown). */
  async #runOf(session: SessionRecord, runId: string): Promise<PublishedRun> {
    const found = this.#open.get(runId)
    if (found?.sessionId === session.id) return found.run
    const state = found ? undefined : this.#ended.get(`${session.id} ${runId}`)
    if (state === 'cancelled') {
      throw new AppError('RUN_CANCELLED', 'This run was cancelled: stop publishing it.', undefined, { cancelled: true })
    }
    if (state) throw new AppError('RUN_CLOSED', 'This run is closed: it has its final event, or it timed out. Open a new run.')
    if ((await this.#runner.running(session.id)) === runId) {
      throw new AppError(
        'RUN_ELSEWHERE',
        'This run is open on another stepstream instance: send a producer’s requests to the instance that opened the run (route publishers by session).',
      )
    }
    throw new AppError('NOT_FOUND', 'This session has no run with that id.')
  }
}
