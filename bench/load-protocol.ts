/** The messages between the orchestrator (load-pool.ts) and its load worker processes (load-worker.ts), over IPC. */

export interface OpenCommand {
  kind: 'open'
  host: string
  port: number
  /** One stream per path. */
  paths: string[]
  /** Streams being opened at once; keeps the server's accept backlog from overflowing. */
  concurrency: number
  /** `final`: each stream ends after its first `final` event; `hold`: streams stay open until `close`. */
  until: 'final' | 'hold'
  /** The worker closes everything and reports after this long whatever happens; milliseconds. */
  deadlineMs: number
}

export interface CloseCommand {
  kind: 'close'
}

export type WorkerCommand = OpenCommand | CloseCommand

export interface WorkerStats {
  streams: number
  opened: number
  /** Streams that failed to open or closed before their `final`. */
  failed: number
  /** The first few failure reasons, to print when something went wrong. */
  errors: string[]
  /** SSE messages with data (events, not comments or `retry:`). */
  events: number
  /** Response body bytes, HTTP chunk framing included. */
  bodyBytes: number
  /** Delivery latency of every event with a `ts`: sparse [ms, count] pairs (see histogram.ts). */
  latency: [number, number][]
  /** Earliest event `ts` seen and latest receive time; epoch milliseconds (0 when no event arrived). */
  firstTs: number
  lastReceivedAt: number
  /**
   * Each run a stream saw whole (`until: 'final'`): [its first partial's `ts`, its final's `ts`, its partials],
   * epoch milliseconds; what the pace each run kept is computed from.
   */
  runs: [number, number, number][]
  /** CPU this worker used while it ran, and for how long it ran; microseconds and milliseconds. */
  cpuMicros: number
  wallMs: number
}

export type WorkerReport = { kind: 'opened'; opened: number; failed: number } | { kind: 'done'; stats: WorkerStats }

/** A worker's stats before it has opened anything. */
export function emptyStats(streams: number): WorkerStats {
  return {
    streams,
    opened: 0,
    failed: 0,
    errors: [],
    events: 0,
    bodyBytes: 0,
    latency: [],
    firstTs: 0,
    lastReceivedAt: 0,
    runs: [],
    cpuMicros: 0,
    wallMs: 0,
  }
}
