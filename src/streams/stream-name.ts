import { MAX_STREAM_NAME_BYTES } from './stream-limits.ts'

/** Where every stream lives: the path the conformance suite fixes, and the form of a `Stream-Forked-From` value. */
export const STREAM_PATH_PREFIX = '/v1/stream/'

/** One segment of a name as it appears in the URL: RFC 3986's unreserved and sub-delims, `:`, `@`, and `%XX` escapes. */
const SEGMENT = /^(?:[A-Za-z0-9._~!$&'()*+,;=:@-]|%[0-9A-Fa-f]{2})+$/

/**
 * Whether `name` (the path after `/v1/stream/`, still percent-encoded) may name a stream: at most MAX_STREAM_NAME_BYTES,
 * segments separated by `/`, none empty, none `.` or `..` (a proxy or a client that normalises paths would send such a
 * stream's requests elsewhere), nothing outside the URL's own characters. The name is data: a Map key, never an object's.
 */
export function isStreamName(name: string): boolean {
  if (name.length === 0 || name.length > MAX_STREAM_NAME_BYTES) return false
  return name.split('/').every((segment) => segment !== '.' && segment !== '..' && SEGMENT.test(segment))
}

/** The stream name of a path `/v1/stream/<name>`; undefined for any other path or a name `isStreamName` refuses. */
export function streamNameOf(path: string): string | undefined {
  if (!path.startsWith(STREAM_PATH_PREFIX)) return undefined
  const name = path.slice(STREAM_PATH_PREFIX.length)
  return isStreamName(name) ? name : undefined
}

/** The names under which chats are served as streams (`sessions/<id>`, `view/<viewer_id>`): never a stream's. */
const CHAT_NAMES = /^(?:sessions|view)(?:\/|$)/

/** Whether `name` is under `sessions/` or `view/`, the names reserved for chats (read-only: src/streams/chat-stream-log.ts). */
export const isChatName = (name: string): boolean => CHAT_NAMES.test(name)
