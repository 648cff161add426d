/**
 * The data of a non-JSON stream's entry: bytes kept exactly, in a log whose entries are strings. A `text/*` body that
 * is valid UTF-8 is kept as its text after a `t` (the common case pays nothing); anything else as base64 after a `b`.
 * The log backends stay as they are (SQLite's `entries.data` is STRICT TEXT); budgets count the stored form.
 */

const strictUtf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true })

/** The entry data for `bytes`, sent to a stream of `contentType`. */
export function encodeEntryBytes(bytes: Uint8Array, contentType: string): string {
  if (contentType.startsWith('text/')) {
    try {
      return `t${strictUtf8.decode(bytes)}`
    } catch {
      // Not UTF-8 after all: kept as bytes like any other type.
    }
  }
  return `b${Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64')}`
}

/** The bytes an entry's data holds. */
export function decodeEntryBytes(data: string): Uint8Array {
  const tag = data[0]
  if (tag === 't') return new Uint8Array(Buffer.from(data.slice(1), 'utf8'))
  if (tag === 'b') return new Uint8Array(Buffer.from(data.slice(1), 'base64'))
  throw new Error(`entry data with no known tag: ${JSON.stringify(data.slice(0, 8))}`)
}
