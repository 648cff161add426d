import { startServer } from '../server-process.ts'
import { type Metrics, type Scenario, type ScenarioContext, sqliteStore } from './scenario.ts'

/**
 * Idle CPU: a server with no connections, nothing to do. Each server starts, is asked `GET /healthz` until it answers
 * (start-up work runs), settles, and its CPU (utime + stime of `/proc/<pid>/stat`) is read over a quiet window.
 * stepstream runs on memory and on SQLite side by side (idle, they do not disturb each other); the baseline once.
 * The settle covers stepstream's event-loop-lag sampler, which parks 5 s after the last request
 * (`LAG_IDLE_AFTER_MS`, src/event-loop-lag.ts). The kernel counts CPU in 10 ms ticks: over a 20 s window one tick is
 * 0.05% of a core, and a single window on a shared machine is a coarse figure (bench/idle-cpu.ts breaks it down).
 */
export const idleCpu: Scenario = {
  key: 'idle-cpu',
  title: (s) => `idle CPU (no connections, ${s.idleCpuSettleS} s settle, ${s.idleCpuWindowS} s window, one sample)`,
  async run(context) {
    const stores =
      context.target.name === 'stepstream' ? { Memory: 'memory', Sqlite: sqliteStore(context, 'idle-cpu') } : { Memory: 'memory' }
    const samples = await Promise.all(
      Object.entries(stores).map(async ([name, store]) => [name, await idleCpuPercent(context, store)] as const),
    )
    return Object.fromEntries(samples.map(([name, percent]) => [`cpuPercent${name}`, percent])) as Metrics
  },
}

/** One server started on `store`, settled, then its CPU over the window; percent of one core. */
async function idleCpuPercent(context: ScenarioContext, store: string): Promise<number> {
  const server = await startServer(context.target, { echoDelayMs: 50, store })
  try {
    await Bun.sleep(context.sizes.idleCpuSettleS * 1000)
    const cpu0 = server.cpuSeconds()
    const t0 = performance.now()
    await Bun.sleep(context.sizes.idleCpuWindowS * 1000)
    return ((server.cpuSeconds() - cpu0) / ((performance.now() - t0) / 1000)) * 100
  } finally {
    await server.stop()
  }
}
