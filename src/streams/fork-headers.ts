import { decodeOffset } from './offsets.ts'
import { accept, type Parsed, refuse, strictDecimal } from './parsed.ts'
import { integerSentence } from './producer-headers.ts'
import { STREAM_PATH_PREFIX, streamNameOf } from './stream-name.ts'

/**
 * The fork headers of a PUT (`Stream-Forked-From`, `Stream-Fork-Offset`, `Stream-Fork-Sub-Offset`), parsed. Whether
 * the offset is within the source, and the sub-offset within its next append, is the stream layer's to check.
 */

/** A fork asked for by a PUT: the source's name, where (undefined: the source's head), and how far into the next append. */
export interface ForkRequest {
  source: string
  /** The seq the fork offset stands after; undefined when Stream-Fork-Offset was not sent. */
  after: number | undefined
  /** Bytes (or JSON items) of the source's next append the fork takes too; 0 when not sent. */
  sub: number
}

/** The fork headers of a PUT: a source path, an optional offset, an optional sub-offset that needs both. */
export function parseFork(headers: Headers): Parsed<ForkRequest | undefined> {
  const from = headers.get('stream-forked-from')
  const offset = headers.get('stream-fork-offset')
  const sub = headers.get('stream-fork-sub-offset')
  if (from === null) {
    if (offset !== null || sub !== null) {
      return refuse(
        offset !== null ? 'stream-fork-offset' : 'stream-fork-sub-offset',
        'A fork offset needs Stream-Forked-From: the stream to fork.',
      )
    }
    return accept(undefined)
  }
  const source = streamNameOf(from)
  if (source === undefined) {
    return refuse('stream-forked-from', `Stream-Forked-From must be the path of a stream on this server: ${STREAM_PATH_PREFIX}<name>.`)
  }
  let after: number | undefined
  if (offset !== null) {
    const decoded = decodeOffset(offset, 'stream-fork-offset')
    if (!decoded.ok) return decoded
    after = decoded.value
  }
  const subValue = sub === null ? 0 : strictDecimal(sub)
  if (subValue === undefined) return refuse('stream-fork-sub-offset', integerSentence('Stream-Fork-Sub-Offset'))
  if (subValue > 0 && after === undefined) {
    return refuse('stream-fork-sub-offset', 'A Stream-Fork-Sub-Offset counts into the append at Stream-Fork-Offset: send that offset too.')
  }
  return accept({ source, after, sub: subValue })
}
