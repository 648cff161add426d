/**
 * Cuts an SSE byte stream after its last complete frame (a blank line, `\n\n`) and holds the rest until its frame is
 * complete. @ag-ui/client's parser splits its whole buffer on `\n\n` again for every piece it is given: fed a frame of
 * megabytes in small pieces, that is quadratic (seconds of CPU for one event). Fed whole frames, it splits each once.
 * Each byte is scanned once, when it arrives. Pure.
 */
export class SseFrameCutter {
  #held: Uint8Array[] = []
  #heldBytes = 0
  /** Whether the last byte held is a `\n` (a frame's end may straddle two chunks). */
  #endsWithLf = false
  /** Bytes looked at so far, for tests that prove the work is linear. */
  scanned = 0

  /** @param maxFrameBytes the largest frame held; bytes. A longer one throws a FrameTooLarge. */
  constructor(private readonly maxFrameBytes: number) {}

  /** The complete frames `chunk` ends (with what was held before them), or an empty array when it ends none. */
  push(chunk: Uint8Array): Uint8Array {
    let cut = -1
    let previousLf = this.#endsWithLf
    for (let i = 0; i < chunk.length; i++) {
      const lf = chunk[i] === 0x0a
      if (lf && previousLf) cut = i + 1
      previousLf = lf
    }
    this.scanned += chunk.length
    this.#endsWithLf = previousLf
    if (cut === -1) {
      this.#hold(chunk)
      return new Uint8Array(0)
    }
    const out = concat([...this.#held, chunk.subarray(0, cut)])
    this.#held = []
    this.#heldBytes = 0
    this.#hold(chunk.subarray(cut))
    return out
  }

  /** What is held when the stream ends: an unfinished last frame, for the parser to judge. */
  rest(): Uint8Array {
    const rest = concat(this.#held)
    this.#held = []
    this.#heldBytes = 0
    return rest
  }

  #hold(bytes: Uint8Array): void {
    if (bytes.length === 0) return
    this.#held.push(bytes)
    this.#heldBytes += bytes.length
    if (this.#heldBytes > this.maxFrameBytes) throw new FrameTooLarge(this.maxFrameBytes)
  }
}

/** An SSE frame longer than the cutter holds. */
export class FrameTooLarge extends Error {
  constructor(readonly maxBytes: number) {
    super(`an SSE frame longer than ${maxBytes} bytes`)
  }
}

function concat(parts: Uint8Array[]): Uint8Array {
  if (parts.length === 1) return parts[0]!
  const out = new Uint8Array(parts.reduce((sum, part) => sum + part.length, 0))
  let at = 0
  for (const part of parts) {
    out.set(part, at)
    at += part.length
  }
  return out
}
