import type { Database, Statement } from 'bun:sqlite'
import { closeSync, openSync, readSync, statSync } from 'node:fs'
import { SQLITE_WAL_BACKSTOP_PAGES } from '../../limits.ts'
import { WAL_AUTOCHECKPOINT_PAGES } from './sqlite-open.ts'

/** What the serving thread sends its checkpoint worker. */
type CheckpointerRequest =
  | { type: 'start'; path: string; everyMs: number; atBytes: number; tickMs: number; restMs: number }
  | { type: 'close' }

/**
 * What the worker answers: `pass` after each checkpoint (WAL frames, frames copied so far, whether it met a lock);
 * `quiet` once the WAL, wholly checkpointed, has stayed as it was (`wal`, its walMark) for `restMs`.
 */
type CheckpointerReply =
  | { type: 'pass'; log: number; checkpointed: number; busy: number }
  | { type: 'quiet'; wal: string }
  | { type: 'failed'; reason: string }
  | { type: 'closed' }

/** walMark below, in the worker's JavaScript; test/durability/checkpointer.test.ts checks that the two agree. */
export const WAL_MARK_JS = `function walMark(path, header) {
  const size = statSync(path + '-wal', { throwIfNoEntry: false })?.size ?? 0
  if (size < 32) return { size, mark: String(size) }
  let fd
  try {
    fd = openSync(path + '-wal', 'r')
    readSync(fd, header, 0, 12, 12)
  } catch {
    return { size, mark: String(size) }
  } finally {
    if (fd !== undefined) closeSync(fd)
  }
  return { size, mark: size + ':' + header.toString('hex') }
}`

/**
 * The worker's code, as a module of its own. A Blob URL rather than a file beside this one: `bun build --compile`
 * bundles a Worker's file only when it is listed as an entrypoint of its own, while a Blob needs nothing from the
 * build, and `bun:sqlite` and `node:fs` resolve inside it in the executable as from source (checked on Bun 1.4.5,
 * test/binary). Plain JavaScript, kept short: it is not type-checked.
 *
 * Each tick it looks at the `-wal` file (walMark: its size, the WAL's high-water mark since its last restart, since
 * journal_size_limit cuts the file when it restarts; and its header's checkpoint sequence and salts, which every
 * restart changes, so that a restart written back to the same length is seen too) and checkpoints when the WAL grew by
 * `atBytes` since the last pass, or changed at all and `everyMs` went by. A pass repeats while commits made during it
 * are left over (a few times at most): only a WAL that is wholly in the database is restarted by the next write, and
 * restarting is what keeps the file from growing. Once the WAL is wholly checkpointed and has not changed for `restMs`,
 * it says `quiet` (once per quiet spell), and the serving thread may end it.
 */
const WORKER_SOURCE = `
import { Database } from 'bun:sqlite'
import { closeSync, openSync, readSync, statSync } from 'node:fs'
let db, checkpoint, timer, lastAt = Date.now(), lastSize = -1, lastMark = '', seenMark = '', markSince = Date.now(), saidQuiet = false
const header = Buffer.alloc(12)
${WAL_MARK_JS}
function pass() {
  let row
  for (let i = 0; i < 4; i++) {
    // PASSIVE copies what no reader still needs, and never waits for, or blocks, the writer. all(), not get(): a
    // statement left on its row keeps its read transaction open.
    row = checkpoint.all()[0]
    if (row.busy || row.checkpointed >= row.log) break
  }
  return row
}
function tick(request) {
  const wal = walMark(request.path, header)
  if (wal.mark !== seenMark) {
    seenMark = wal.mark
    markSince = Date.now()
    saidQuiet = false
  }
  const due = wal.mark !== lastMark && (wal.size >= lastSize + request.atBytes || Date.now() - lastAt >= request.everyMs)
  if (!due) {
    if (!saidQuiet && wal.mark === lastMark && Date.now() - markSince >= request.restMs) {
      saidQuiet = true
      postMessage({ type: 'quiet', wal: wal.mark })
    }
    return
  }
  const row = pass()
  lastAt = Date.now()
  const after = row.checkpointed >= row.log ? walMark(request.path, header) : { size: -1, mark: '' }
  lastSize = after.size
  lastMark = after.mark
  postMessage({ type: 'pass', log: row.log, checkpointed: row.checkpointed, busy: row.busy })
}
self.onmessage = (event) => {
  const request = event.data
  if (request.type === 'start') {
    try {
      db = new Database(request.path, { readwrite: true, create: false })
      // The serving connection writing is normal: a pass that finds a lock taken tries again at the next tick.
      db.exec('PRAGMA busy_timeout = 0')
      checkpoint = db.prepare('PRAGMA wal_checkpoint(PASSIVE)')
    } catch (error) {
      postMessage({ type: 'failed', reason: String(error?.message ?? error) })
      return
    }
    timer = setInterval(() => {
      try {
        tick(request)
      } catch (error) {
        clearInterval(timer)
        postMessage({ type: 'failed', reason: String(error?.message ?? error) })
      }
    }, request.tickMs)
  } else {
    clearInterval(timer)
    // Finalized first: bun:sqlite defers closing a connection whose statements are alive, and this one must be shut
    // before the serving connection closes (the last to close checkpoints the WAL into the file).
    checkpoint?.finalize()
    db?.close()
    postMessage({ type: 'closed' })
  }
}
`

export interface CheckpointerOptions {
  /** Longest time between two checkpoints while the WAL grows; milliseconds, default 1000. */
  everyMs?: number
  /** WAL growth that starts a checkpoint before `everyMs`; bytes, default 4 MiB (about 1,000 pages). */
  atBytes?: number
  /** How often the worker looks at the WAL's size; milliseconds, default 250. */
  tickMs?: number
  /**
   * How long the WAL must stay wholly checkpointed and unchanged before the worker is ended (the next write starts
   * another); milliseconds, default 30,000. A worker that only looks costs an idle server ~0.2% of a core; starting
   * one costs ~8 ms of CPU, so even a write every 31 s costs less than keeping it.
   */
  restMs?: number
  /**
   * WAL pages past which the serving connection checkpoints by itself, in the commit that crossed them, should the
   * worker fall behind or never restart the WAL; pages, default SQLITE_WAL_BACKSTOP_PAGES.
   */
  backstopPages?: number
  /**
   * WAL pages from which the serving connection finishes a pass of the worker, so that its next write restarts the WAL;
   * pages, default WAL_AUTOCHECKPOINT_PAGES (2,000, about 8 MB: the WAL restarts about as often as it did when SQLite
   * checkpointed inside the commits, each restart costing this thread an fsync).
   */
  finishAtPages?: number
  /** Told once when the worker failed and the serving connection went back to checkpointing by itself. */
  onFailure?: (reason: string) => void
  /** Told after each pass of the worker: the WAL's frames, and how many of them are in the database. */
  onPass?: (log: number, checkpointed: number) => void
  /** Told when a worker starts (true) and when one is ended after a quiet spell (false). */
  onRunning?: (running: boolean) => void
}

/**
 * Moves WAL checkpoints off the thread that serves HTTP. SQLite's own autocheckpoint copies ~2,000 pages into the
 * database inside whichever commit crossed the mark, holding the event loop 18–30 ms about once a second at 10,000
 * events/s (bench/PROFILE-III.md, section 2). Here a Worker with a connection of its own runs PASSIVE checkpoints,
 * which never block the writer. The serving connection keeps two jobs: restarting the WAL on the first write after a
 * complete checkpoint (and cutting the file then, journal_size_limit: a deleted chat's old page images go, issue 23),
 * and a backstop autocheckpoint at `backstopPages`, so the WAL stays bounded if the worker falls behind.
 *
 * Durability does not depend on it: a commit is durable once in the WAL, and a checkpoint only copies committed pages.
 * If the worker cannot open the database or dies, the serving connection checkpoints by itself as it did before.
 *
 * The worker runs only while there is something to checkpoint: the store's first write starts it (`wrote`), and it is
 * ended once the WAL has been wholly checkpointed and unchanged for `restMs` (an idle server has no thread waking it).
 */
export class Checkpointer {
  readonly #db: Database
  readonly #path: string
  readonly #options: CheckpointerOptions
  readonly #finish: Statement
  readonly #finishAtPages: number
  #worker: Worker | undefined
  #url: string | undefined
  #closing: Promise<void> | undefined
  /** The ending of workers let go after a quiet spell: close() waits for them, so the serving connection closes last. */
  readonly #retiring = new Set<Promise<void>>()
  #failed = false

  /** @param db the serving connection, whose autocheckpoint this raises to the backstop while a worker runs. */
  constructor(db: Database, path: string, options: CheckpointerOptions = {}) {
    this.#db = db
    this.#path = path
    this.#options = options
    this.#finish = db.prepare('PRAGMA wal_checkpoint(PASSIVE)')
    this.#finishAtPages = options.finishAtPages ?? WAL_AUTOCHECKPOINT_PAGES
  }

  /** Told after each write of the serving connection: starts a worker if none runs. */
  wrote(): void {
    if (this.#worker === undefined && !this.#failed && this.#closing === undefined) this.#start()
  }

  #start(): void {
    const options = this.#options
    let worker: Worker
    try {
      this.#url ??= URL.createObjectURL(new Blob([WORKER_SOURCE], { type: 'application/javascript' }))
      // `ref: false`: the thread must not keep the process alive on its own (the store's close ends it); `smol`: a
      // small heap, for a thread that holds a connection and a timer.
      worker = new Worker(this.#url, { ref: false, smol: true })
    } catch (error) {
      // This Bun cannot start one: SQLite keeps checkpointing inside the commits, as it does until a worker runs.
      this.#failed = true
      options.onFailure?.(error instanceof Error ? error.message : String(error))
      return
    }
    this.#worker = worker
    options.onRunning?.(true)
    // Only once the worker exists: should it throw, SQLite keeps checkpointing by itself.
    this.#autocheckpoint(options.backstopPages ?? SQLITE_WAL_BACKSTOP_PAGES)
    worker.onmessage = (event: MessageEvent<CheckpointerReply>) => {
      if (worker !== this.#worker) return
      const reply = event.data
      if (reply.type === 'pass') {
        if (!reply.busy && reply.log >= this.#finishAtPages) this.#finishPass()
        options.onPass?.(reply.log, reply.checkpointed)
      } else if (reply.type === 'quiet') this.#rest(reply.wal)
      else if (reply.type === 'failed') this.#fail(reply.reason)
    }
    worker.onerror = (event) => {
      if (worker === this.#worker) this.#fail(event.message)
    }
    worker.addEventListener('close', () => {
      if (worker === this.#worker) this.#fail('the checkpoint worker exited')
    })
    const start: CheckpointerRequest = {
      type: 'start',
      path: this.#path,
      everyMs: options.everyMs ?? 1000,
      atBytes: options.atBytes ?? 4 * 1024 * 1024,
      tickMs: options.tickMs ?? 250,
      restMs: options.restMs ?? 30_000,
    }
    worker.postMessage(start)
  }

  /**
   * The worker found the WAL wholly checkpointed and unchanged for `restMs`. A write since it looked changed the WAL:
   * it then goes on (and sees the change at its next look); otherwise it is ended, and the next write starts another.
   * Meanwhile SQLite checkpoints by itself again, as it would without a worker, for what writes without telling
   * (`wrote`): the sign-ins, the journal's merge.
   */
  #rest(wal: string): void {
    const worker = this.#worker
    if (worker === undefined || this.#closing || walMark(this.#path, Buffer.alloc(12)).mark !== wal) return
    this.#worker = undefined
    this.#autocheckpoint(WAL_AUTOCHECKPOINT_PAGES)
    this.#options.onRunning?.(false)
    const ending = closeWorker(worker).finally(() => this.#retiring.delete(ending))
    this.#retiring.add(ending)
  }

  #autocheckpoint(pages: number): void {
    try {
      this.#db.exec(`PRAGMA wal_autocheckpoint = ${pages}`)
    } catch {
      // The serving connection is closing; nothing is left to checkpoint for.
    }
  }

  /** True once the worker failed and the serving connection checkpoints by itself. */
  get failed(): boolean {
    return this.#failed
  }

  /**
   * Ends the worker after its current pass and closes its connection, so that the serving connection, closed next,
   * is the last and checkpoints the whole WAL into the file. Resolves within a second even if the worker hangs (a
   * pass stuck on a hung disk must not hold the shutdown). Safe to call twice.
   */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      const worker = this.#worker
      this.#worker = undefined
      if (worker && !this.#failed) await closeWorker(worker)
      else worker?.terminate()
      await Promise.all(this.#retiring)
      if (this.#url !== undefined) URL.revokeObjectURL(this.#url)
    })()
    return this.#closing
  }

  /**
   * Copies, on the serving connection, what was committed while the worker's pass ran. The worker's pass is complete
   * only as of the moment it began; under a steady load a commit lands during nearly every pass (each ends with two
   * fsyncs), and only a WAL wholly in the database is restarted by the next write: without this the WAL grew to
   * 16-44 MB between restarts, and cutting a file that long held the loop 40-110 ms. The frames left are those of the
   * pass's few milliseconds, but copying any costs this thread the checkpoint's two fsyncs: hence once per
   * `finishAtPages`, not after every pass. PASSIVE here never waits for the worker's lock: it answers busy and the
   * next pass retries.
   */
  #finishPass(): void {
    if (this.#closing || this.#failed) return
    try {
      this.#finish.all()
    } catch {
      // The next pass tries again; the backstop bounds the WAL meanwhile.
    }
  }

  #fail(reason: string): void {
    if (this.#failed || this.#closing) return
    this.#failed = true
    this.#autocheckpoint(WAL_AUTOCHECKPOINT_PAGES)
    this.#worker?.terminate()
    this.#worker = undefined
    this.#options.onFailure?.(reason)
  }
}

/**
 * The WAL as it stands, as the worker and the serving thread compare it: its size and, from its header, the checkpoint
 * sequence and the two salts (bytes 12-23), which every restart changes. `header` is a 12-byte scratch buffer.
 */
export function walMark(path: string, header: Buffer): { size: number; mark: string } {
  const size = statSync(`${path}-wal`, { throwIfNoEntry: false })?.size ?? 0
  if (size < 32) return { size, mark: String(size) }
  let fd: number | undefined
  try {
    fd = openSync(`${path}-wal`, 'r')
    readSync(fd, header, 0, 12, 12)
  } catch {
    return { size, mark: String(size) }
  } finally {
    if (fd !== undefined) closeSync(fd)
  }
  return { size, mark: `${size}:${header.toString('hex')}` }
}

/**
 * Ends a worker after its current pass, its connection closed first. Resolves within a second even if the worker
 * hangs (a pass stuck on a hung disk must not hold the shutdown).
 */
function closeWorker(worker: Worker): Promise<void> {
  return new Promise<void>((resolve) => {
    const done = () => {
      clearTimeout(timer)
      worker.terminate()
      resolve()
    }
    const timer = setTimeout(done, 1000)
    worker.addEventListener('message', (event: MessageEvent<CheckpointerReply>) => {
      if (event.data.type === 'closed') done()
    })
    worker.postMessage({ type: 'close' } satisfies CheckpointerRequest)
  })
}
