import type { StoredEvent } from '../events.ts'
import { encodeFrame, type SseFrame } from './encode.ts'

export interface CachedEncoderOptions {
  /** Characters of encoded frames kept, the oldest dropped first; default 8 Mi characters. */
  maxChars?: number
}

/**
 * Encodes each event once however many connections stream it, keyed by (session, seq): the pair names one event
 * for good (a seq is never reused), so a read that returns a fresh object — one past the newest entries the log core
 * keeps (src/log/log-tails.ts), an event whose type the event log does not share — keeps the saving. With a thousand
 * viewers this turns a thousand renders and JSON encodings of each token into one (bench/, fan-out). Every viewer
 * of a session reads an event within moments of the others, so a small cache of the newest frames serves them all; older ones are evicted in insertion order.
 *
 * One per app (createApp), not per module: a server restarted on an older copy of its database in the same process
 * (tests do this) must not be served frames of events the restored log never had.
 */
export function cachedEncoder(frame: (event: StoredEvent) => SseFrame, options: CachedEncoderOptions = {}): (event: StoredEvent) => string {
  const maxChars = options.maxChars ?? 8 * 1024 * 1024
  const cache = new Map<string, string>()
  // Insertion order kept beside the map, oldest at `head`: evicting by iterating the map from its start cost ~80 µs
  // per new frame once it had evicted a while, since Bun's Map iterator walks over every deleted slot before the
  // first live one (18% of the server's CPU in many runs at 1,000 sessions, bench/capacity.ts --profile).
  const order: string[] = []
  let head = 0
  let chars = 0
  // Viewers of a session mostly read the very same event object one after another: that needs no key at all.
  let lastEvent: StoredEvent | undefined
  let lastEncoded = ''
  return (event) => {
    if (event === lastEvent) return lastEncoded
    const key = `${event.session_id} ${event.seq}`
    let encoded = cache.get(key)
    if (encoded === undefined) {
      encoded = encodeFrame(frame(event))
      cache.set(key, encoded)
      order.push(key)
      chars += encoded.length
      while (chars > maxChars && cache.size > 1) {
        const oldest = order[head++]!
        chars -= cache.get(oldest)!.length
        cache.delete(oldest)
      }
      // Drops the evicted keys from the queue now and then, so it stays as long as the map (amortized O(1)).
      if (head > 1024 && head * 2 > order.length) {
        order.splice(0, head)
        head = 0
      }
    }
    lastEvent = event
    lastEncoded = encoded
    return encoded
  }
}
