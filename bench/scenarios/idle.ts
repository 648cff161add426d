import { createSessions, streamPath } from '../api.ts'
import { startLoad } from '../load-pool.ts'
import { startServer, type RunningServer } from '../server-process.ts'
import { medianMetrics } from '../report.ts'
import { type Metrics, type Scenario, type ScenarioContext, sqliteStore } from './scenario.ts'

/**
 * Idle: N open streams, one per session (one browser tab each), nothing happening. Measures what an open stream
 * costs the server in memory: (RSS with the streams open − RSS before) / streams. The sessions exist before the
 * first reading, and a small warm-up batch of streams opens and closes first, so one-time costs (compiling the
 * stream code path, first allocations) are not charged to the connections.
 */
export const idle: Scenario = {
  key: 'idle',
  title: (s) => `idle (${s.idleStreams.toLocaleString('en')} open streams, ${s.idleRounds} server starts)`,
  /**
   * The per-stream figure moved by 1–2 KiB between runs of one build (RSS depends on where the allocator's pages
   * fall): each round is a fresh server, and the spread over the rounds is reported beside their median.
   */
  async run(context) {
    const rounds: Metrics[] = []
    for (let i = 0; i < context.sizes.idleRounds; i++) rounds.push(await idleRound(context))
    const perStream = rounds.map((r) => r.rssPerConnKiB!)
    return {
      ...medianMetrics(rounds),
      rssPerConnMinKiB: Math.min(...perStream),
      rssPerConnMaxKiB: Math.max(...perStream),
    }
  },
}

/** One server start: N idle streams opened after a warm-up, and the RSS they added. */
async function idleRound(context: ScenarioContext): Promise<Metrics> {
  const n = context.sizes.idleStreams
  const server = await startServer(context.target, { echoDelayMs: 50, store: sqliteStore(context, 'idle') })
  try {
    const ids = await createSessions(server, n)
    const warmUp = startLoad({
      host: server.host,
      port: server.port,
      paths: ids.slice(0, Math.max(1, Math.min(100, n / 10))).map(streamPath),
      until: 'hold',
      deadlineMs: 30_000,
    })
    await warmUp.opened
    await warmUp.close()
    const before = await settledRss(server)
    const load = startLoad({ host: server.host, port: server.port, paths: ids.map(streamPath), until: 'hold', deadlineMs: 300_000 })
    const { opened, failed } = await load.opened
    const after = await settledRss(server)
    const client = await load.close()
    return {
      rssPerConnKiB: opened > 0 ? (after - before) / opened : Number.NaN,
      rssBeforeMiB: before / 1024,
      rssAfterMiB: after / 1024,
      opened,
      failed,
      clientCpuPercent: client.maxWorkerCpuPercent,
    }
  } finally {
    await server.stop()
  }
}

/** RSS once it stops moving: read every 250 ms until two readings agree within 0.5%, at most 5 s; KiB. */
async function settledRss(server: RunningServer): Promise<number> {
  let last = server.rssKiB()
  for (let i = 0; i < 20; i++) {
    await Bun.sleep(250)
    const now = server.rssKiB()
    if (Math.abs(now - last) <= last * 0.005) return now
    last = now
  }
  return last
}
