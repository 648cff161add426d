/**
 * The bounds of the Durable Streams routes (`/v1/stream/*`), each written once: the header parsers enforce them, the
 * routes will, and the tests import them. Beside src/limits.ts rather than in it while issue 21's helpers edit that
 * file; the lead may move them there.
 */

/** The largest integer the protocol allows in Producer-Epoch, Producer-Seq and a sub-offset: 2^53-1, JavaScript's. */
export const MAX_PROTOCOL_INTEGER = Number.MAX_SAFE_INTEGER

/** The longest Content-Type header a stream is created or appended with; characters (256: RFC 6838 gives 127 per part). */
export const MAX_CONTENT_TYPE_CHARS = 256

/** The longest Producer-Id; bytes of UTF-8 (256: a UUID or a service name with room to spare). */
export const MAX_PRODUCER_ID_BYTES = 256

/** The longest Stream-Seq; characters of printable ASCII (256, the protocol's advice for offsets). */
export const MAX_STREAM_SEQ_CHARS = 256

/** The longest TTL a stream may be given; seconds (100 years: beyond it a TTL means "never", so say that instead). */
export const MAX_STREAM_TTL_SECONDS = 100 * 365 * 24 * 3600

/** The longest stream name after `/v1/stream/`; bytes of UTF-8 (1 KiB). */
export const MAX_STREAM_NAME_BYTES = 1024

/**
 * The longest header value a parser looks at, whatever the header; characters (8 KiB, about what proxies pass). A
 * longer one is refused before any pattern runs over it.
 */
export const MAX_STREAM_HEADER_CHARS = 8 * 1024

/** Producers whose state one stream keeps; producers (1,000). Past it the least recently used is forgotten. */
export const MAX_PRODUCERS_PER_STREAM = 1000

/** The most data one catch-up read or one SSE data event carries (at least one entry); bytes (1 MiB). */
export const STREAM_READ_CHUNK_BYTES = 1024 * 1024

/** How long an SSE response stays open before the server ends it (clients resume); milliseconds (60 s, the protocol's). */
export const STREAM_SSE_MAX_MS = 60_000
