import { AppError, type ErrorCode } from '../errors.ts'

/**
 * What the stream service answers: a status, the protocol's headers and a body, for the HTTP layer to send as is
 * (the protocol is HTTP: its answers are statuses and headers, decided here once). SSE is the HTTP layer's own.
 */
export interface StreamAnswer {
  status: number
  headers: Record<string, string>
  body?: string | Uint8Array
}

/** A refusal with the protocol's headers beside its sentence (`Stream-Next-Offset` on a closed stream's 409…). */
export class StreamRefusal extends AppError {
  constructor(
    code: ErrorCode,
    message: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(code, message)
  }
}

/** The protocol's response headers, lower-cased as Headers gives them back. */
export const H = {
  nextOffset: 'stream-next-offset',
  upToDate: 'stream-up-to-date',
  closed: 'stream-closed',
  cursor: 'stream-cursor',
  ttl: 'stream-ttl',
  expiresAt: 'stream-expires-at',
  sseEncoding: 'stream-sse-data-encoding',
  producerEpoch: 'producer-epoch',
  producerSeq: 'producer-seq',
  expectedSeq: 'producer-expected-seq',
  receivedSeq: 'producer-received-seq',
} as const

export const noStream = () =>
  new StreamRefusal('NOT_FOUND', 'There is no stream at this path (it was never created, was deleted, or expired).')

export const goneStream = () =>
  new StreamRefusal('STREAM_GONE', 'This stream was deleted; its forks still read their copy of it. Its name is free once they go.')

/** `headers` when `condition` holds, none otherwise. */
export const headersIf = (condition: boolean, headers: Record<string, string>): Record<string, string> => (condition ? headers : {})
