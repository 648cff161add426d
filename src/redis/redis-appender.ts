import { isClosing, type NewEvent } from '../events.ts'
import { type ProducerMark, stateJson } from '../log/producer-state.ts'
import { fromRedis, guarded } from './redis-errors.ts'
import type { RedisKeys } from './redis-keys.ts'
import { type RedisLink, runScript } from './redis-link.ts'
import { APPEND_BATCH } from './redis-scripts.ts'
import { CLOSING_RESERVE_BYTES, DEFAULT_MAX_SESSION_BYTES } from '../limits.ts'
import { sessionFull } from '../store/byte-budget.ts'

/**
 * A session's activity (the sorted sets retention reads) is recorded at most this often, and always with a closing
 * event; milliseconds. Recording it with every event cost two sorted-set writes per token; retention measures
 * idleness in hours and days, and the time a run closed, which compaction waits on, is always exact.
 */
export const ACTIVITY_RESOLUTION_MS = 60_000

/** Events per script call at most: a batch holds Redis's one thread for about a millisecond at most. */
const MAX_BATCH = 256

/** Past this many sessions the record of when each was last touched is dropped (each is then touched once more). */
const MAX_TOUCHED = 100_000

interface Pending {
  sessionId: string
  event: NewEvent
  /** The event as JSON, as Redis keeps it. */
  json: string
  /** Producer state stored by the same script call as the event, or not at all. */
  mark: ProducerMark | undefined
  resolve: (seq: number) => void
  reject: (error: unknown) => void
}

export interface RedisAppenderOptions {
  /** Told how long each batch took to be stored; seconds. */
  onStored?: (seconds: number) => void
  /** Bytes one session's events may take (byte-budget.ts); default DEFAULT_MAX_SESSION_BYTES (64 MiB). */
  maxSessionBytes?: number
}

/**
 * Group commit for Redis: the appends an instance makes while its previous batch is on its way (or, when none is,
 * within one turn of its event loop) go to Redis as one script call (APPEND_BATCH), in order, with one wake message.
 * One call per event made Redis dispatch a script, and this process encode and parse a command, per token: one
 * instance on Redis kept about half of SQLite's events/s (bench/redis-scale.ts). Each append still resolves only
 * once Redis holds its event, with its own seq or its own refusal (a fenced run's events do not fail the others').
 *
 * One batch at a time: a batch refused with NOSCRIPT (Redis restarted) is sent again with the script's text, and a
 * later batch pipelined behind it would have run first, storing a session's later events before its earlier ones.
 */
export class RedisAppender {
  #batch: Pending[] = []
  #scheduled: ReturnType<typeof setImmediate> | undefined
  /** The batch on its way to Redis, if any; the next waits for its answer. */
  #sending: Promise<void> | undefined
  readonly #touchedAt = new Map<string, number>()
  readonly #maxSessionBytes: number

  constructor(
    private readonly link: RedisLink,
    private readonly keys: RedisKeys,
    private readonly options: RedisAppenderOptions = {},
  ) {
    this.#maxSessionBytes = options.maxSessionBytes ?? DEFAULT_MAX_SESSION_BYTES
  }

  /** The session byte budget the appends are held to; bytes. */
  get maxSessionBytes(): number {
    return this.#maxSessionBytes
  }

  /**
   * Resolves with the event's seq once Redis holds it (`json`, the event's JSON), and `mark` with it; rejects with
   * the AppError that refused it.
   */
  append(sessionId: string, event: NewEvent, json: string, mark?: ProducerMark): Promise<number> {
    return new Promise((resolve, reject) => {
      this.#batch.push({ sessionId, event, json, mark, resolve, reject })
      if (!this.#sending) this.#scheduled ??= setImmediate(() => this.flush())
    })
  }

  /** Sends what is pending now, unless a batch is on its way: then it goes as soon as that one is answered. */
  flush(): void {
    if (this.#scheduled) clearImmediate(this.#scheduled)
    this.#scheduled = undefined
    if (this.#sending || this.#batch.length === 0) return
    const batch = this.#batch.splice(0, MAX_BATCH)
    this.#sending = this.#send(batch).finally(() => {
      this.#sending = undefined
      this.flush()
    })
  }

  /** Resolves once every append accepted so far has been answered (before the link closes). */
  async drain(): Promise<void> {
    this.flush()
    while (this.#sending) await this.#sending
  }

  async #send(batch: Pending[]): Promise<void> {
    const k = this.keys
    const now = Date.now()
    const keys = [k.activity, k.uncompacted, k.openRuns]
    const args = [String(now), k.wakeChannel, String(this.#maxSessionBytes), String(CLOSING_RESERVE_BYTES)]
    for (const { sessionId, event, json, mark } of batch) {
      keys.push(k.session(sessionId), k.events(sessionId), k.runs(sessionId), k.lease(sessionId), k.producers(sessionId))
      const closing = isClosing(event)
      const touch = this.#touch(sessionId, closing, now) ? '1' : '0'
      // The event's JSON is at hand: its UTF-8 length is what eventBytes counts, without serializing it again.
      args.push(sessionId, json, event.step_id, closing ? '1' : '0', touch, String(Buffer.byteLength(json)))
      args.push(mark ? producerField(mark.runId, mark.producerId) : '', mark ? stateJson(mark) : '')
    }
    const started = performance.now()
    let results: (number | string)[]
    try {
      results = (await guarded(() => runScript(this.link, APPEND_BATCH, keys, args))) as (number | string)[]
    } catch (error) {
      // Not stored: the next append of these sessions records their activity again.
      for (const { sessionId, reject } of batch) {
        this.#touchedAt.delete(sessionId)
        reject(error)
      }
      return
    }
    this.options.onStored?.((performance.now() - started) / 1000)
    batch.forEach(({ resolve, reject }, i) => {
      const result = results[i]
      if (typeof result === 'number') resolve(result)
      else if (result === 'SESSION_FULL') reject(sessionFull(this.#maxSessionBytes))
      else reject(fromRedis(new Error(String(result))))
    })
  }

  /** Whether this append records the session's activity: with a closing event, or once per resolution. */
  #touch(sessionId: string, closing: boolean, now: number): boolean {
    const last = this.#touchedAt.get(sessionId)
    if (!closing && last !== undefined && now - last < ACTIVITY_RESOLUTION_MS) return false
    if (this.#touchedAt.size >= MAX_TOUCHED) this.#touchedAt.clear()
    this.#touchedAt.set(sessionId, now)
    return true
  }
}

/** The field of a producer in its session's producers hash (redis-keys.ts). */
export const producerField = (runId: string, producerId: string) => JSON.stringify([runId, producerId])
