import { SHARED_CHUNK_CHARS } from '../limits.ts'

/** What a shared chunk must say besides its text: the chunk type of src/sse/session-stream.ts. */
export interface SharedChunk {
  text: string
}

/** The read under way or done for one session at one cursor and page size. */
interface Entry<C extends SharedChunk> {
  after: number
  limit: number
  chunk: Promise<C | undefined>
  /** The text's length once read (0 until then, and for nothing read). */
  chars: number
}

interface Session<C extends SharedChunk> {
  /** Open streams of the session in this format. */
  readers: number
  entry?: Entry<C>
}

/**
 * The newest chunk read for each session, shared by its readers at the same cursor: a wake-up of a session that N
 * viewers follow costs one read through the log core and one encoding, not N (bench/, fan-out). One per format (the
 * stateless ones: HTML, JSON, a viewer's JSON), since the bytes differ.
 *
 * A chunk is kept only while the session has two readers or more (a lone reader gains nothing from it), only the
 * newest per session (a lagging reader reads for itself and never replaces it), and all of them together within
 * `maxChars`, the oldest dropped first. The read itself is shared while under way, so readers woken by
 * the same append wait on the first one's read instead of each starting their own.
 */
export class SharedChunks<C extends SharedChunk> {
  readonly #sessions = new Map<string, Session<C>>()
  readonly #maxChars: number
  /** The sum of the kept chunks' lengths. */
  #chars = 0

  /** @param maxChars what all kept chunks may hold; characters, default SHARED_CHUNK_CHARS (16 Mi). */
  constructor(maxChars = SHARED_CHUNK_CHARS) {
    this.#maxChars = maxChars
  }

  /** A stream of the session opened: call `leave` once when it ends. */
  join(sessionId: string): void {
    const session = this.#sessions.get(sessionId)
    if (session) session.readers++
    else this.#sessions.set(sessionId, { readers: 1 })
  }

  /** A stream of the session ended: below two readers its chunk is let go. */
  leave(sessionId: string): void {
    const session = this.#sessions.get(sessionId)
    if (!session) return
    if (--session.readers === 0) this.#sessions.delete(sessionId)
    if (session.readers < 2) this.#drop(session)
  }

  /**
   * The chunk of `sessionId` after `after` with `limit` events at most: the one read (or being read) by another reader
   * at the same cursor, else `read()`'s, kept for the others when the session has more than one reader.
   */
  chunk(sessionId: string, after: number, limit: number, read: () => Promise<C | undefined>): Promise<C | undefined> {
    const session = this.#sessions.get(sessionId)
    if (!session || session.readers < 2) return read()
    const kept = session.entry
    if (kept && kept.after === after && kept.limit === limit) return kept.chunk
    // A reader behind the newest one reads for itself: the readers at the head are the many.
    if (kept && kept.after > after) return read()
    this.#drop(session)
    // Moves the session to the end of the Map's order: the Map lists sessions oldest chunk first, for the bound.
    this.#sessions.delete(sessionId)
    this.#sessions.set(sessionId, session)
    const entry: Entry<C> = { after, limit, chunk: read(), chars: 0 }
    session.entry = entry
    entry.chunk.then(
      (chunk) => {
        if (session.entry !== entry) return
        // Nothing read: the next reader must look again, since events may have come since.
        if (!chunk) return this.#drop(session)
        entry.chars = chunk.text.length
        this.#chars += entry.chars
        this.#evict()
      },
      () => {
        if (session.entry === entry) this.#drop(session)
      },
    )
    return entry.chunk
  }

  /** The characters of the chunks kept. */
  get chars(): number {
    return this.#chars
  }

  #drop(session: Session<C>): void {
    if (!session.entry) return
    this.#chars -= session.entry.chars
    session.entry = undefined
  }

  /** Lets go of the oldest chunks while they hold more than the bound. */
  #evict(): void {
    for (const session of this.#sessions.values()) {
      if (this.#chars <= this.#maxChars) return
      this.#drop(session)
    }
  }
}
