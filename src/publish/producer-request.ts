import { type ProducerFailure, type ProducerMark, type ProducerState, stateOf } from '../log/producer-state.ts'

/**
 * One producer request being applied: the producer state each of its events carries into the store (committed with
 * that event, or not at all), and how much of it is stored so far.
 */
export class ProducerRequest {
  /** Events of this request stored so far. */
  appended = 0
  /** Whether one of them closed the run. */
  closed = false
  /** A streamed (NDJSON) body: until it ends, no event knows it is the request's last. */
  streamed = false
  /** Whether the state committed last holds this request's answer (not "unfinished"). */
  #answered = false
  /** The producer's state as the store holds it: as read when the request was decided, then as this request wrote it. */
  #committed: ProducerState | null

  /** @param read the producer's state the request was decided from (null: none); each mark expects the state before it. */
  constructor(
    readonly runId: string,
    readonly producerId: string,
    readonly seq: number,
    readonly epoch = 0,
    read: ProducerState | null = null,
  ) {
    this.#committed = read
  }

  /**
   * The state to commit with the request's next event: what a retry is answered with once that event is stored.
   * Before the request's last event it says the request is unfinished, so that a retry after a crash in between is
   * refused with what was stored, not told the request was applied whole.
   * @param last whether the event is the last of its body (a JSON array's; a streamed body's last is not known).
   */
  markFor(closes: boolean, last: boolean): ProducerMark {
    const mark = this.#mark(this.appended + 1, this.closed || closes)
    if (!closes && (this.streamed || !last)) mark.failure = unfinished(this.seq, mark.appended)
    return mark
  }

  /** Counts an event stored with `mark`. */
  stored(mark: ProducerMark): void {
    this.appended = mark.appended
    this.closed = mark.closed
    this.#answered = mark.failure === undefined
    this.#committed = stateOf(mark)
  }

  /** Whether the store already holds this request's answer; if not, `markNow()` is written alone once it has one. */
  get answered(): boolean {
    return this.#answered
  }

  /** The state as it stands, with the refusal a partly applied request got. */
  markNow(failure?: ProducerFailure): ProducerMark {
    const mark = this.#mark(this.appended, this.closed)
    if (failure) mark.failure = failure
    return mark
  }

  #mark(appended: number, closed: boolean): ProducerMark {
    const { runId, producerId, epoch, seq } = this
    return { runId, producerId, epoch, seq, appended, closed, expect: this.#committed }
  }
}

/** The state of a request between its first stored event and its last: what a retry after a crash there gets. */
const unfinished = (seq: number, stored: number): ProducerFailure => ({
  code: 'PRODUCER_REQUEST_UNFINISHED',
  message: `Producer-Seq ${seq} stopped after ${stored} of its events were stored (the server restarted, or another instance is still storing it): they stay stored, and the request is not applied again.`,
})
