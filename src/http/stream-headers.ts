import { LOCATION_HEADER } from './safe-headers.ts'

/**
 * The headers every answer of `/v1/stream/*` carries, refusals included (the protocol's §10.7, checked by the
 * conformance suite): no sniffing, readable cross-origin. With auth off the protocol's CORS applies (any origin, no
 * credentials); with auth on no origin but the page's own is let in, as on every other route.
 */

const SECURITY: Record<string, string> = {
  'x-content-type-options': 'nosniff',
  'cross-origin-resource-policy': 'cross-origin',
  // A stream's body is anyone's data: opened as a page (text/html, image/svg+xml…) it runs in an opaque origin with no
  // script, never as this origin, whose pages keep chats' owner ids.
  'content-security-policy': "sandbox; default-src 'none'",
}

const CORS: Record<string, string> = {
  'access-control-allow-origin': '*',
  'access-control-expose-headers':
    'Stream-Next-Offset, Stream-Cursor, Stream-Up-To-Date, Stream-Closed, Stream-TTL, Stream-Expires-At, ' +
    `Stream-SSE-Data-Encoding, Producer-Epoch, Producer-Seq, Producer-Expected-Seq, Producer-Received-Seq, ETag, Content-Type, ${LOCATION_HEADER}`,
}

/** What a preflight allows: the protocol's methods and request headers (If-None-Match too, for conditional reads). */
const PREFLIGHT: Record<string, string> = {
  'access-control-allow-methods': 'GET, HEAD, POST, PUT, DELETE, OPTIONS',
  'access-control-allow-headers':
    'Content-Type, If-None-Match, Stream-Seq, Stream-TTL, Stream-Expires-At, Stream-Closed, Stream-Forked-From, ' +
    'Stream-Fork-Offset, Stream-Fork-Sub-Offset, Producer-Id, Producer-Epoch, Producer-Seq',
  // How long a browser may reuse the answer; seconds (a day).
  'access-control-max-age': '86400',
}

/** Adds the security headers, and with auth off the protocol's CORS, to `headers`. */
export function addStreamHeaders(headers: Headers, authOn: boolean): void {
  for (const [name, value] of Object.entries(SECURITY)) headers.set(name, value)
  if (!authOn) for (const [name, value] of Object.entries(CORS)) headers.set(name, value)
}

/** The answer to a CORS preflight on a stream (auth off: auth on refuses it first, as the app's other routes). */
export function preflight(): Response {
  const headers = new Headers(PREFLIGHT)
  addStreamHeaders(headers, false)
  return new Response(null, { status: 204, headers })
}
