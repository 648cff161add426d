/**
 * ETags of stream reads (PROTOCOL.md §8.1: `{internal_stream_id}:{start_offset}:{end_offset}`) and the
 * `If-None-Match` test. The stream's id is a random token made at creation, so a stream deleted and created again at
 * the same name never matches an old tag; `:c` marks an answer that says the stream is closed, since that header
 * changes the answer for the same range.
 */

/** The strong ETag of a read of `incarnation` from offset `from` to `to`, closed or not. */
export function readEtag(incarnation: string, from: string, to: string, closed: boolean): string {
  return `"${incarnation}:${from}:${to}${closed ? ':c' : ''}"`
}

/**
 * Whether `If-None-Match` (null when absent) names `etag`: `*`, or a comma-separated list of tags in which one is
 * equal, weak (`W/`) or not (RFC 9110 §13.1.2 compares weakly for If-None-Match).
 */
export function noneMatch(ifNoneMatch: string | null, etag: string): boolean {
  if (ifNoneMatch === null) return false
  const trimmed = ifNoneMatch.trim()
  if (trimmed === '*') return true
  const opaque = (tag: string) => (tag.startsWith('W/') ? tag.slice(2) : tag)
  return trimmed.split(',').some((tag) => opaque(tag.trim()) === opaque(etag))
}
