import { measureManyRuns } from './many-runs.ts'
import { type Metrics, type Scenario, sqliteStore } from './scenario.ts'

/** The load: 200 runs at 50 tokens/s, one viewer each, is 10,000 events/s. */
export const PER_EVENT_SESSIONS = 200

/**
 * What one event costs at the load (200 runs × 1 viewer at 50 tokens/s = 10,000 events/s): the server's CPU
 * per delivered event, delivery p99 and the worst delivery delay, on memory and on SQLite. The baseline runs the
 * same load twice too: with its events in memory, and writing one autocommit INSERT per event into SQLite
 * (baseline.ts `--store`), so each store is compared with raw Bun doing the same durable work naively. Keys end in
 * `Memory` or `Sqlite`, the same on both servers, so every row compares like with like.
 */
export const perEvent: Scenario = {
  key: 'per-event',
  title: (s) =>
    `per event (${s.perEventSessions.toLocaleString('en')} runs × 1 viewer × ${s.perEventChars} chars at 50 tokens/s = ${(s.perEventSessions * 50).toLocaleString('en')} events/s)`,
  async run(context) {
    const { perEventSessions: sessions, perEventChars: chars } = context.sizes
    // SQLite first on stepstream, memory first on the baseline: neither store always runs on the warmer machine.
    const stores = context.target.name === 'stepstream' ? (['Sqlite', 'Memory'] as const) : (['Memory', 'Sqlite'] as const)
    const measured = new Map<string, Metrics>()
    for (const store of stores) {
      const where = store === 'Memory' ? 'memory' : sqliteStore(context, 'per-event')
      measured.set(store, await measureManyRuns(context, sessions, chars, where, true))
    }
    const out: Metrics = { failed: 0, events: 0, expectedEvents: 0 }
    for (const [store, m] of measured) {
      for (const key of ['cpuPerEventUs', 'p50Ms', 'p99Ms', 'maxMs', 'pacePercent', 'runPaceP5', 'serverCpuPercent', 'clientCpuPercent'])
        out[`${key}${store}`] = m[key]!
      // Added up so the warnings under the table cover both loads.
      out.failed! += m.failed!
      out.events! += m.events!
      out.expectedEvents! += m.expectedEvents!
    }
    return out
  },
}
