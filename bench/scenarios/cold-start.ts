import { startServer } from '../server-process.ts'
import { sqliteStore, type Scenario } from './scenario.ts'

/**
 * Cold start: from spawning the executable to its first 200 answer (`GET /healthz`), on a fresh SQLite file each
 * time, so opening and migrating the database is part of it, as on a first deploy.
 */
export const coldStart: Scenario = {
  key: 'cold-start',
  title: (s) => `cold start (median of ${s.coldStarts})`,
  async run(context) {
    const times: number[] = []
    for (let i = 0; i < context.sizes.coldStarts; i++) {
      const server = await startServer(context.target, { echoDelayMs: 50, store: sqliteStore(context, `cold-${i}`) })
      times.push(server.startupMs)
      await server.stop()
    }
    times.sort((a, b) => a - b)
    return { medianMs: times[Math.floor((times.length - 1) / 2)]!, minMs: times[0]!, maxMs: times.at(-1)! }
  },
}
