import { request } from './http-client.ts'
import type { RunningServer } from './server-process.ts'
import type { Metrics } from './scenarios/scenario.ts'

/** What the issue calls a stall of the event loop; milliseconds. */
export const STALL_MS = 5

const SERIES = 'stepstream_event_loop_lag_seconds'

/** The cumulative buckets (upper bound in seconds → count) and the max gauge of one scrape. */
interface LagScrape {
  buckets: Map<number, number>
  maxSeconds: number
}

/** Reads stepstream's event-loop lag from `/metrics`; undefined for a server without it (the baseline). */
async function scrapeLag(server: RunningServer): Promise<LagScrape | undefined> {
  const response = await request(server.host, server.port, 'GET', '/metrics')
  if (response.status !== 200) return undefined
  const buckets = new Map<number, number>()
  for (const [, le, value] of response.body.matchAll(new RegExp(`^${SERIES}_bucket\\{le="([^"]+)"\\} (\\S+)$`, 'gm'))) {
    buckets.set(le === '+Inf' ? Number.POSITIVE_INFINITY : Number(le), Number(value))
  }
  if (buckets.size === 0) return undefined
  const max = /^stepstream_event_loop_lag_max_seconds (\S+)$/m.exec(response.body)
  return { buckets, maxSeconds: Number(max?.[1] ?? 0) }
}

/**
 * Watches the server's event loop over a load: `start()` before it, `stop()` after. The server samples its loop
 * every 2 ms (src/event-loop-lag.ts); the difference of two scrapes gives the samples of the load alone: the p99
 * (a bucket's upper bound), the max (exact when the load set a new max, else its bucket's bound) and how many
 * samples were over 5 ms. Empty metrics for the baseline, which does not sample its loop.
 */
export async function watchLoopLag(server: RunningServer): Promise<{ stop(): Promise<Metrics> }> {
  const before = await scrapeLag(server)
  return {
    async stop() {
      const after = await scrapeLag(server)
      const none: Metrics = {}
      if (!before || !after) return none
      const bounds = [...after.buckets.keys()].sort((a, b) => a - b)
      const inWindow = bounds.map((le) => (after.buckets.get(le) ?? 0) - (before.buckets.get(le) ?? 0))
      const samples = inWindow.at(-1) ?? 0
      const atStall = inWindow[bounds.indexOf(STALL_MS / 1000)] ?? samples
      const p99 = bounds[inWindow.findIndex((cumulative) => cumulative >= samples * 0.99)] ?? 0
      const highest = bounds[inWindow.indexOf(samples)] ?? 0
      const maxSeconds = after.maxSeconds > before.maxSeconds ? after.maxSeconds : highest
      return {
        loopLagP99Ms: p99 * 1000,
        loopLagMaxMs: Math.min(maxSeconds, after.maxSeconds) * 1000,
        loopStalls: samples - atStall,
      }
    },
  }
}
