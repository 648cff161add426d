import type { Database } from 'bun:sqlite'
import { existsSync } from 'node:fs'
import { relative } from 'node:path'
import { fileURLToPath } from 'node:url'
import { WAL_AUTOCHECKPOINT_PAGES } from '../log/backends/sqlite-open.ts'

/** What the store sends its checkpoint worker. */
export type CheckpointerRequest = { type: 'start'; path: string; everyMs: number } | { type: 'close' }

/** What the worker answers: `checkpointed` after each pass (WAL frames copied, frames in the WAL). */
export type CheckpointerReply =
  | { type: 'started' }
  | { type: 'checkpointed'; frames: number; log: number }
  | { type: 'failed'; reason: string }
  | { type: 'closed' }

/** The worker's source, from the repository's root: the build lists it as an entrypoint beside src/main.ts. */
export const CHECKPOINT_WORKER_ENTRY = 'src/store/sqlite-checkpoint-worker.ts'

/**
 * Where the worker's code is. From source, beside this file. In a `bun build --compile` executable every module's
 * `import.meta.url` is the executable's own (`/$bunfs/root/stepstream`) and each entrypoint is kept under its path
 * from the entrypoints' common folder, src/: there, `./store/…` from the root (checked on Bun 1.4.5).
 */
function workerUrl(): string {
  const source = new URL('./sqlite-checkpoint-worker.ts', import.meta.url)
  if (existsSync(fileURLToPath(source))) return source.href
  return new URL(`./${relative('src', CHECKPOINT_WORKER_ENTRY)}`, import.meta.url).href
}

/**
 * WAL pages after which the serving connection checkpoints by itself (SQLite's own autocheckpoint), as a backstop
 * should the worker fall behind: 50,000 pages, ~200 MB. With the worker gone, it is back to WAL_AUTOCHECKPOINT_PAGES.
 */
export const BACKSTOP_CHECKPOINT_PAGES = 50_000

export interface CheckpointerOptions {
  /** Time between two checkpoints; milliseconds, default 250 (about 2,000 pages of WAL at the many-runs load). */
  everyMs?: number
  /** Told when the worker failed and the serving connection went back to checkpointing by itself. */
  onFailure?: (reason: string) => void
  /** Told after each pass of the worker. */
  onPass?: () => void
}

/**
 * Moves WAL checkpoints off the thread that serves HTTP. A checkpoint copies the WAL's pages into the database file
 * and fsyncs it: with SQLite's autocheckpoint, the commit that crossed 2,000 pages did that inside the event loop,
 * and while the disk flushed nothing else ran (many runs at 1,000 sessions: hundreds of stalls over 5 ms in ten
 * seconds with the server at 55–90% of a core; bench/capacity.ts). Here a Worker with a connection of its own runs
 * PASSIVE checkpoints on a timer, which never block the writer; the serving connection's autocheckpoint stays as a
 * backstop at BACKSTOP_CHECKPOINT_PAGES.
 *
 * Durability does not depend on it: an append is acknowledged once its commit is in the WAL, as before; a
 * checkpoint only moves committed pages. If the worker cannot open the database or dies, the serving connection
 * checkpoints by itself again, as it did before the worker existed.
 */
export class Checkpointer {
  readonly #worker: Worker
  readonly #db: Database
  readonly #onFailure: ((reason: string) => void) | undefined
  readonly #onPass: (() => void) | undefined
  #closed: Promise<void> | undefined
  #failed = false
  /** Passes the worker has run. */
  passes = 0

  /** @param db the serving connection, whose autocheckpoint this lowers to the backstop while the worker runs. */
  constructor(db: Database, path: string, options: CheckpointerOptions = {}) {
    this.#db = db
    this.#onFailure = options.onFailure
    this.#onPass = options.onPass
    db.exec(`PRAGMA wal_autocheckpoint = ${BACKSTOP_CHECKPOINT_PAGES}`)
    // `ref: false`: the worker's thread must not keep the process alive on its own (the store's close() ends it);
    // `smol`: a small heap, for a thread that holds a connection and a timer.
    this.#worker = new Worker(workerUrl(), { ref: false, smol: true })
    this.#worker.onmessage = (event: MessageEvent<CheckpointerReply>) => {
      if (event.data.type === 'checkpointed') {
        this.passes++
        this.#onPass?.()
      } else if (event.data.type === 'failed') this.#fail(event.data.reason)
    }
    this.#worker.onerror = (event) => this.#fail(event.message)
    this.#worker.addEventListener('close', () => {
      if (!this.#closed) this.#fail('the checkpoint worker exited')
    })
    this.#worker.postMessage({ type: 'start', path, everyMs: options.everyMs ?? 250 } satisfies CheckpointerRequest)
  }

  /** True once the worker failed and the serving connection checkpoints by itself. */
  get failed(): boolean {
    return this.#failed
  }

  /** Ends the worker after its current pass; resolves once its connection is closed. Safe to call twice. */
  close(): Promise<void> {
    this.#closed ??= new Promise<void>((resolve) => {
      if (this.#failed) {
        this.#worker.terminate()
        return resolve()
      }
      const done = () => {
        clearTimeout(timer)
        this.#worker.terminate()
        resolve()
      }
      // A worker stuck in a checkpoint on a hung disk must not hold the shutdown: give it a second.
      const timer = setTimeout(done, 1000)
      this.#worker.addEventListener('message', (event: MessageEvent<CheckpointerReply>) => {
        if (event.data.type === 'closed') done()
      })
      this.#worker.postMessage({ type: 'close' } satisfies CheckpointerRequest)
    })
    return this.#closed
  }

  #fail(reason: string): void {
    if (this.#failed || this.#closed) return
    this.#failed = true
    try {
      this.#db.exec(`PRAGMA wal_autocheckpoint = ${WAL_AUTOCHECKPOINT_PAGES}`)
    } catch {
      // The serving connection is closing; nothing is left to checkpoint for.
    }
    this.#worker.terminate()
    this.#onFailure?.(reason)
  }
}
