import type { ProducerHeaders } from './producer-headers.ts'

/**
 * The idempotent producer's rules (PROTOCOL.md §5.2.1), as a decision over the state kept for (stream, producer id) and
 * the request's epoch and seq. Pure: the stream layer reads the state, decides, and writes the new state with the
 * entry (or with the close), serialised per producer.
 */

/** What is kept per producer: its epoch and the last seq accepted in it. */
export interface ProducerMark {
  epoch: number
  seq: number
}

/**
 * What to do with a request:
 * - `append`: new data; store it with `mark` and answer 200 (`Producer-Epoch`, `Producer-Seq` from `mark`);
 * - `duplicate`: a retry of what was stored; store nothing, answer 204 with `Producer-Seq: <highestSeq>`;
 * - `stale-epoch`: a fenced producer (a zombie); 403 with `Producer-Epoch: <currentEpoch>`;
 * - `epoch-needs-seq-0`: a new epoch must start at seq 0; 400;
 * - `gap`: a seq was skipped (a request lost or not yet arrived); 409 with `Producer-Expected-Seq`, `Producer-Received-Seq`.
 */
export type ProducerDecision =
  | { kind: 'append'; mark: ProducerMark }
  | { kind: 'duplicate'; highestSeq: number }
  | { kind: 'stale-epoch'; currentEpoch: number }
  | { kind: 'epoch-needs-seq-0' }
  | { kind: 'gap'; expectedSeq: number; receivedSeq: number }

/** Decides a producer's request against its kept state (undefined: a producer never seen, or forgotten). */
export function decideProducer(kept: ProducerMark | undefined, request: Pick<ProducerHeaders, 'epoch' | 'seq'>): ProducerDecision {
  const { epoch, seq } = request
  // A producer never seen (or forgotten) starts at any epoch, at seq 0; a later seq means requests before it were lost,
  // a gap, as the reference server answers (a client's producer resends from the expected seq).
  if (kept === undefined) return seq === 0 ? { kind: 'append', mark: { epoch, seq } } : { kind: 'gap', expectedSeq: 0, receivedSeq: seq }
  if (epoch > kept.epoch) return seq === 0 ? { kind: 'append', mark: { epoch, seq } } : { kind: 'epoch-needs-seq-0' }
  if (epoch < kept.epoch) return { kind: 'stale-epoch', currentEpoch: kept.epoch }
  if (seq <= kept.seq) return { kind: 'duplicate', highestSeq: kept.seq }
  if (seq === kept.seq + 1) return { kind: 'append', mark: { epoch, seq } }
  return { kind: 'gap', expectedSeq: kept.seq + 1, receivedSeq: seq }
}
