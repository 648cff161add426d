import { type EventType, isClosing, type NewEvent, type StepEvent } from '../events.ts'
import { AppError } from '../errors.ts'
import { EVENT_TEXT_MAX_CHARS } from '../limits.ts'
import type { Logger } from '../log.ts'
import type { EventStore } from '../log/event-store.ts'
import { StreamedText } from '../log/folds.ts'

/**
 * One run's way into the log. Whether an event closes the run is decided when it is emitted, not when it is stored:
 * emits that are not awaited (`void emit(final)`, `Promise.all([…])`) cannot all slip past the check, so a run gets
 * at most one closing event and nothing after it. Appends go to the store in emit order, which keeps their order
 * (the store contract: appends issued without waiting get consecutive seqs in the order they were made).
 */
export class RunEvents {
  /** Events of this run stored so far (its user message, which the runner stores, too), its closing event included. */
  stored = 0
  /** The type of the closing event stored (`final`, `interrupt` or `error`), once one is. */
  outcome: EventType | undefined
  /** Called once, when the first event after `start` is stored (for time-to-first-event). */
  onFirstEvent: (() => void) | undefined
  #ended = false
  /** Resolves true once a closing event is stored, false if the one emitted was refused. */
  #closing: Promise<boolean> | undefined
  readonly #inflight = new Set<Promise<unknown>>()
  #dropped = 0
  /** Characters of the partials emitted so far, stored or in flight: what the answer would hold. */
  #answerChars = 0
  /** The text of the `partial`s stored so far: what an `interrupt` written by the runner holds. */
  readonly #streamed: StreamedText

  constructor(
    private readonly store: EventStore,
    private readonly sessionId: string,
    private readonly runId: string,
    private readonly log: Logger,
  ) {
    this.#streamed = new StreamedText(runId)
  }

  /** The step's `emit`: stores the event, or refuses it (storing nothing) once the run has ended. */
  readonly emit = (event: StepEvent): Promise<void> => {
    if (this.#ended) {
      if (this.#dropped++ === 0) this.log.warn('a step emitted after its run had ended; dropped', this.#fields({ type: event.type }))
      return handled(Promise.reject(runEnded(event.type)))
    }
    if (event.type === 'partial') {
      // A step streaming without end (a model or agent that never stops) is stopped where its answer could no longer
      // be stored whole: the step, the runner and the closing event would each keep a copy growing without bound.
      if (this.#answerChars + event.delta.length > EVENT_TEXT_MAX_CHARS) return handled(Promise.reject(answerTooLong()))
      this.#answerChars += event.delta.length
    }
    const closing = isClosing(event)
    if (closing) this.#ended = true
    const stored = this.#append(event)
    if (closing)
      this.#closing = stored.then(
        () => true,
        () => false,
      )
    // Logging the failure also marks the promise handled: a step that did not await it cannot crash the process.
    stored.catch((error) => this.log.warn('a step event was not stored', this.#fields({ type: event.type, error: String(error) })))
    return stored
  }

  /** Waits for every append in flight; true when a closing event is among what was stored. */
  async settle(): Promise<boolean> {
    await Promise.allSettled([...this.#inflight])
    return (await this.#closing) ?? false
  }

  /**
   * The runner's own closing event, for a run the step did not close: built once every append in flight has settled,
   * from the text streamed by then. Stores nothing if a closing event is stored already. If the store refuses it (an
   * `interrupt` whose text the schema finds too long, say), a short `error` takes its place, so the run still ends.
   */
  async close(closing: (streamed: string) => StepEvent): Promise<void> {
    this.#ended = true
    if (await this.settle()) return
    // Nothing of the run was stored (its `start` was refused: the chat is full), so there is no run to close; a
    // closing event would only grow a full chat, one cancelled run at a time.
    if (this.stored === 0) return
    try {
      await this.#append(closing(this.#streamed.text))
    } catch (error) {
      if (!(error instanceof AppError) || (error.code !== 'INVALID_EVENT' && error.code !== 'EVENT_TOO_LARGE')) throw error
      this.log.error('the closing event of a run was refused; closing it with an error', this.#fields({ error: error.message }))
      await this.#append({ type: 'error', error: 'The step ended in a way the server could not record.' })
    }
    this.#closing = Promise.resolve(true)
  }

  #append(event: StepEvent): Promise<void> {
    // One reaction both counts the event and forgets the append: a second `then` per event only to forget it showed
    // in the many-runs profile.
    const stored: Promise<void> = this.store.append(this.sessionId, { ...event, step_id: this.runId, ts: isoNow() } as NewEvent).then(
      (saved) => {
        this.#inflight.delete(stored)
        this.stored++
        this.#streamed.add(saved)
        if (isClosing(saved)) this.outcome = saved.type
        if (saved.type !== 'start' && this.onFirstEvent) {
          this.onFirstEvent()
          this.onFirstEvent = undefined
        }
      },
      (error: unknown) => {
        this.#inflight.delete(stored)
        throw error
      },
    )
    this.#inflight.add(stored)
    return stored
  }

  #fields(extra: Record<string, unknown>) {
    return { session_id: this.sessionId, step_id: this.runId, ...extra }
  }
}

let isoMs = Number.NaN
let isoText = ''

/** `new Date().toISOString()`, made once per millisecond: the runs' tokens meet on the same timer ticks (many-runs). */
function isoNow(): string {
  const ms = Date.now()
  if (ms !== isoMs) {
    isoMs = ms
    isoText = new Date(ms).toISOString()
  }
  return isoText
}

/**
 * Returns `promise` marked as handled: a step that emits without awaiting and meets a refusal must not crash the
 * process with an unhandled rejection; a step that awaits still gets the error.
 */
function handled<T>(promise: Promise<T>): Promise<T> {
  promise.catch(() => {})
  return promise
}

const runEnded = (type: string) => new AppError('RUN_ENDED', `This run has already ended, so its ${type} event was not stored.`)

const answerTooLong = () =>
  new AppError(
    'ANSWER_TOO_LONG',
    `The answer passed ${EVENT_TEXT_MAX_CHARS.toLocaleString('en')} characters, the most one answer may hold, so the run stopped there.`,
  )
