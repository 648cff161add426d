import { AppError } from '../errors.ts'
import { MAX_PRODUCER_ID_CHARS } from '../limits.ts'
import { strictDecimal } from '../streams/parsed.ts'
import { integerSentence } from '../streams/producer-headers.ts'

/**
 * The publish API's request headers beside its token, read once at the edge: a producer's numbering (`Producer-Id`,
 * `Producer-Seq`, and `Producer-Epoch` from a Durable Streams client) and `Stream-Closed`. Each is refused with a 400
 * and a sentence when malformed; a header sent twice reaches us joined by ", " and fails the strict forms.
 */

/** A producer's numbering of a request. */
export interface ProducerNumber {
  id: string
  seq: number
  /**
   * Sent by a Durable Streams producer (`IdempotentProducer`): its requests are answered as that protocol says (a
   * duplicate 204, a stale epoch 403). Absent: epoch 0, with the answers the publish API always gave.
   */
  epoch?: number
}

/** Reads `Producer-Id` and `Producer-Seq` (both or neither) and `Producer-Epoch` (only with them). */
export function producerOf(headers: Headers): ProducerNumber | undefined {
  const id = headers.get('producer-id')
  const seq = headers.get('producer-seq')
  const epoch = headers.get('producer-epoch')
  if (id === null && seq === null && epoch === null) return undefined
  if (!id || id.length > MAX_PRODUCER_ID_CHARS || seq === null || !/^\d{1,15}$/.test(seq)) {
    throw new AppError(
      'BAD_REQUEST',
      `Send Producer-Id (up to ${MAX_PRODUCER_ID_CHARS} characters) and Producer-Seq (a whole number: 0, 1, 2…) together, with Producer-Epoch or without.`,
    )
  }
  if (epoch === null) return { id, seq: Number(seq) }
  const value = strictDecimal(epoch)
  if (value === undefined) throw new AppError('BAD_REQUEST', integerSentence('Producer-Epoch'), undefined, { field: 'producer-epoch' })
  return { id, seq: Number(seq), epoch: value }
}

/** Reads `Stream-Closed`: `true` closes the run after the request's events (`false`, or none, does not). */
export function closesRun(headers: Headers): boolean {
  const raw = headers.get('stream-closed')
  if (raw === null) return false
  const value = raw.toLowerCase()
  if (value === 'true') return true
  if (value === 'false') return false
  throw new AppError('BAD_REQUEST', 'Stream-Closed must be true, to close the run (or false, the same as leaving it out).', undefined, {
    field: 'stream-closed',
  })
}
