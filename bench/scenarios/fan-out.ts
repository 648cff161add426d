import { createSessions, postMessage, streamPath } from '../api.ts'
import { percentile } from '../histogram.ts'
import { startLoad } from '../load-pool.ts'
import { watchLoopLag } from '../loop-lag.ts'
import { startServer } from '../server-process.ts'
import { proseOf } from '../text.ts'
import { sqliteStore, type Scenario } from './scenario.ts'

/**
 * Fan-out: V viewers on one session, fed as fast as the server goes. The feeder is the server's own echo step at
 * `--echo-delay 0` answering one long message: each event still waits for a `setTimeout(0)` turn, so production
 * slows down by itself when the event loop is busy delivering, and both servers pay the same feeder cost.
 * Measures delivered events per second (every viewer's events, from the first event's `ts` to the last receive)
 * and delivery latency of every event.
 */
export const fanOut: Scenario = {
  key: 'fan-out',
  title: (s) => `fan-out (${s.fanOutViewers.toLocaleString('en')} viewers × ${s.fanOutChars.toLocaleString('en')} chars, echo delay 0)`,
  async run(context) {
    const { fanOutViewers: viewers, fanOutChars: chars, fanOutLoadWorkers: workers } = context.sizes
    const server = await startServer(context.target, { echoDelayMs: 0, store: sqliteStore(context, 'fan-out') })
    try {
      const [id] = await createSessions(server, 1)
      const load = startLoad({
        host: server.host,
        port: server.port,
        paths: Array.from({ length: viewers }, () => streamPath(id!)),
        perWorker: Math.ceil(viewers / workers),
        until: 'final',
        deadlineMs: 300_000,
      })
      await load.opened
      const loop = await watchLoopLag(server)
      const cpuBefore = server.cpuSeconds()
      await postMessage(server, id!, proseOf(chars))
      const result = await load.done
      const seconds = (result.lastReceivedAt - result.firstTs) / 1000
      return {
        eventsPerSec: result.events / seconds,
        p50Ms: percentile(result.latency, 0.5),
        p99Ms: percentile(result.latency, 0.99),
        events: result.events,
        expectedEvents: viewers * (chars + 3),
        serverCpuPercent: ((server.cpuSeconds() - cpuBefore) / seconds) * 100,
        ...(await loop.stop()),
        failed: result.failed,
        clientCpuPercent: result.maxWorkerCpuPercent,
        loadWorkers: result.workers,
      }
    } finally {
      await server.stop()
    }
  },
}
