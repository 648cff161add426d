import { createSessions, postMessage, streamPath } from '../api.ts'
import { mapLimit } from '../http-client.ts'
import { max, percentile } from '../histogram.ts'
import { startLoad } from '../load-pool.ts'
import { watchLoopLag } from '../loop-lag.ts'
import { startServer } from '../server-process.ts'
import { proseOf } from '../text.ts'
import { sqliteStore, type Metrics, type Scenario, type ScenarioContext } from './scenario.ts'

/** The pace of every run: one token every 20 ms is 50 tokens per second. */
const ECHO_DELAY_MS = 20

/** What the runs would store per second at exactly 50 tokens/s: one event per character plus user, start, final. */
function offeredPerSec(sessions: number, chars: number): number {
  return (sessions * (chars + 3)) / ((chars * ECHO_DELAY_MS) / 1000)
}

/**
 * The pace each run kept, from the first partial's `ts` to the final's: (partials − 1) × 20 ms over what it took;
 * percent, for the median run and for the slowest 5%, and how far apart the runs started; seconds. The share of the
 * offered rate over the whole window (`pacePercent`) also counts the time the load client takes to post 1,000
 * messages, 64 at a time, which stretches the window without any run going slower.
 */
function runPaces(runs: [number, number, number][]): { runPaceP50: number; runPaceP5: number; startSpreadS: number } {
  if (runs.length === 0) return { runPaceP50: 0, runPaceP5: 0, startSpreadS: 0 }
  const kept = runs
    .map(([first, last, partials]) => (last > first ? Math.min(100, (((partials - 1) * ECHO_DELAY_MS) / (last - first)) * 100) : 100))
    .sort((a, b) => a - b)
  const starts = runs.map(([first]) => first)
  return {
    runPaceP50: kept[Math.floor(kept.length / 2)]!,
    runPaceP5: kept[Math.floor(kept.length * 0.05)]!,
    startSpreadS: (Math.max(...starts) - Math.min(...starts)) / 1000,
  }
}

/**
 * One many-runs load: `sessions` runs of `chars` characters at 50 tokens/s, one viewer each, on `store`
 * (`durableBaseline`: the baseline writes one INSERT per event into it too; default false).
 */
export async function measureManyRuns(
  context: ScenarioContext,
  sessions: number,
  chars: number,
  store: string,
  durableBaseline = false,
): Promise<Metrics> {
  const server = await startServer(context.target, { echoDelayMs: ECHO_DELAY_MS, store, durableBaseline })
  try {
    const ids = await createSessions(server, sessions)
    const load = startLoad({ host: server.host, port: server.port, paths: ids.map(streamPath), until: 'final', deadlineMs: 300_000 })
    await load.opened
    const loop = await watchLoopLag(server)
    const cpuBefore = server.cpuSeconds()
    const startedAt = Date.now()
    const text = proseOf(chars)
    await mapLimit(ids, 64, (id) => postMessage(server, id, text))
    const result = await load.done
    const cpuSeconds = server.cpuSeconds() - cpuBefore
    const seconds = (result.lastReceivedAt - result.firstTs) / 1000
    const persistedPerSec = result.events / seconds
    return {
      p50Ms: percentile(result.latency, 0.5),
      p99Ms: percentile(result.latency, 0.99),
      maxMs: max(result.latency),
      persistedPerSec,
      // Latency counts from each event's `ts`, so a server that falls behind the 50 tokens/s pace (its step emits
      // late) can still show low latency: this says how much of the offered rate it actually sustained.
      pacePercent: (persistedPerSec / offeredPerSec(sessions, chars)) * 100,
      ...runPaces(result.runs),
      serverCpuPercent: (cpuSeconds / ((Date.now() - startedAt) / 1000)) * 100,
      // From the first message posted to the last event read: posting, running and delivering, over what arrived.
      cpuPerEventUs: result.events > 0 ? (cpuSeconds / result.events) * 1e6 : Number.NaN,
      ...(await loop.stop()),
      events: result.events,
      expectedEvents: sessions * (chars + 3),
      failed: result.failed,
      clientCpuPercent: result.maxWorkerCpuPercent,
    }
  } finally {
    await server.stop()
  }
}

/**
 * Many runs: S sessions each answering at 50 tokens/s at the same time, one viewer each, stepstream on its SQLite
 * store (every event is a durable row before anyone sees it). Measures token delivery latency, events persisted
 * per second (each session's one viewer receives every event its session stored), the server's CPU and its event
 * loop's lag. stepstream then runs the same load on `--store memory`: durability's cost is SQLite's p99 over that
 * one (`p99MsMemory`, `pacePercentMemory`, `runPaceP5Memory`, `loopStallsMemory`).
 */
export const manyRuns: Scenario = {
  key: 'many-runs',
  title: (s) => `many runs (${s.manyRunsSessions.toLocaleString('en')} sessions × ${s.manyRunsChars} chars at 50 tokens/s, SQLite)`,
  async run(context) {
    const { manyRunsSessions: sessions, manyRunsChars: chars } = context.sizes
    const durable = await measureManyRuns(context, sessions, chars, sqliteStore(context, 'many-runs'))
    if (context.target.name === 'baseline') return durable
    const memory = await measureManyRuns(context, sessions, chars, 'memory')
    return {
      ...durable,
      p99MsMemory: memory.p99Ms!,
      pacePercentMemory: memory.pacePercent!,
      runPaceP5Memory: memory.runPaceP5!,
      loopStallsMemory: memory.loopStalls ?? 0,
      // Counted with the SQLite run's so the warnings under the table cover both loads.
      failed: durable.failed! + memory.failed!,
      events: durable.events! + memory.events!,
      expectedEvents: durable.expectedEvents! + memory.expectedEvents!,
    }
  },
}
