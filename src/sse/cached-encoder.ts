import type { StoredEvent } from '../events.ts'
import { encodeFrame, type SseFrame } from './encode.ts'

/**
 * Encodes each event once however many connections stream it. Every viewer of a session reads the same event
 * objects (from the memory log or the SQLite store's recent-events cache), so with a thousand viewers this turns a
 * thousand renders and JSON encodings of each token into one. Keyed weakly: an event the store drops is freed.
 */
export function cachedEncoder(frame: (event: StoredEvent) => SseFrame): (event: StoredEvent) => string {
  const cache = new WeakMap<StoredEvent, string>()
  return (event) => {
    let encoded = cache.get(event)
    if (encoded === undefined) {
      encoded = encodeFrame(frame(event))
      cache.set(event, encoded)
    }
    return encoded
  }
}
