import { CLOSING_WITH_TEXT, type EventType, fitEventText, type NewEvent, type StoredEvent } from '../events.ts'

/**
 * The text a run streamed so far: its `partial`s' deltas in order, cut to what one event may carry. What an
 * `interrupt` holds, whoever writes it (the runner when a run is stopped, recovery when a crash left it open).
 */
export class StreamedText {
  #text = ''

  constructor(readonly runId: string) {}

  /** Takes the next event of the log; only this run's `partial`s count. */
  add(event: NewEvent): void {
    if (event.type === 'partial' && event.step_id === this.runId) this.#text += event.delta
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
 * The seqs compaction drops from a log: the `partial`s of runs that ended with `final` or `interrupt`, whose text holds
 * the whole answer. The partials of a run that ended with an `error` stay: they are what is left of its answer.
 */
export function compactable(events: readonly StoredEvent[]): number[] {
  const finished = new Set(events.filter((e) => withText.has(e.type)).map((e) => e.step_id))
  return events.filter((e) => e.type === 'partial' && finished.has(e.step_id)).map((e) => e.seq)
}
