import { join } from 'node:path'
import type { Subprocess } from 'bun'
import { fromSparse, merge, newHistogram, type Histogram } from './histogram.ts'
import { emptyStats, type OpenCommand, type WorkerReport, type WorkerStats } from './load-protocol.ts'

/** The load of a scenario, spread over worker processes (load-worker.ts) and merged back. */
export interface LoadOptions {
  host: string
  port: number
  /** One SSE stream per path. */
  paths: string[]
  /** Streams per worker process; defaults to 5,000 (well under the ~20,000 open files one process may hold). */
  perWorker?: number
  /** Streams each worker opens at once; defaults to 100. */
  concurrency?: number
  until: OpenCommand['until']
  /** Every worker reports by then whatever happens; milliseconds. */
  deadlineMs: number
}

/** Every worker's stats added up: the latency histograms merged, and the busiest worker's CPU instead of each one's. */
export type LoadResult = Omit<WorkerStats, 'latency' | 'cpuMicros' | 'wallMs'> & {
  latency: Histogram
  /** The busiest worker's CPU use (see `cpuPercent`); percent of one core. */
  maxWorkerCpuPercent: number
  workers: number
}

export interface Load {
  /** Resolves once every stream has opened or failed to. */
  opened: Promise<{ opened: number; failed: number }>
  /** Resolves with the merged stats once every worker reported (`until: 'final'`, or after `close()`). */
  done: Promise<LoadResult>
  /** Asks every worker to close its streams and report. */
  close(): Promise<LoadResult>
}

const WORKER = join(import.meta.dir, 'load-worker.ts')

export function startLoad(options: LoadOptions): Load {
  const perWorker = options.perWorker ?? 5000
  const slices: string[][] = []
  for (let i = 0; i < options.paths.length; i += perWorker) slices.push(options.paths.slice(i, i + perWorker))
  const workers: Subprocess[] = []
  const opened: Promise<{ opened: number; failed: number }>[] = []
  const done: Promise<WorkerStats>[] = []
  for (const paths of slices) {
    let resolveOpened!: (value: { opened: number; failed: number }) => void
    let resolveDone!: (stats: WorkerStats) => void
    opened.push(new Promise((resolve) => (resolveOpened = resolve)))
    done.push(new Promise((resolve) => (resolveDone = resolve)))
    const worker = Bun.spawn([process.execPath, WORKER], {
      stdio: ['ignore', 'inherit', 'inherit'],
      serialization: 'json',
      ipc(message: WorkerReport) {
        if (message.kind === 'opened') resolveOpened(message)
        else resolveDone(message.stats)
      },
    })
    const command: OpenCommand = {
      kind: 'open',
      host: options.host,
      port: options.port,
      paths,
      concurrency: options.concurrency ?? 100,
      until: options.until,
      deadlineMs: options.deadlineMs,
    }
    worker.send(command)
    // A worker that dies without reporting must not hang the benchmark: count its streams as failed.
    void worker.exited.then((code) => {
      const lost = { opened: 0, failed: paths.length }
      resolveOpened(lost)
      resolveDone({ ...emptyStats(paths.length), failed: paths.length, errors: [`load worker exited with code ${code} before reporting`] })
    })
    workers.push(worker)
  }
  const all = Promise.all(done).then(mergeStats)
  return {
    opened: Promise.all(opened).then((list) => ({
      opened: list.reduce((n, o) => n + o.opened, 0),
      failed: list.reduce((n, o) => n + o.failed, 0),
    })),
    done: all,
    close: () => {
      for (const worker of workers) if (worker.exitCode === null) worker.send({ kind: 'close' })
      return all
    },
  }
}

function mergeStats(list: WorkerStats[]): LoadResult {
  const latency = newHistogram()
  for (const stats of list) merge(latency, fromSparse(stats.latency))
  const firsts = list.map((s) => s.firstTs).filter((t) => t > 0)
  return {
    streams: list.reduce((n, s) => n + s.streams, 0),
    opened: list.reduce((n, s) => n + s.opened, 0),
    failed: list.reduce((n, s) => n + s.failed, 0),
    errors: list.flatMap((s) => s.errors).slice(0, 5),
    events: list.reduce((n, s) => n + s.events, 0),
    bodyBytes: list.reduce((n, s) => n + s.bodyBytes, 0),
    latency,
    firstTs: firsts.length > 0 ? Math.min(...firsts) : 0,
    lastReceivedAt: Math.max(0, ...list.map((s) => s.lastReceivedAt)),
    runs: list.flatMap((s) => s.runs),
    maxWorkerCpuPercent: Math.max(0, ...list.map(cpuPercent)),
    workers: list.length,
  }
}

/**
 * A worker's CPU time over the window it was busy: from the first event's `ts` to the last receive when events
 * flowed (opening the streams happened before that window, so this over-states rather than hides), else its life.
 */
function cpuPercent(stats: WorkerStats): number {
  const busyMs = stats.firstTs > 0 && stats.lastReceivedAt > stats.firstTs ? stats.lastReceivedAt - stats.firstTs : stats.wallMs
  return busyMs > 0 ? (stats.cpuMicros / 1000 / busyMs) * 100 : 0
}
