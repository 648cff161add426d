import type { Target } from '../server-process.ts'

/** How big each scenario is; run.ts picks one of these per mode (smoke, quick, full). */
export interface Sizes {
  /** Open streams held by the idle scenario. */
  idleStreams: number
  /** Server starts of the idle scenario, each measured once: the median is reported with the min–max spread. */
  idleRounds: number
  /** Viewers of the one session of the fan-out scenario, and the length of the message they all receive. */
  fanOutViewers: number
  fanOutChars: number
  /**
   * Load worker processes the fan-out viewers are split over: enough that the busiest stays well under a core for
   * both servers (the report's "load client CPU" row), or the client's own saturation shows as the server's latency.
   */
  fanOutLoadWorkers: number
  /** Sessions of the many-runs scenario (one viewer each) and the length of each message, echoed at 50 chars/s. */
  manyRunsSessions: number
  manyRunsChars: number
  /** Runs of the per-event scenario (one viewer each, 50 tokens/s: 200 is the 10,000 events/s) and their length. */
  perEventSessions: number
  perEventChars: number
  /** Idle CPU scenario: seconds a server with no connections settles after start-up, then seconds its CPU is read over. */
  idleCpuSettleS: number
  idleCpuWindowS: number
  /** Messages timed in Chromium by the browser scenario, on a quiet server and again under the many-runs load. */
  browserMessages: number
  /** Length of the answer whose bytes are counted on the HTML stream. */
  answerChars: number
  /** How many times each server is cold-started. */
  coldStarts: number
}

export interface ScenarioContext {
  target: Target
  sizes: Sizes
  /** A private folder for SQLite files; removed when the benchmark ends. */
  workDir: string
}

/**
 * What a scenario measured on one server: named numbers (see report.ts for their labels and targets). A scenario
 * that does not apply to a server (the baseline has no HTML stream) returns undefined.
 */
export type Metrics = Record<string, number>

export interface Scenario {
  /** A short key: `idle`, `fan-out`, … (also what `--only` takes). */
  key: string
  /** The heading of its rows in the table, sizes included. */
  title: (sizes: Sizes) => string
  run: (context: ScenarioContext) => Promise<Metrics | undefined>
}

/** The stepstream store every SQLite scenario uses: a fresh file per server start. */
export function sqliteStore(context: ScenarioContext, name: string): string {
  return `sqlite:${context.workDir}/${name}-${context.target.name}-${Date.now()}.db`
}
