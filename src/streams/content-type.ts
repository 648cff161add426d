import { MAX_CONTENT_TYPE_CHARS } from './stream-limits.ts'

/**
 * A stream's content type as it is kept and compared: the media type before any parameter, trimmed and lower-cased
 * (`TEXT/PLAIN` is `text/plain`; `application/json; charset=utf-8` is `application/json`), as the conformance suite
 * expects of create, append and the idempotent PUT alike. Undefined for a value that is no media type at all (the
 * protocol's 400: a valid type that merely differs from the stream's is a 409, decided by the route).
 */
export function normaliseContentType(raw: string): string | undefined {
  if (raw.length > MAX_CONTENT_TYPE_CHARS) return undefined
  const semicolon = raw.indexOf(';')
  // Only HTTP's own white space (space, tab) is trimmed: String.trim would also take a no-break space and others.
  const type = (semicolon === -1 ? raw : raw.slice(0, semicolon)).replace(/^[ \t]+|[ \t]+$/g, '').toLowerCase()
  return MEDIA_TYPE.test(type) ? type : undefined
}

/** `type/subtype`, each an RFC 9110 token (ASCII letters, digits and `!#$%&'*+-.^_`|~`). */
const MEDIA_TYPE = /^[!#$%&'*+.^_`|~0-9a-z-]+\/[!#$%&'*+.^_`|~0-9a-z-]+$/

/** The type a stream created without one gets (the protocol's MAY, the reference's choice). */
export const DEFAULT_CONTENT_TYPE = 'application/octet-stream'

/** JSON mode (message boundaries, array flattening, reads as one array): `application/json` only, as the protocol says. */
export const isJsonMode = (contentType: string): boolean => contentType === 'application/json'

/**
 * How SSE data events carry the stream's data: as text for `text/*` and JSON, as base64 otherwise (announced by the
 * `Stream-SSE-Data-Encoding: base64` header, which the suite expects for `application/octet-stream`, protobuf, PNG…).
 */
export const sseDataEncoding = (contentType: string): 'text' | 'base64' =>
  contentType.startsWith('text/') || isJsonMode(contentType) ? 'text' : 'base64'
