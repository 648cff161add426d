import { AppError } from '../errors.ts'
import { quoted } from '../sentence.ts'

const NEWLINE = 0x0a

/**
 * Splits a byte stream into lines, in time linear in its length however it is chunked: each byte is scanned for a
 * newline once, when it arrives, and the pieces of an unfinished line are kept as they came and joined once, when the
 * line ends. (Splitting the whole buffered text again on every chunk made a 990 KB line sent in small pieces cost
 * seconds of CPU.) Lines are cut on bytes, then decoded: in UTF-8 the byte of `\n` never occurs inside another
 * character, so a character split across chunks is whole again in its line. Pure.
 */
export class LineSplitter {
  #pieces: Uint8Array[] = []
  #pendingBytes = 0
  /** Lines ended so far: the one being read is the next, for the sentence of a line over the cap. */
  #ended = 0
  readonly #maxBytes: number
  readonly #decoder = new TextDecoder()
  /** Bytes looked at so far, for tests that prove the work is linear; each byte of input counts once. */
  scannedBytes = 0

  /**
   * @param maxBytes the longest line, finished or not; bytes of UTF-8. A longer one throws a 413 naming its line as
   * soon as it is.
   */
  constructor(maxBytes: number) {
    this.#maxBytes = maxBytes
  }

  /** The lines that `chunk` ends, in order (without their `\n`). */
  push(chunk: Uint8Array): string[] {
    const lines: string[] = []
    let start = 0
    for (let end = chunk.indexOf(NEWLINE); end !== -1; end = chunk.indexOf(NEWLINE, start)) {
      this.scannedBytes += end + 1 - start
      lines.push(this.#line(chunk.subarray(start, end)))
      start = end + 1
    }
    this.scannedBytes += chunk.length - start
    if (start < chunk.length) this.#keep(chunk.subarray(start))
    return lines
  }

  /** What the stream ended with after its last newline, if anything. */
  end(): string | undefined {
    return this.#pendingBytes > 0 ? this.#line(new Uint8Array(0)) : undefined
  }

  #keep(piece: Uint8Array): void {
    this.#pendingBytes += piece.length
    if (this.#pendingBytes > this.#maxBytes) throw lineTooLarge(this.#ended + 1, this.#maxBytes)
    // A copy: the stream may reuse the chunk's memory once it has handed it over.
    this.#pieces.push(piece.slice())
  }

  #line(last: Uint8Array): string {
    if (this.#pendingBytes + last.length > this.#maxBytes) throw lineTooLarge(this.#ended + 1, this.#maxBytes)
    this.#ended++
    const bytes = this.#pieces.length === 0 ? last : Buffer.concat([...this.#pieces, last])
    this.#pieces = []
    this.#pendingBytes = 0
    return this.#decoder.decode(bytes)
  }
}

const lineTooLarge = (line: number, maxBytes: number) =>
  new AppError(
    'BODY_TOO_LARGE',
    `Line ${line} of the body is over the limit of ${maxBytes} bytes a line: send a long text as several events.`,
  )

/** A line of an NDJSON body, and its number: 1-based, counting every line (blank ones too), as an editor does. */
export interface NdjsonLine {
  number: number
  text: string
}

/**
 * The non-blank lines of a streamed body as they arrive, numbered, for as long as it lasts; each line is capped at
 * `maxBytes` bytes of UTF-8 (a 413), so no line, finished or not, is held past the limit.
 */
export async function* ndjsonLines(body: ReadableStream<Uint8Array> | null, maxBytes: number): AsyncGenerator<NdjsonLine> {
  if (!body) return
  const splitter = new LineSplitter(maxBytes)
  const reader = body.getReader()
  let number = 0
  for (let chunk = await reader.read(); !chunk.done; chunk = await reader.read()) {
    for (const text of splitter.push(chunk.value)) {
      number++
      if (text.trim()) yield { number, text }
    }
  }
  const last = splitter.end()
  if (last?.trim()) yield { number: number + 1, text: last }
}

/** The JSON value of a line, or an INVALID_EVENT naming the line and what the parser found wrong with it. */
export function parseLine(line: NdjsonLine): unknown {
  try {
    return JSON.parse(line.text)
  } catch (error) {
    // JSC's words ("JSON Parse error: Unexpected identifier "nul"") without their prefix, as the end of our sentence.
    const why = String((error as Error).message).replace(/^JSON Parse error: /, '')
    throw new AppError(
      'INVALID_EVENT',
      `Line ${line.number} of the body is not JSON: ${quoted(why.charAt(0).toLowerCase() + why.slice(1))}.`,
    )
  }
}
