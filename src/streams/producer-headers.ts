import { accept, type Parsed, refuse, strictDecimal } from './parsed.ts'
import { MAX_PRODUCER_ID_BYTES } from './stream-limits.ts'

/**
 * An idempotent producer's headers (Kafka-style: `Producer-Id`, `-Epoch`, `-Seq`), parsed. The rules that use them —
 * fencing a stale epoch, deduplicating a retry, refusing a gap — are the stream layer's, over the state the backend
 * keeps with each entry.
 */

/** An idempotent producer's request: all three headers, valid. */
export interface ProducerHeaders {
  id: string
  epoch: number
  seq: number
}

const PRODUCER_HEADERS = ['producer-id', 'producer-epoch', 'producer-seq'] as const

/** The three producer headers: all or none, an id of bounded length, two strict integers. */
export function parseProducer(headers: Headers): Parsed<ProducerHeaders | undefined> {
  const id = headers.get('producer-id')
  const epoch = headers.get('producer-epoch')
  const seq = headers.get('producer-seq')
  if (id === null && epoch === null && seq === null) return accept(undefined)
  if (id === null || epoch === null || seq === null) {
    const missing = PRODUCER_HEADERS.filter((name) => headers.get(name) === null)
    return refuse(
      missing[0] ?? 'producer-id',
      `Send Producer-Id, Producer-Epoch and Producer-Seq together, or none: ${missing.join(' and ')} missing.`,
    )
  }
  if (id === '' || Buffer.byteLength(id) > MAX_PRODUCER_ID_BYTES) {
    return refuse('producer-id', `Producer-Id must be 1 to ${MAX_PRODUCER_ID_BYTES} bytes long.`)
  }
  const epochValue = strictDecimal(epoch)
  if (epochValue === undefined) return refuse('producer-epoch', integerSentence('Producer-Epoch'))
  const seqValue = strictDecimal(seq)
  if (seqValue === undefined) return refuse('producer-seq', integerSentence('Producer-Seq'))
  return accept({ id, epoch: epochValue, seq: seqValue })
}

/** The sentence for an integer header the protocol bounds at 2^53-1. */
export const integerSentence = (name: string) =>
  `${name} must be a whole number from 0 to 2^53-1 in plain decimal (no sign, leading zero, point or exponent).`
