import type { AguiRunMapper } from '../agui/agui-to-events.ts'
import { AppError } from '../errors.ts'
import { isClosing, type StepEvent, validateNewEvent } from '../events.ts'
import { quoted, withArticle } from '../sentence.ts'
import { TurnSlicer } from '../next-turn.ts'
import type { Step } from '../steps/step.ts'
import { StreamedText } from '../log/folds.ts'
import { withProducerMark } from '../log/producer-state.ts'
import { H, StreamRefusal } from '../streams/stream-answer.ts'
import type { ProducerRequest } from './producer-request.ts'

/** The event types a publishing program may send; `start` is written for it, `interrupt` only comes from a cancel. */
const PUBLISHABLE = new Set<string>([
  'user',
  'partial',
  'reasoning',
  'tool-call',
  'tool-result',
  'agent-step',
  'agent-state',
  'final',
  'error',
])

/** The vocabulary of a request's events: stepstream's own, or AG-UI's (`?format=ag-ui`), mapped as the agui step maps them. */
export type PublishFormat = 'stepstream' | 'ag-ui'

/** What one append request did, returned to the producer (and again, unchanged, for a retried request). */
export interface AppendResult {
  run_id: string
  /** Events stored by this request. */
  appended: number
  /** True once the run has its closing event. */
  closed: boolean
}

/** How a request's events are named in sentences: by their place in its JSON array, or by their line of an NDJSON body. */
export type EventNumbering = 'array' | 'line'

/** The `i`th of `count` events of a request, first numbered `first`, as a sentence names it. */
function eventName(numbering: EventNumbering, first: number, i: number, count: number): string {
  if (numbering === 'line') return `Line ${first + i} of the body`
  return count > 1 ? `Event ${first + i} of this request` : 'The event'
}

/** How one append is made. */
export interface AppendOptions {
  /** `ag-ui`: the events are AG-UI's, mapped first (all or nothing: a bad one maps and stores none); default stepstream. */
  format?: PublishFormat
  /** The 1-based number of the first event in its request (an NDJSON line), for sentences; default 1. */
  firstPosition?: number
  /** The producer request these events belong to: each carries its state into the store. */
  producer?: ProducerRequest
  /**
   * `Stream-Closed: true`: the run ends after these events. Unless the last of them closes it, a `final` is stored
   * after them, holding the text the run streamed (what any step's `final` holds: the answer, which the next turn
   * reads and compaction keeps when it drops the partials).
   */
  closes?: boolean
  /** Whether sentences name an event by its place in the request or by its NDJSON line; default its place. */
  numbering?: EventNumbering
}

/**
 * Checks a request's events before any is stored, so that a malformed one leaves the log untouched: each must be a
 * type a producer may send and valid as its schema says, a `user` message only first in a run, a closing event only
 * last. Throws INVALID_EVENT (422) naming the event and its bad field.
 */
export async function checkPublished(
  events: readonly unknown[],
  runId: string,
  runHasEvents: boolean,
  numbering: EventNumbering = 'array',
  first = 1,
): Promise<StepEvent[]> {
  // Each event is walked in full: a request of many (AG-UI's may map to 8 MiB) lets other requests run between them.
  const slicer = new TurnSlicer()
  const checked: StepEvent[] = []
  for (const [i, event] of events.entries()) {
    await slicer.pause()
    checked.push(checkOne(events, i, event, runId, runHasEvents, eventName(numbering, first, i, events.length)))
  }
  return checked
}

/** checkPublished for the `i`th of `events`, named `where` in sentences. */
function checkOne(events: readonly unknown[], i: number, event: unknown, runId: string, runHasEvents: boolean, where: string): StepEvent {
  const type = (event as { type?: unknown } | null)?.type
  if (typeof type === 'string' && !PUBLISHABLE.has(type)) {
    throw new AppError(
      'INVALID_EVENT',
      `${where} is ${withArticle(quoted(type))} event, which a publisher cannot send: send ${[...PUBLISHABLE].join(', ')}.`,
    )
  }
  const problem = validateNewEvent({ ...(event as object), step_id: runId, ts: new Date().toISOString() })
  if (problem)
    throw new AppError(problem.code, `${where} ${problem.code === 'EVENT_TOO_LARGE' ? 'is too big' : 'is invalid'}: ${problem.detail}.`)
  if (type === 'user' && (i > 0 || runHasEvents)) {
    throw new AppError('INVALID_EVENT', `${where} is a user message, which can only open a run (be its first event).`)
  }
  if (isClosing(event as StepEvent) && i < events.length - 1) {
    throw new AppError('INVALID_EVENT', `${where} closes the run, so it must be the last event of the request.`)
  }
  return event as StepEvent
}

/**
 * A run whose events come from a program outside the server, over HTTP. To the runner it is a step like any other,
 * so every promise holds: exactly one closing event, an `interrupt` on cancel or shutdown, the session held while it
 * runs. Its `run` waits until the producer sends `final` or `error`, is cancelled, or stays silent for `timeoutMs`.
 */
export class PublishedRun {
  readonly step: Step
  #emit: ((event: StepEvent) => Promise<void>) | undefined
  readonly #ready: Promise<void>
  #refuse: ((error: Error) => void) | undefined
  #end: ((error?: Error) => void) | undefined
  #timer: ReturnType<typeof setTimeout> | undefined
  #started = false
  #stored = 0
  /** The text of the run's stored partials: what a `final` written for a close holds. */
  readonly #streamed: StreamedText
  #state: 'open' | 'cancelled' | 'closed' = 'open'
  /** Appends of this run, one at a time: a producer's retries and a streamed body must not interleave. */
  #queue: Promise<unknown> = Promise.resolve()
  /**
   * What the run's AG-UI events so far left behind: open tool calls, the agent's state, the answer's text. Made at
   * the run's first AG-UI request: the AG-UI packages load then, not at every start (they cost ~25 ms of cold start).
   */
  #agui: AguiRunMapper | undefined

  /**
   * @param stepType recorded in the run's `start` event.
   * @param timeoutMs a producer silent this long has its run closed with an error; milliseconds.
   * @param head reads the chat's last seq (`headAfter`): nothing but this run writes to the chat while it holds it.
   */
  constructor(
    readonly runId: string,
    stepType: string,
    private readonly timeoutMs: number,
    private readonly head: () => Promise<number>,
  ) {
    this.#streamed = new StreamedText(runId)
    let ready!: () => void
    this.#ready = new Promise((resolve, reject) => {
      ready = resolve
      this.#refuse = reject
    })
    // Nobody may be waiting when it is refused.
    this.#ready.catch(() => {})
    this.step = {
      type: stepType,
      run: (_conversation, { signal, emit }) =>
        new Promise<void>((resolve, reject) => {
          this.#emit = emit
          this.#end = (error) => {
            clearTimeout(this.#timer)
            if (error) reject(error)
            else resolve()
          }
          signal.addEventListener(
            'abort',
            () => {
              // The runner closes the run with an `interrupt`; the producer learns it at its next append.
              if (this.#state === 'open') this.#state = 'cancelled'
              this.#end?.()
            },
            { once: true },
          )
          this.#arm()
          ready()
        }),
    }
  }

  get state(): 'open' | 'cancelled' | 'closed' {
    return this.#state
  }

  /**
   * The runner is done with the run. If its step never started (cancelled or shut down while the run opened), the
   * appends waiting for it are refused rather than left hanging.
   */
  settled(): void {
    if (this.#state === 'open') this.#state = 'cancelled'
    clearTimeout(this.#timer)
    this.#refuse?.(this.#state === 'cancelled' ? runCancelled() : runClosed())
  }

  /** Stores the events in order (after a `start`, written for the producer before its first non-`user` event). */
  append(events: readonly unknown[], options: AppendOptions = {}): Promise<AppendResult> {
    const result = this.#queue.then(() => this.#append(events, options))
    this.#queue = result.catch(() => {})
    return result
  }

  /**
   * The chat's last seq, read in turn with the run's appends: once those queued so far are done, before any queued
   * after. Asked right after an `append`, it is the seq of that append's last event: its `Stream-Next-Offset`.
   */
  headAfter(): Promise<number> {
    const head = this.#queue.then(() => this.head())
    this.#queue = head.catch(() => {})
    return head
  }

  /** A copy of the run's AG-UI mapper to map one request on (kept only if the request is taken). */
  async #aguiFork(): Promise<AguiRunMapper> {
    if (!this.#agui) {
      const { AguiRunMapper } = await import('../agui/agui-to-events.ts')
      this.#agui = new AguiRunMapper()
    }
    return this.#agui.fork()
  }

  async #append(input: readonly unknown[], options: AppendOptions): Promise<AppendResult> {
    const { format = 'stepstream', firstPosition = 1, producer, closes = false, numbering = 'array' } = options
    await this.#ready
    this.#assertOpen()
    const agui = format === 'ag-ui' ? await this.#aguiFork() : undefined
    // The first AG-UI request loads the mapper: the run may have been cancelled meanwhile.
    this.#assertOpen()
    const raw = agui ? await mapAgui(agui, input, firstPosition) : input
    // Mapped AG-UI events are checked as one request's: the mapper's own sentences named the AG-UI event.
    const checked = agui
      ? await checkPublished(raw, this.runId, this.#stored > 0)
      : await checkPublished(raw, this.runId, this.#stored > 0, numbering, firstPosition)
    // Mapping and checking let other requests run: the run may have been cancelled meanwhile.
    this.#assertOpen()
    // A close whose events do not end the run ends it with a `final`, made when its turn comes (its text is the
    // partials stored by then).
    const last = checked.at(-1)
    const events: (StepEvent | 'final')[] = closes && !(last && isClosing(last)) ? [...checked, 'final'] : checked
    // The mapper's new state (text so far, open tool calls) is kept once something of the request is stored: a
    // request refused whole (a 503, say) leaves it as it was, so the producer's retry is mapped the same again.
    const keepMapping = () => {
      if (agui) this.#agui = agui
    }
    let appended = 0
    const slicer = new TurnSlicer()
    try {
      for (const [i, next] of events.entries()) {
        await slicer.pause()
        const event: StepEvent = next === 'final' ? { type: 'final', text: this.#streamed.text } : next
        if (event.type !== 'user' && !this.#started) {
          this.#started = true
          await this.#store({ type: 'start', step_type: this.step.type })
        }
        await this.#store(event, producer && { request: producer, last: i === events.length - 1 })
        appended++
        if (isClosing(event)) {
          this.#state = 'closed'
          this.#end?.()
        }
      }
    } catch (error) {
      if (appended > 0) keepMapping()
      throw error
    }
    keepMapping()
    if (this.#state === 'open') this.#arm()
    return { run_id: this.runId, appended, closed: this.#state === 'closed' }
  }

  /**
   * Stores one event; a producer's event carries the producer's state in, committed with it (producer-seq.ts).
   * @param producer.last whether it is the last event of its request's body.
   */
  async #store(event: StepEvent, producer?: { request: ProducerRequest; last: boolean }): Promise<void> {
    const closes = isClosing(event)
    const mark = producer?.request.markFor(closes, producer.last)
    try {
      await this.#emit!(mark ? withProducerMark(event, mark) : event)
      this.#stored++
      if (event.type === 'partial') this.#streamed.add({ ...event, step_id: this.runId, ts: '' })
      if (mark && producer) producer.request.stored(mark)
    } catch (error) {
      // A cancel (or the timeout) closed the run while this request was being stored.
      this.#assertOpen()
      // The store refused the closing event (it is down, say): the run can take nothing more, so it ends now with an
      // error the runner writes, rather than waiting for the silence timeout.
      if (closes) {
        this.#state = 'closed'
        this.#end?.(error instanceof Error ? error : new Error(String(error)))
      }
      throw error
    }
  }

  #assertOpen(): void {
    if (this.#state === 'cancelled') throw runCancelled()
    if (this.#state === 'closed') throw runClosed()
  }

  /** (Re)starts the silence timer: every append shows the producer is alive. */
  #arm(): void {
    clearTimeout(this.#timer)
    this.#timer = setTimeout(() => {
      if (this.#state !== 'open') return
      this.#state = 'closed'
      this.#end?.(
        new AppError(
          'PUBLISH_TIMEOUT',
          `The program publishing this run sent nothing for ${secondsOf(this.timeoutMs)}, so the run was closed.`,
        ),
      )
    }, this.timeoutMs)
  }
}

/**
 * Maps a request's AG-UI events, letting other requests run between them: one may map to a whole state (up to
 * MAX_AGENT_STATE_BYTES), and all of them together to MAX_MAPPED_BATCH_BYTES.
 */
async function mapAgui(mapper: AguiRunMapper, input: readonly unknown[], firstPosition: number): Promise<StepEvent[]> {
  const { AguiInputError, mappedBytes } = await import('../agui/agui-to-events.ts')
  const slicer = new TurnSlicer()
  const budget = mappedBytes()
  const out: StepEvent[] = []
  try {
    for (const [i, raw] of input.entries()) {
      await slicer.pause()
      out.push(...mapper.mapAll([raw], firstPosition + i, budget))
    }
    return out
  } catch (error) {
    if (error instanceof AguiInputError) throw new AppError(error.status === 413 ? 'EVENT_TOO_LARGE' : 'INVALID_EVENT', error.sentence)
    throw error
  }
}

/**
 * A run that takes no more events is a closed stream to a Durable Streams producer: the refusal says so in
 * `Stream-Closed`, beside its sentence (and `{"cancelled": true}` for a cancelled one, which the publish API always sent).
 */
export class RunEnded extends StreamRefusal {
  override readonly fields: Record<string, unknown> | undefined

  constructor(code: 'RUN_CANCELLED' | 'RUN_CLOSED', sentence: string) {
    super(code, sentence, { [H.closed]: 'true' })
    this.fields = code === 'RUN_CANCELLED' ? { cancelled: true } : undefined
  }
}

const runCancelled = () =>
  new RunEnded('RUN_CANCELLED', 'This run was cancelled (from the page, or the server is restarting): stop publishing it.')
const runClosed = () => new RunEnded('RUN_CLOSED', 'This run is closed: it has its final event, or it timed out. Open a new run.')

/** `60 s`, `0.3 s`: a duration for a sentence. */
const secondsOf = (ms: number) => `${Number((ms / 1000).toFixed(1))} s`
