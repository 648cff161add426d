import type { StopSignal } from '../bus/session-signal.ts'
import { parseAppendHeaders, parseCreateHeaders } from './headers.ts'
import { KeyedMutex } from './keyed-mutex.ts'
import { parseReadQuery, type ReadQuery } from './read-query.ts'
import { append } from './stream-append.ts'
import type { StreamAnswer } from './stream-answer.ts'
import type { StreamContext } from './stream-context.ts'
import { create } from './stream-create.ts'
import { remove } from './stream-delete.ts'
import { DEFAULT_LONG_POLL_MS } from '../defaults.ts'
import { MAX_PRODUCERS_PER_STREAM } from './stream-limits.ts'
import type { StreamLog } from './stream-log.ts'
import { catchUp, head, longPoll } from './stream-read.ts'

export interface StreamServiceOptions {
  /** How long a long-poll waits for data before its 204; milliseconds, default DEFAULT_LONG_POLL_MS (20,000). */
  longPollMs?: number
  /** In [0, 1), for the cursor's jitter; default Math.random. */
  random?: () => number
  /** Producers whose state one stream keeps; producers, default MAX_PRODUCERS_PER_STREAM (1,000). */
  maxProducers?: number
}

/**
 * The Durable Streams protocol over a StreamLog, without HTTP framework: each method takes what a request carries
 * (the stream's name as validated by the route, headers, body bytes, query) and answers a status with the protocol's
 * headers, or throws an AppError (a StreamRefusal when the protocol puts headers on the refusal).
 */
export class StreamService {
  readonly context: StreamContext

  constructor(log: StreamLog, options: StreamServiceOptions = {}) {
    this.context = {
      log,
      locks: new KeyedMutex(),
      longPollMs: options.longPollMs ?? DEFAULT_LONG_POLL_MS,
      random: options.random ?? Math.random,
      maxProducers: options.maxProducers ?? MAX_PRODUCERS_PER_STREAM,
    }
  }

  /** PUT. */
  create(name: string, headers: Headers, body: Uint8Array): Promise<StreamAnswer> {
    const parsed = parseCreateHeaders(headers)
    if (!parsed.ok) throw parsed.error
    return create(this.context, name, parsed.value, body)
  }

  /** POST. */
  append(name: string, headers: Headers, body: Uint8Array): Promise<StreamAnswer> {
    const parsed = parseAppendHeaders(headers)
    if (!parsed.ok) throw parsed.error
    return append(this.context, name, parsed.value, body)
  }

  /** The query of a GET, parsed (a 400 for one the protocol refuses). */
  readQuery(params: URLSearchParams): ReadQuery {
    const parsed = parseReadQuery(params)
    if (!parsed.ok) throw parsed.error
    return parsed.value
  }

  /** GET, catch-up or long-poll (SSE is streamed by the HTTP layer over `readPage`). */
  read(name: string, query: ReadQuery, ifNoneMatch: string | null, signal: StopSignal): Promise<StreamAnswer> {
    return query.live === 'long-poll' ? longPoll(this.context, name, query, signal) : catchUp(this.context, name, query, ifNoneMatch)
  }

  head(name: string): Promise<StreamAnswer> {
    return head(this.context, name)
  }

  delete(name: string): Promise<StreamAnswer> {
    return remove(this.context, name)
  }
}
