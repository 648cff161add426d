import { normaliseContentType } from './content-type.ts'
import { type ForkRequest, parseFork } from './fork-headers.ts'
import { accept, type Parsed, type Refused, refuse, strictDecimal } from './parsed.ts'
import { type ProducerHeaders, parseProducer } from './producer-headers.ts'
import { parseRfc3339 } from './rfc3339.ts'
import { MAX_STREAM_HEADER_CHARS, MAX_STREAM_SEQ_CHARS, MAX_STREAM_TTL_SECONDS } from './stream-limits.ts'

/**
 * The request headers of the Durable Streams protocol, parsed once at the edge. Header names are case-insensitive
 * because `Headers` is; a header sent twice reaches us joined by ", " and fails the strict forms below, so a request
 * cannot say two things at once.
 */

/** How long a stream lives: `ttl` seconds after its last read or write (sliding), or until the instant `at` (ms). */
export type Expiry = { kind: 'ttl'; seconds: number } | { kind: 'at'; at: number }

export type { ForkRequest, ProducerHeaders }

/** What a PUT asks for. */
export interface CreateHeaders {
  /** Normalised; undefined when not sent (the default type, or a fork's source's). */
  contentType: string | undefined
  expiry: Expiry | undefined
  closed: boolean
  fork: ForkRequest | undefined
}

/** What a POST asks for. */
export interface AppendHeaders {
  /** Normalised; undefined when not sent (refused by the route unless the POST only closes). */
  contentType: string | undefined
  /** Stream-Seq, opaque, compared byte-wise with `compareStreamSeq`. */
  streamSeq: string | undefined
  closed: boolean
  producer: ProducerHeaders | undefined
}

/** Parses a PUT's headers. */
export function parseCreateHeaders(headers: Headers): Parsed<CreateHeaders> {
  const tooLong = overlong(headers)
  if (tooLong) return tooLong
  const contentType = parseContentType(headers)
  if (!contentType.ok) return contentType
  const expiry = parseExpiry(headers)
  if (!expiry.ok) return expiry
  const closed = parseClosed(headers)
  if (!closed.ok) return closed
  const fork = parseFork(headers)
  if (!fork.ok) return fork
  return accept({ contentType: contentType.value, expiry: expiry.value, closed: closed.value, fork: fork.value })
}

/** Parses a POST's headers. */
export function parseAppendHeaders(headers: Headers): Parsed<AppendHeaders> {
  const tooLong = overlong(headers)
  if (tooLong) return tooLong
  const contentType = parseContentType(headers)
  if (!contentType.ok) return contentType
  const streamSeq = parseStreamSeq(headers)
  if (!streamSeq.ok) return streamSeq
  const closed = parseClosed(headers)
  if (!closed.ok) return closed
  const producer = parseProducer(headers)
  if (!producer.ok) return producer
  return accept({ contentType: contentType.value, streamSeq: streamSeq.value, closed: closed.value, producer: producer.value })
}

/** Orders two Stream-Seq values byte-wise, as the protocol requires (they are printable ASCII, so string order is byte order). */
export function compareStreamSeq(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0
}

/** Every request header of the protocol this server reads; each bounded by MAX_STREAM_HEADER_CHARS. */
export const PROTOCOL_HEADERS = [
  'content-type',
  'stream-ttl',
  'stream-expires-at',
  'stream-closed',
  'stream-seq',
  'stream-forked-from',
  'stream-fork-offset',
  'stream-fork-sub-offset',
  'producer-id',
  'producer-epoch',
  'producer-seq',
]

/** Refuses any protocol header longer than MAX_STREAM_HEADER_CHARS before a pattern runs over it. */
function overlong(headers: Headers): Refused | undefined {
  const name = PROTOCOL_HEADERS.find((header) => (headers.get(header)?.length ?? 0) > MAX_STREAM_HEADER_CHARS)
  return name === undefined
    ? undefined
    : refuse(name, `The ${name} header is over ${MAX_STREAM_HEADER_CHARS} characters; send a shorter one.`)
}

function parseContentType(headers: Headers): Parsed<string | undefined> {
  const raw = headers.get('content-type')
  if (raw === null) return accept(undefined)
  const type = normaliseContentType(raw)
  return type === undefined
    ? refuse('content-type', 'The Content-Type is not a media type: send type/subtype, such as application/json or text/plain.')
    : accept(type)
}

function parseExpiry(headers: Headers): Parsed<Expiry | undefined> {
  const ttl = headers.get('stream-ttl')
  const expiresAt = headers.get('stream-expires-at')
  if (ttl !== null && expiresAt !== null) {
    return refuse('stream-ttl', 'Send Stream-TTL or Stream-Expires-At, not both: a stream either slides or ends at an instant.')
  }
  if (ttl !== null) {
    const seconds = strictDecimal(ttl, MAX_STREAM_TTL_SECONDS)
    return seconds === undefined
      ? refuse(
          'stream-ttl',
          `Stream-TTL must be whole seconds in plain decimal (3600; no sign, leading zero, point or exponent), at most ${MAX_STREAM_TTL_SECONDS}.`,
        )
      : accept({ kind: 'ttl', seconds })
  }
  if (expiresAt !== null) {
    const at = parseRfc3339(expiresAt)
    return at === undefined
      ? refuse('stream-expires-at', 'Stream-Expires-At must be an RFC 3339 timestamp with a zone, such as 2030-01-31T12:00:00Z.')
      : accept({ kind: 'at', at })
  }
  return accept(undefined)
}

/** `Stream-Closed`: `true` or `false` in any case; absent is false. Anything else is refused rather than read as false. */
function parseClosed(headers: Headers): Parsed<boolean> {
  const raw = headers.get('stream-closed')
  if (raw === null) return accept(false)
  const value = raw.toLowerCase()
  if (value === 'true') return accept(true)
  if (value === 'false') return accept(false)
  return refuse('stream-closed', 'Stream-Closed must be true (or false, the same as leaving it out).')
}

/** Printable ASCII without spaces, so that byte order and string order agree and no client's encoding can differ. */
const STREAM_SEQ = /^[\x21-\x7e]+$/

function parseStreamSeq(headers: Headers): Parsed<string | undefined> {
  const raw = headers.get('stream-seq')
  if (raw === null) return accept(undefined)
  if (raw.length > MAX_STREAM_SEQ_CHARS || !STREAM_SEQ.test(raw)) {
    return refuse(
      'stream-seq',
      `Stream-Seq must be 1 to ${MAX_STREAM_SEQ_CHARS} printable ASCII characters without spaces, such as 000042.`,
    )
  }
  return accept(raw)
}
