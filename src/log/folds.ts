import { CLOSING_WITH_TEXT, type EventType, fitEventText, type NewEvent, type StoredEvent } from '../events.ts'
import { EVENT_TEXT_MAX_CHARS } from '../limits.ts'

/**
 * The text a run streamed so far: its `partial`s' deltas in order, cut to what one event may carry. What an
 * `interrupt` holds, whoever writes it (the runner when a run is stopped, recovery when a crash left it open).
 */
export class StreamedText {
  #text = ''

  constructor(readonly runId: string) {}

  /** Takes the next event of the log; only this run's `partial`s count, and none once the text is full. */
  add(event: NewEvent): void {
    // What is kept stays under twice what one event may carry, however many partials a log written before the
    // answer's limit holds.
    if (event.type === 'partial' && event.step_id === this.runId && this.#text.length < EVENT_TEXT_MAX_CHARS) this.#text += event.delta
  }

  /** The text so far, cut to EVENT_TEXT_MAX_CHARS. */
  get text(): string {
    return fitEventText(this.#text)
  }
}

/** The text run `runId` streamed among `events`. */
export function streamedText(events: Iterable<NewEvent>, runId: string): string {
  const fold = new StreamedText(runId)
  for (const event of events) fold.add(event)
  return fold.text
}

const withText: ReadonlySet<EventType> = new Set(CLOSING_WITH_TEXT)

/**
 * Which entries compaction drops from a log: the `partial`s of runs that ended with `final` or `interrupt`, whose text
 * holds the whole answer. The partials of a run that ended with an `error` stay: they are what is left of its answer.
 * Fed the log page by page, it keeps seqs and run ids only, never the events.
 */
export class Compaction {
  readonly #finished = new Set<string>()
  readonly #partials = new Map<string, number[]>()

  /** Takes the next event of the log. */
  add(event: StoredEvent): void {
    if (withText.has(event.type)) this.#finished.add(event.step_id)
    else if (event.type === 'partial') {
      const seqs = this.#partials.get(event.step_id)
      if (seqs) seqs.push(event.seq)
      else this.#partials.set(event.step_id, [event.seq])
    }
  }

  /** The seqs to delete, ascending. */
  get seqs(): number[] {
    const seqs: number[] = []
    for (const [run, partials] of this.#partials) if (this.#finished.has(run)) seqs.push(...partials)
    return seqs.sort((a, b) => a - b)
  }
}

/** The seqs compaction drops from `events`. */
export function compactable(events: readonly StoredEvent[]): number[] {
  const compaction = new Compaction()
  for (const event of events) compaction.add(event)
  return compaction.seqs
}
