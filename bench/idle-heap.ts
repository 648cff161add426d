/**
 * Diagnostic: what one idle stream holds on the JS heap. Runs stepstream in this process (createServer, a SQLite
 * store in a temporary folder, the bench's limits lifted), opens N idle JSON streams from a load worker process, and
 * prints the heap and RSS growth per stream and the object types whose count grew most (`bun:jsc` heapStats, after
 * a full GC before and after). The idle scenario of `bun run bench` measures RSS only; this says where it goes.
 *
 *   bun bench/idle-heap.ts [--streams 10000] [--top 25] [--store sqlite|memory]
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { heapStats } from 'bun:jsc'
import { createServer } from '../src/create-server.ts'
import { silentLogger } from '../src/log.ts'
import { SqliteStore } from '../src/store/sqlite-store.ts'
import { createSessions, streamPath } from './api.ts'
import { startLoad } from './load-pool.ts'
import { HOST, type RunningServer } from './server-process.ts'

const { values } = parseArgs({
  args: process.argv.slice(2),
  options: {
    streams: { type: 'string', default: '10000' },
    top: { type: 'string', default: '25' },
    store: { type: 'string', default: 'sqlite' },
  },
})
const n = Number(values.streams)
const dir = mkdtempSync(join(tmpdir(), 'stepstream-idle-heap-'))
const server = await createServer({
  store: process.env.MEM ? undefined : new SqliteStore(join(dir, 'idle.db')),
  log: silentLogger,
  connections: { max: 1_000_000, maxPerIp: 1_000_000 },
  rateLimit: false,
})
const url = new URL(server.listen({ port: 0, hostname: HOST }))
const rss = () => process.memoryUsage().rss / 1024
const target = { name: 'stepstream', host: HOST, port: Number(url.port) } as RunningServer
const ids = await createSessions(target, n)

const warmUp = startLoad({ host: HOST, port: target.port, paths: ids.slice(0, 100).map(streamPath), until: 'hold', deadlineMs: 30_000 })
await warmUp.opened
await warmUp.close()
await settle()
const before = heapStats()
const rssBefore = rss()
const load = startLoad({ host: HOST, port: target.port, paths: ids.map(streamPath), until: 'hold', deadlineMs: 300_000 })
const { opened } = await load.opened
await settle()
const after = heapStats()
const rssAfter = rss()
await load.close()
await server.stop()
rmSync(dir, { recursive: true, force: true })

const grown = Object.entries(after.objectTypeCounts)
  .map(([type, count]) => [type, (count - (before.objectTypeCounts[type] ?? 0)) / opened] as const)
  .filter(([, perStream]) => perStream >= 0.5)
  .sort((a, b) => b[1] - a[1])
  .slice(0, Number(values.top))
const kib = (bytes: number) => (bytes / 1024 / opened).toFixed(2)
process.stdout.write(
  `${[
    `${opened} idle streams: RSS +${((rssAfter - rssBefore) / opened).toFixed(2)} KiB/stream, heap +${kib(after.heapSize - before.heapSize)} KiB/stream, objects +${((after.objectCount - before.objectCount) / opened).toFixed(1)}/stream`,
    'objects per stream, by type:',
    ...grown.map(([type, perStream]) => `  ${perStream.toFixed(2).padStart(6)}  ${type}`),
  ].join('\n')}\n`,
)
process.exit(0)

/** Two full collections and a pause, so that what is left is what the streams hold. */
async function settle() {
  for (let i = 0; i < 2; i++) {
    Bun.gc(true)
    await Bun.sleep(500)
  }
}
