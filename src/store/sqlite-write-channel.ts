import type { Database } from 'bun:sqlite'
import { workerUrl } from './worker-url.ts'
import type {
  WorkerMessage,
  WorkerRequest,
  WriteAnswers,
  WriteCall,
  WriteFailure,
  WriteNotice,
  WriteSideSettings,
} from './sqlite-write-protocol.ts'
import { WriteSide } from './sqlite-write-side.ts'
import { writerStopped } from './store-errors.ts'

/** The writer worker's source, from the repository's root: the build lists it as an entrypoint beside src/main.ts. */
export const WRITER_WORKER_ENTRY = 'src/store/sqlite-writer-worker.ts'

/** A failed call: SQLite's extended code kept, so that store-errors.ts can say why in a sentence. */
export class WriteError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message)
    this.name = 'WriteError'
  }
}

/** How the serving thread reaches the write side. Answers come in the order of the calls, notices in between. */
export interface WriteChannel {
  call<T extends WriteCall>(call: T): Promise<WriteAnswers[T['type']]>
  /** False once the write side is gone (the worker died or was ended): every call then rejects with a 503. */
  readonly alive: boolean
  /** Ends the write side at once, as a crash would: `lost` is told. */
  terminate(): void
  /** Ends the write side at once, on purpose (after its `close` was answered): nothing is told. */
  end(): void
}

export interface ChannelHandlers {
  notice: (notice: WriteNotice) => void
  /** The write side died: every call pending and every later one rejects with writerStopped(); `reason` for the log. */
  lost: (reason: string) => void
}

/**
 * The write side in a Worker: commits, merges and retention run on another thread, and the serving thread only
 * posts rows and waits for the answer. Each call is one `postMessage`; answers are matched by id.
 */
export class WorkerChannel implements WriteChannel {
  readonly #worker: Worker
  readonly #pending = new Map<number, { resolve: (value: never) => void; reject: (error: unknown) => void }>()
  readonly #handlers: ChannelHandlers
  #nextId = 0
  #alive = true
  #ending = false

  constructor(path: string, settings: WriteSideSettings, handlers: ChannelHandlers) {
    this.#handlers = handlers
    // `ref: false`: the worker's thread must not keep the process alive on its own (the store's close() ends it).
    this.#worker = new Worker(workerUrl(WRITER_WORKER_ENTRY), { ref: false })
    // Settled on the next turn (in order: setImmediate is FIFO), not inside the message event: on Bun 1.4.5 a
    // bun:test `expect(p).rejects` reached from the continuation of a Worker message never wakes (oven-sh/bun#37189,
    // #43819), and a microtask is still inside that event. One turn per batch, not per event.
    this.#worker.onmessage = (event: MessageEvent<WorkerMessage>) => void setImmediate(() => this.#received(event.data))
    this.#worker.onerror = (event) => this.#lose(`the SQLite writer failed: ${event.message}`)
    this.#worker.addEventListener('close', () => this.#lose('the SQLite writer exited'))
    // Posted at once: the worker reads its messages in order once it has loaded, the open first.
    void this.call({ type: 'open', path, settings }).catch((error) =>
      this.#lose(`the SQLite writer could not open the database: ${String(error)}`),
    )
  }

  get alive(): boolean {
    return this.#alive
  }

  call<T extends WriteCall>(call: T): Promise<WriteAnswers[T['type']]> {
    if (!this.#alive) return Promise.reject(writerStopped())
    const id = this.#nextId++
    return new Promise((resolve, reject) => {
      this.#pending.set(id, { resolve: resolve as (value: never) => void, reject })
      this.#worker.postMessage({ id, call } satisfies WorkerRequest)
    })
  }

  terminate(): void {
    this.#worker.terminate()
  }

  end(): void {
    this.#ending = true
    this.#lose('the store closed')
    this.#worker.terminate()
  }

  #received(message: WorkerMessage): void {
    if ('notice' in message) {
      this.#handlers.notice(message.notice)
      return
    }
    const pending = this.#pending.get(message.id)
    if (!pending) return
    this.#pending.delete(message.id)
    if (message.ok) pending.resolve(message.value as never)
    else pending.reject(errorOf(message.error))
  }

  /** Every call waiting gets its 503 now: an append must never hang on a writer that is gone. */
  #lose(reason: string): void {
    if (!this.#alive) return
    this.#alive = false
    const error = writerStopped()
    for (const { reject } of this.#pending.values()) reject(error)
    this.#pending.clear()
    if (!this.#ending) this.#handlers.lost(reason)
  }
}

/**
 * The write side on the serving thread, for a `:memory:` database, which no other connection can open. Same calls,
 * same order, answered asynchronously like the worker's.
 */
export class LocalChannel implements WriteChannel {
  readonly #side: WriteSide
  #alive = true

  constructor(db: Database, settings: WriteSideSettings, handlers: Pick<ChannelHandlers, 'notice'>) {
    this.#side = new WriteSide(db, settings, handlers.notice)
  }

  get alive(): boolean {
    return this.#alive
  }

  async call<T extends WriteCall>(call: T): Promise<WriteAnswers[T['type']]> {
    if (!this.#alive) throw writerStopped()
    try {
      return (await this.#side.handle(call)) as WriteAnswers[T['type']]
    } catch (error) {
      throw errorOf({ code: (error as { code?: string }).code ?? '', message: error instanceof Error ? error.message : String(error) })
    }
  }

  terminate(): void {
    this.#alive = false
  }

  end(): void {
    this.#alive = false
  }
}

const errorOf = (failure: WriteFailure) => new WriteError(failure.code, failure.message)
