import { DEFAULT_CANCEL_GRACE_MS } from '../defaults.ts'
import { noActiveRun, runActive, sentenceFor, shuttingDown } from '../errors.ts'
import type { StepEvent } from '../events.ts'
import type { Logger } from '../log.ts'
import type { RunMetrics } from '../metrics.ts'
import { newId } from '../session-id.ts'
import { conversationOf } from '../steps/conversation.ts'
import type { Step } from '../steps/step.ts'
import type { StepRegistry } from '../steps/step-registry.ts'
import { canRecover, type EventStore, type SessionRecord } from '../log/event-store.ts'
import { readAll } from '../store/read-all.ts'
import { LocalRunCoordinator, type RunClaim, type RunCoordinator } from './run-coordinator.ts'
import { RunEvents } from './run-events.ts'

export interface RunnerOptions {
  store: EventStore
  steps: StepRegistry
  log: Logger
  /** Who holds which session; defaults to this process's own map (LocalRunCoordinator). */
  coordinator?: RunCoordinator
  /** A cancelled step's time to return; milliseconds, default 2000 (`--cancel-grace`). */
  cancelGraceMs?: number
  /** Told when runs start and end (`/metrics`); nothing is counted when absent. */
  metrics?: RunMetrics
}

/** A run this process executes. */
interface LocalRun {
  runId: string
  /** The step's signal: aborted by a cancel (from any instance) or by shutdown. */
  stop: AbortController
  done: Promise<void>
}

/**
 * Runs steps for sessions: one run at a time per session, each closed by exactly one `final`, `interrupt` or
 * `error` whatever the step does — returns without one, emits without awaiting, throws, or ignores its signal (after
 * `cancelGraceMs` the runner writes the `interrupt` itself, frees the session and drops what the step emits later).
 */
export class Runner {
  readonly #local = new Map<string, LocalRun>()
  readonly #store: EventStore
  readonly #steps: StepRegistry
  readonly #log: Logger
  readonly #coordinator: RunCoordinator
  readonly #graceMs: number
  readonly #metrics: RunMetrics | undefined
  #draining = false

  constructor(options: RunnerOptions) {
    this.#store = options.store
    this.#steps = options.steps
    this.#log = options.log
    this.#coordinator = options.coordinator ?? new LocalRunCoordinator()
    this.#graceMs = options.cancelGraceMs ?? DEFAULT_CANCEL_GRACE_MS
    this.#metrics = options.metrics
  }

  /** The id of the session's active run, wherever it runs, if any. */
  running(sessionId: string): Promise<string | undefined> {
    return this.#coordinator.current(sessionId)
  }

  /** True once shutdown has begun: new sessions and messages are refused with 503. */
  get draining(): boolean {
    return this.#draining
  }

  /** How many runs this process is executing. */
  get activeCount(): number {
    return this.#local.size
  }

  /**
   * Adds the user's message to the session and starts the session's step on the conversation so far. Resolves with
   * the run's id once the message is stored; the run goes on in the background. Throws RUN_ACTIVE while a run holds
   * the session, SHUTTING_DOWN once shutdown has begun, UNKNOWN_STEP if this server lacks the session's step.
   */
  async submit(session: SessionRecord, text: string): Promise<string> {
    if (this.#draining) throw shuttingDown()
    return this.#start(session, newId(), this.#steps.create(session.step), text)
  }

  /**
   * Starts `step` as a run of the session without a user message: its events, a `user` one included, come through
   * the step (a run fed from outside the process). Same rules as `submit`: one run per session, refused while
   * shutting down, exactly one closing event.
   */
  open(session: SessionRecord, runId: string, step: Step): Promise<string> {
    if (this.#draining) return Promise.reject(shuttingDown())
    return this.#start(session, runId, step, undefined)
  }

  async #start(session: SessionRecord, runId: string, step: Step, text: string | undefined): Promise<string> {
    const claim = await this.#coordinator.claim(session.id, runId)
    if (!claim) throw runActive()
    if (this.#draining) {
      await claim.release()
      throw shuttingDown()
    }
    const stop = new AbortController()
    claim.cancelled.addEventListener('abort', () => stop.abort(), { once: true })
    // A cancel that reached the claim before the listener did (a shared coordinator answers over the network).
    if (claim.cancelled.aborted) stop.abort()
    let finish!: () => void
    const run: LocalRun = { runId, stop, done: new Promise((resolve) => (finish = resolve)) }
    this.#local.set(session.id, run)
    const events = new RunEvents(this.#store, session.id, runId, this.#log)
    try {
      // A run whose closing event could not be stored (a full disk) is still open in the log; this run would take its
      // place as the open one and leave it open for good, so it is closed first, as at start: the claim just taken
      // means no one runs it. (A shared coordinator's claim does this itself, and records this run as open.)
      if (canRecover(this.#store)) await this.#store.recoverSession(session.id, runId)
      if (text !== undefined) {
        await this.#store.append(session.id, { type: 'user', step_id: runId, ts: new Date().toISOString(), text })
        events.stored++
      }
    } catch (error) {
      this.#local.delete(session.id)
      await claim.release()
      finish()
      throw error
    }
    void this.#execute(session, step, events, run, claim)
      .catch((error) => this.#log.error('a run could not be finished', { session_id: session.id, step_id: runId, error: String(error) }))
      .finally(() => {
        if (this.#local.get(session.id) === run) this.#local.delete(session.id)
        finish()
      })
    return runId
  }

  /** Asks the session's run to stop, wherever it runs; its `interrupt` follows on the log. NO_ACTIVE_RUN when idle. */
  async cancel(sessionId: string): Promise<string> {
    const runId = await this.#coordinator.cancel(sessionId)
    if (runId === undefined) throw noActiveRun()
    return runId
  }

  /** Resolves once this process runs nothing for the session. */
  async settled(sessionId: string): Promise<void> {
    await this.#local.get(sessionId)?.done
  }

  /**
   * Refuses new runs, interrupts every active one and resolves once each has its closing event: within the cancel
   * grace, however the steps behave (plus the time the store takes to write).
   */
  async shutdown(): Promise<void> {
    this.#draining = true
    const runs = [...this.#local.values()]
    for (const run of runs) run.stop.abort()
    await Promise.all(runs.map((run) => run.done))
  }

  async #execute(session: SessionRecord, step: Step, events: RunEvents, run: LocalRun, claim: RunClaim): Promise<void> {
    const sessionId = session.id
    const stepName = session.step.name
    const fields = { session_id: sessionId, step_id: run.runId, step: stepName }
    const started = performance.now()
    const seconds = () => (performance.now() - started) / 1000
    this.#metrics?.runStarted()
    events.onFirstEvent = () => this.#metrics?.firstEvent(stepName, seconds())
    const signal = run.stop.signal
    const grace = graceAfter(signal, this.#graceMs)
    let failure: { error: unknown } | undefined
    try {
      const history = await readAll(this.#store, sessionId)
      // Cancelled (or shut down) while the message was being stored: the step never starts, the run is interrupted.
      if (!signal.aborted) {
        this.#log.info('run started', fields)
        // Through `then`, so that a step that throws before its first await is caught like any other.
        const running = Promise.resolve().then(() =>
          step.run(conversationOf(history), { signal, emit: events.emit, sessionId, runId: run.runId }),
        )
        const outcome = await Promise.race([running.then(() => 'returned' as const), grace.expired])
        if (outcome === 'grace') {
          // The step ignored its signal: the run is closed without it below (`close` refuses whatever it emits
          // from then on), and its eventual failure is only logged.
          running.catch((error) => this.#log.warn('a step failed after its run was closed', { ...fields, error: String(error) }))
          this.#log.warn('the step did not stop within the cancel grace; the run was closed without it', fields)
        }
      }
    } catch (error) {
      failure = { error }
      if (!signal.aborted) this.#log.error('run failed', { ...fields, error: String(error) })
    } finally {
      grace.clear()
    }
    try {
      await events.close((streamed) => closingFor(signal.aborted, failure, streamed))
    } catch (error) {
      this.#log.error('could not store the closing event of a run', { ...fields, error: String(error) })
    }
    // Never the text: a log line at `info` carries what happened, not what was said.
    const outcome = events.outcome ?? 'none'
    this.#metrics?.runEnded(stepName, outcome, seconds())
    this.#log.info('run ended', { ...fields, outcome, duration_ms: Math.round(seconds() * 1000), events: events.stored })
    await claim.release()
  }
}

/**
 * The closing event the runner writes when the step did not store one: a cancelled run is interrupted with what it
 * streamed (even if the step threw on its way out), a failed one gets a sentence, and one that just returned says so.
 */
function closingFor(cancelled: boolean, failure: { error: unknown } | undefined, streamed: string): StepEvent {
  if (cancelled) return { type: 'interrupt', text: streamed }
  if (failure) return { type: 'error', error: sentenceOf(failure.error) }
  return { type: 'error', error: 'The step stopped without giving an answer.' }
}

const sentenceOf = (error: unknown) => sentenceFor(error, 'The step failed on the server. Try sending your message again.')

/** A promise that resolves `'grace'` `ms` after `signal` aborts (never, if it does not). */
function graceAfter(signal: AbortSignal, ms: number): { expired: Promise<'grace'>; clear: () => void } {
  let timer: ReturnType<typeof setTimeout> | undefined
  let start: (() => void) | undefined
  const expired = new Promise<'grace'>((resolve) => {
    start = () => {
      timer = setTimeout(() => resolve('grace'), ms)
    }
    if (signal.aborted) start()
    else signal.addEventListener('abort', start, { once: true })
  })
  return {
    expired,
    clear: () => {
      clearTimeout(timer)
      if (start) signal.removeEventListener('abort', start)
    },
  }
}
